"""Overview: what the project is, and the latest report (the whole study on one dataset)."""
import streamlit as st

from cover_model.report import find_reports, report_blocks, report_roots

st.title("Cover Genre Lab")
st.markdown(
    "Predict an album's musical genre from its cover art. This lab reproduces, and then goes "
    "past, *Predicting Musical Genre from Album Cover Art* (Lee & Baraldi, CSE 546): colour "
    "histogram analysis, scikit-learn baselines, a small CNN, AlexNet and ImageNet transfer "
    "learning over 10 genres: ambient, dubstep, folk, hiphop/rap, jazz, metal, pop, punk, "
    "rock and soul.")
st.markdown(
    "The paper's best networks reached about **18-19% test accuracy** on its 10 balanced "
    "genres (chance is 10%); metal was the easiest genre (35-47%), rock and jazz the hardest.")
st.subheader("Start here")
st.markdown(
    "- **Dataset**: browse the covers, their class balance and splits.\n"
    "- Pick another dataset in the sidebar: a folder `root/<genre>/*.jpg`, a manifest CSV or a zip.")

st.subheader("The report")
reports = find_reports()
if not reports:
    st.info("No report yet. Generate one from the command line (it runs the colour analysis, "
            "Tables 1-4 and the best model; a report is shown here when it is written):\n\n"
            "```\npython -m cover_model report --data DATA --out reports/NAME\n"
            "python -m cover_model report --quick --out reports/smoke   # about a minute\n```\n\n"
            "Reports are looked for in: " + ", ".join(f"`{root}`" for root in report_roots()) +
            " (set `COVER_LAB_REPORTS` to add a folder).")
    st.stop()

report_dir = st.selectbox("Report", reports, key="overview_report", format_func=lambda p: p.name,
                          help="Every folder holding a report.md, newest first.")
st.caption(f"From `{report_dir}`; the tables' CSV files download from the buttons under each table.")
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
