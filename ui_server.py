"""Start the Streamlit server with the process settings and the heavy libraries in place.

``python -m cover_model dashboard`` runs this file, and so does the container (its
command is that one). By then ``python -m cover_model`` has restarted itself with
the allocator tunables and the passive OpenMP wait policy
(:mod:`cover_model.runtime`: torch on CPU is about 3x faster with them); glibc reads
``GLIBC_TUNABLES`` only when a process starts, so they cannot be set from here.

This file then imports torch, scikit-learn and the package (about 3 s on an idle
2-core machine, over 10 s on a busy one). Streamlit runs every page in this one
process, so the first visitor's first render of Predict is the page itself, not the
imports.

``streamlit run app.py`` (how some hosts start an app) skips this file: the app
works the same, but its first visitor waits for the imports, and torch runs with
glibc's default allocator unless the host's environment sets the tunables
(docs/hosting.md lists the variables).
"""
import sys

from cover_model.runtime import check_process_settings


def serve(argv: list[str]) -> int:
    """``streamlit run`` with ``argv``: the app script, then streamlit's flags."""
    from streamlit.web import cli as streamlit_cli

    import ui  # noqa: F401  (torch, scikit-learn, cover_model: the slow first import)
    sys.argv = ["streamlit", "run", *argv]
    return streamlit_cli.main()


if __name__ == "__main__":
    check_process_settings()
    sys.exit(serve(sys.argv[1:]))
