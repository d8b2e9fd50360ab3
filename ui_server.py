"""Start the Streamlit server with the heavy libraries already imported.

``python -m cover_model dashboard`` runs this file. Streamlit runs every page in
this one process, so importing torch, scikit-learn and the package here (about 3 s
on an idle 2-core machine, over 10 s on a busy one) spares the first visitor that
wait: the first render of Predict is the page itself, not the imports.
"""
import sys

import ui  # noqa: F401  (torch, scikit-learn, cover_model: the slow first import)
from streamlit.web import cli as streamlit_cli

if __name__ == "__main__":
    sys.argv = ["streamlit", "run", *sys.argv[1:]]
    sys.exit(streamlit_cli.main())
