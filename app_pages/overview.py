"""Overview: what the project is, the shipped real-covers study, and any report of your own."""
import streamlit as st

from cover_model import public_mode
from cover_model.report import SHIPPED_STUDY, find_reports, report_blocks, report_roots

st.title("Cover Genre Lab")
st.markdown(
    "Predict an album's musical genre from its cover art. This lab reproduces, and then goes "
    "past, *Predicting Musical Genre from Album Cover Art* (Lee & Baraldi, CSE 546): colour "
    "histogram analysis, scikit-learn baselines, a small CNN, AlexNet and ImageNet transfer "
    "learning. The paper's best networks reached about **18-19% test accuracy** on its 10 "
    "balanced Bandcamp genres (chance is 10%).")
st.page_link("app_pages/predict.py", icon=":material/auto_awesome:",
              label="Upload a cover on Predict: a model trained on real covers answers at once")

st.subheader("The real-covers study")
st.markdown(
    "The whole study, run on **4,979 real album covers** in 9 genres (classical, country, "
    "electronic, hiphop, jazz, metal, pop, reggae, rock) from two public sources: Discogs "
    "release scans and Spotify album art, split so that no artist is in two splits. The "
    "covers themselves have no licence, so none is shown or shipped here: only the numbers "
    "and figures derived from them (mean covers are averages of 50 covers).")
with st.expander("Make the same study on your own covers"):
    st.markdown(
        "Any labelled covers work: a folder `root/<genre>/*.jpg`, a manifest CSV "
        "(`path, genre[, group, split]`) or a zip of either.\n\n"
        "```\npython -m cover_model report --data DATA --out reports/NAME   # about an hour "
        "for 5,000 covers on 2 cores\npython -m cover_model report --quick --out reports/smoke"
        "   # about a minute, on the synthetic covers\n```\n\n"
        "Reports are looked for in " +
        ", ".join(f"`{public_mode.visitor_message(str(root))}`" for root in report_roots()) +
        " (set `COVER_LAB_REPORTS` to add a folder) and appear in the list below.")

reports = find_reports()
shipped = [r for r in reports if r == SHIPPED_STUDY.resolve()]
reports = shipped + [r for r in reports if r not in shipped]
if not reports:
    st.info("No report found: the shipped study is missing from this checkout, and no report "
            "of your own has been written yet. Make one with\n\n"
            "```\npython -m cover_model report --data DATA --out reports/NAME\n```")
    st.stop()
names = {r: "The real-covers study (shipped)" if r in shipped else f"Your report: {r.name}"
         for r in reports}
report_dir = st.selectbox("Report", reports, key="overview_report", format_func=names.get,
                          help="The shipped study first, then your own reports, newest first.")
st.caption("The tables' CSV files download from the buttons under each table.")
for i, block in enumerate(report_blocks(report_dir)):
    if block.kind == "markdown":
        st.markdown(block.text)
    elif block.kind == "image":
        st.image(str(block.paths[0]), caption=block.text)
    else:
        for j, path in enumerate(block.paths):
            st.download_button(f"{path.name}", path.read_bytes(), file_name=path.name,
                               key=f"overview_download_{i}_{j}", on_click="ignore",
                               icon=":material/download:")
