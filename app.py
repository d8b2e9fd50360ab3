"""Cover Genre Lab dashboard: ``python -m cover_model dashboard`` (or ``make demo``).

The entry point routes and frames the pages: page config, navigation, the shared sidebar
(the dataset choice) and the error boundary (no traceback reaches a visitor in public
mode). Pages are thin views over cover_model.
"""
import streamlit as st

from cover_model import public_mode
from cover_model.runtime import check_process_settings

check_process_settings()     # `streamlit run app.py` skips the CLI's settings: say so, once
import ui  # noqa: E402  (after the OpenMP policy is set: torch reads it on import)
import ui_navigation  # noqa: E402

ui_navigation.keep_page_switches()   # a click during an upload is not lost (docs/hosting.md)


def hide_error_details() -> None:
    """In public mode, Streamlit's own error box (for an error inside a fragment, which
    the app's boundary does not see) shows no traceback either."""
    if public_mode.is_public():
        st.set_option("client.showErrorDetails", "none")


def show_error(exc: Exception, *, where: str = "") -> None:
    """The page failed: a short message with an id for the visitor; the traceback goes
    to the server log (and, for a local user, below the message)."""
    error_id = public_mode.log_error(exc, where)
    st.error(f"Something went wrong on this page (error id `{error_id}`). It is in the "
             "server's log under that id; try again, or go back a step.", icon=":material/error:")
    if not public_mode.is_public():
        st.exception(exc)


st.set_page_config(page_title="Cover Genre Lab", page_icon=":material/album:", layout="wide")

page = st.navigation({
    "Explore": [
        st.Page("app_pages/overview.py", title="Overview", icon=":material/home:", default=True),
        st.Page("app_pages/dataset.py", title="Dataset", icon=":material/photo_library:"),
        st.Page("app_pages/color.py", title="Colour analysis", icon=":material/palette:"),
        st.Page("app_pages/style_map.py", title="Style map", icon=":material/scatter_plot:"),
    ],
    "Models": [
        st.Page("app_pages/baselines.py", title="Baselines", icon=":material/table_chart:"),
        st.Page("app_pages/train.py", title="Train", icon=":material/model_training:"),
        st.Page("app_pages/results.py", title="Results", icon=":material/leaderboard:"),
        st.Page("app_pages/predict.py", title="Predict", icon=":material/auto_awesome:"),
        st.Page("app_pages/challenge.py", title="You vs the model", icon=":material/sports_esports:"),
    ],
})
hide_error_details()
try:
    ui.visitor_id()             # into the URL on every page, so a reload keeps the visitor's jobs
    ui.dataset_sidebar()
    page.run()
except Exception as exc:        # st.stop and st.rerun are not Exceptions: they pass through
    show_error(exc, where=page.title)
