"""``python -m cover_model <command>``: see ``--help``."""
import sys

from cover_model.runtime import reexec_with_tuned_allocator

if __name__ == "__main__":
    reexec_with_tuned_allocator("cover_model", sys.argv[1:])
    from cover_model.cli import main
    sys.exit(main())
