"""The style map on a page: its settings as the visitor left them, the chart with its
selection gallery, a first layout on request, and the real covers' stored map."""
from __future__ import annotations

import streamlit as st

import ui
from cover_model import public_mode
from cover_model.config import from_dict
from cover_model.curation.style_map import (
    StyleMapConfig,
    check_size,
    map_figure,
    selected_rows,
    stored_map,
    style_map,
)
from cover_model.data.dataset import Dataset
from ui_widgets import session_values

GALLERY = 24            # covers shown for a selection on the style map
KEYS = "style_map"      # key prefix of the Style map page's settings widgets


def settings():
    """The Style map page's settings as this session left them (its widgets persist), else
    the defaults: the Predict page places uploads on the same map."""
    try:
        return from_dict(StyleMapConfig, session_values(StyleMapConfig, key_prefix=KEYS))
    except ValueError:               # the page names the problem; here the defaults do
        return StyleMapConfig()


def chart(dataset: Dataset, smap, *, key: str, new_point=None) -> None:
    """The style map, with a box or lasso selection answered by a gallery of the selected
    covers (no recomputation: the layout comes from its disk cache)."""
    event = st.plotly_chart(map_figure(dataset, smap, new_point=new_point), width="stretch",
                            key=key, on_select="rerun", selection_mode=("box", "lasso", "points"))
    rows = selected_rows(event.selection.points) if event else []
    if not rows:
        st.caption("Drag a box or a lasso around points (or click one) to see their covers; "
                   "hovering names a cover's genre and " +
                   ("source and split." if dataset.features_only else "file."))
        return
    if dataset.features_only:                # no pictures: what the selection holds
        picked = dataset.items.iloc[rows]
        st.markdown(f"**{len(rows)} selected cover(s)**, by genre and source (features only: "
                    "no pictures)")
        st.dataframe(picked.groupby(["genre", "source"]).size().unstack(fill_value=0),
                     width="stretch")
        return
    shown = dataset.items.iloc[rows[:GALLERY]]
    more = f", the first {GALLERY} shown" if len(rows) > GALLERY else ""
    st.markdown(f"**{len(rows)} selected cover(s)**{more}")
    ui.cover_gallery(shown["path"], width=110, captions=shown["genre"])


def on_request(dataset: Dataset, cfg, *, key: str, label: str):
    """The dataset's style map: from its cache at once, else laid out when the visitor asks
    (a first layout embeds every cover, about a minute per 1,000 on CPU, so opening a page
    never starts it), within public mode's cap; None until then. Raises what
    :func:`cover_model.curation.style_map.style_map` raises (too few covers, weights missing)."""
    check_size(len(dataset), cfg)
    smap = style_map(dataset, cfg, compute=False)
    if smap is not None:
        return smap
    st.info(f"These {len(dataset):,} covers have no map with these settings yet: their "
            "embeddings (cached after the first time), then t-SNE.", icon=":material/scatter_plot:")
    too_much = public_mode.page_work_problem(len(dataset), "The style map")
    if too_much:
        st.warning(too_much, icon=":material/block:")
        return None
    if not st.button(label, key=key, type="primary"):
        return None
    bar = st.progress(0.0, text=f"Embedding {len(dataset):,} covers with {cfg.network}, "
                                "then laying them out (once per dataset and settings)...")
    smap = style_map(dataset, cfg, progress=lambda done, total: bar.progress(done / total))
    bar.empty()
    return smap


@st.cache_resource(show_spinner="Reading the real covers' map...", max_entries=1, hash_funcs=ui.CONTENT_KEYS)
def stored(dataset: Dataset):
    """The features-only dataset's stored map (its PCA refitted once per server)."""
    return stored_map(dataset)
