"""``python -m cover_model <command>``: see ``--help``."""
import sys

from .cli import main  # light: a command imports its own libraries
from .runtime import reexec_with_tuned_allocator

if __name__ == "__main__":
    reexec_with_tuned_allocator("cover_model", sys.argv[1:])
    sys.exit(main())
