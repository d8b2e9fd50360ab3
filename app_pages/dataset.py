"""Dataset: counts per genre and split, skipped files, and a sample of covers."""
import streamlit as st

import ui
from cover_model.curation.leaks import MAX_DHASH_BITS, MAX_PHASH_BITS, check_leaks, fixed_dataset
from cover_model.data.dataset_needs import dataset_limits
from cover_model.markdown_text import code_span, escape
from cover_model.plots import class_balance_figure
from cover_model.public_mode import visitor_message

THUMB_PX = 120
AUTO_CHECK_COVERS = 2_000        # hashed at once (about 3 s on 2 cores); more waits for a click
EXAMPLE_PAIRS = 4                # shown as thumbnails, cross-genre and cross-split first


@ui.cached(show_spinner="Hashing covers and comparing them...", max_entries=8)
def leak_report(dataset):
    return check_leaks(dataset)


dataset = ui.current_dataset()
st.title("Dataset")
ui.synthetic_notice()
if dataset.features_only:
    st.caption("The real covers behind the shipped model, as the features pack holds them: genre, "
               "source, split and artist of each cover, and numbers derived from it.")

counts = dataset.counts()
left, middle, right = st.columns(3)
left.metric("Covers", f"{len(dataset):,}")
middle.metric("Genres", dataset.n_classes)
right.metric("Skipped files", len(dataset.skipped))
st.caption(f"From {code_span(visitor_message(str(dataset.root)))} · fingerprint "
           f"`{dataset.fingerprint}` (keys every cache built from this dataset)")
for limit in dataset_limits(dataset):         # what the other pages will say, said up front
    st.info(escape(f"{limit[:1].upper()}{limit[1:]}."), icon=":material/info:")

st.subheader("Class balance")
st.plotly_chart(class_balance_figure(counts), width="stretch")
st.dataframe(counts, width="stretch", height=35 * (len(counts) + 1) + 3)

if dataset.skipped:
    with st.expander(f"{len(dataset.skipped)} file(s) skipped"):
        st.dataframe([{"file": visitor_message(dataset.relative(s.path)), "reason": visitor_message(s.reason)}
                      for s in dataset.skipped], width="stretch")

st.subheader("Sample covers")
if not ui.features_only_notice("the gallery"):
    n_per_genre = st.slider("Covers per genre", 2, 12, 6, key="dataset_sample_n")
    sample = dataset.sample(n_per_genre, seed=0)
    for genre, rows in sample.groupby("label", sort=True):
        st.markdown(f"**{escape(dataset.class_names[genre])}**")
        ui.cover_gallery(rows["path"], width=THUMB_PX)

st.subheader("Leak check")
st.caption("Near-duplicate covers (pHash and dHash within "
           f"{MAX_PHASH_BITS} and {MAX_DHASH_BITS} bits of 64): copies across splits inflate test "
           "scores, copies across genres are label conflicts. See docs/leak-check.md.")
if len(dataset) > AUTO_CHECK_COVERS and not st.session_state.get(f"leaks_{dataset.fingerprint}"):
    st.button(f"Check {len(dataset):,} covers for near-duplicates", key="leaks_run",
              on_click=lambda: st.session_state.update({f"leaks_{dataset.fingerprint}": True}))
    st.stop()
report = leak_report(dataset)
summary = report.summary()
pairs_col, groups_col, split_col, genre_col = st.columns(4)
pairs_col.metric("Near-duplicate pairs", summary["pairs"])
groups_col.metric("Groups", summary["groups"], help=f"{summary['covers_in_groups']} covers in them")
split_col.metric("Across splits", summary["cross_split_groups"], help="groups with covers in two splits")
genre_col.metric("Across genres", summary["cross_genre_groups"], help="groups with two genres")
if summary["plain_covers"]:
    st.caption(f"{summary['plain_covers']} near-flat cover(s) have no structure to hash and were not compared.")
if report.pairs.empty:
    st.success("No near-duplicate covers found.")
    st.stop()
worst = report.pairs.sort_values(["cross_genre", "cross_split", "phash"], ascending=[False, False, True])
for pair in worst.head(EXAMPLE_PAIRS).itertuples():
    rows = dataset.items.loc[[pair.a, pair.b]]
    captions = [f"{g} · {s or 'no split'} · pHash {pair.phash}, dHash {pair.dhash}"
                for g, s in zip(rows["genre"], rows["split"])]
    if dataset.features_only:                # the stored hashes, no pictures: the pair in words
        st.markdown(escape(" ↔ ".join(f"{c} ({src})" for c, src in zip(captions, rows["source"]))))
    else:
        ui.cover_gallery(rows["path"], width=THUMB_PX, captions=captions)
if dataset.features_only:                    # a fixed manifest would list no files
    st.stop()
drop = st.checkbox("Drop cross-genre copies from the fix", key="leaks_drop_cross_genre")
fixed = fixed_dataset(dataset, report, drop_cross_genre=drop)
st.download_button("Fixed manifest (CSV): duplicate groups joined, splits cleared",
                   fixed.manifest(relative_to=fixed.root).to_csv(index=False), file_name="manifest-grouped.csv",
                   help="save it beside the data (paths are relative to the dataset's folder) and "
                        "load it: a group-aware split keeps each group on one side")
