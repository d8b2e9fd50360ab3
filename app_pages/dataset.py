"""Dataset: counts per genre and split, skipped files, and a sample of covers."""
import streamlit as st

import ui
from cover_model.hosting import visitor_message
from cover_model.plots import class_balance_figure

THUMB_PX = 120

dataset = ui.current_dataset()
st.title("Dataset")
ui.synthetic_notice()

counts = dataset.counts()
left, middle, right = st.columns(3)
left.metric("Covers", f"{len(dataset):,}")
middle.metric("Genres", dataset.n_classes)
right.metric("Skipped files", len(dataset.skipped))
st.caption(visitor_message(f"From `{dataset.root}` · fingerprint `{dataset.fingerprint}` (keys every "
                           "cache built from this dataset)"))

st.subheader("Class balance")
st.plotly_chart(class_balance_figure(counts), width="stretch")
st.dataframe(counts, width="stretch", height=35 * (len(counts) + 1) + 3)

if dataset.skipped:
    with st.expander(f"{len(dataset.skipped)} file(s) skipped"):
        st.dataframe([{"file": visitor_message(dataset.relative(s.path)), "reason": visitor_message(s.reason)}
                      for s in dataset.skipped], width="stretch")

st.subheader("Sample covers")
n_per_genre = st.slider("Covers per genre", 2, 12, 6, key="dataset_sample_n")
sample = dataset.sample(n_per_genre, seed=0)
for genre, rows in sample.groupby("label", sort=True):
    st.markdown(f"**{dataset.class_names[genre]}**")
    ui.cover_gallery(rows["path"], width=THUMB_PX)
