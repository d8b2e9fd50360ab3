"""Style map: the sidebar's covers laid out by how alike an ImageNet network sees them."""
import functools

import streamlit as st

import ui
import ui_style_map
from cover_model.baselines.specs import FeatureError
from cover_model.curation.style_map import StyleMapConfig
from cover_model.public_mode import visitor_message
from ui_widgets import checked_config, config_widget

widget = functools.partial(config_widget, StyleMapConfig, key_prefix=ui_style_map.KEYS)


def settings_sidebar() -> StyleMapConfig | None:
    """Ranges, choices, defaults and help come from StyleMapConfig."""
    with st.sidebar:
        st.subheader("Style map")
        values = {"network": widget("network"), "perplexity": widget("perplexity"),
                  "pca_dims": widget("pca_dims", label="PCA components"),
                  "max_iter": widget("max_iter", label="Iterations"), "seed": widget("seed")}
    return checked_config(StyleMapConfig, values)


def stored_layout(dataset) -> None:
    """The real covers' map as the pack stores it: no settings, nothing to compute."""
    info = dataset.stored.info["extractor"]
    st.caption(f"Each point is one of the {len(dataset):,} real covers, placed by t-SNE (perplexity "
               f"30, 500 iterations, PCA 50 first) from the shipped model's features "
               f"({info['arch']} at {info['input_px']} px, {info['pooling']} pooling): covers close "
               "together look alike to the model. The layout is stored in the features pack; "
               "the covers are not (numbers only). Predict places an uploaded cover on it.")
    ui_style_map.chart(dataset, ui_style_map.stored(dataset), key="style_map_chart")


dataset = ui.current_dataset()
st.title("Style map")
if dataset.features_only:
    stored_layout(dataset)
    st.stop()
cfg = settings_sidebar()
ui.synthetic_notice()
st.caption("Each point is a cover, placed by t-SNE from its ImageNet features (the network's "
           "pooled embedding, PCA first): covers close together look alike to the network. "
           "Clusters and neighbours mean something; distances between far clusters do not. "
           "See docs/style-map.md.")
if cfg is None:
    st.stop()
try:
    smap = ui_style_map.on_request(dataset, cfg, key="style_map_build",
                                   label=f"Lay out {len(dataset):,} covers")
except (ValueError, FeatureError) as exc:
    st.error(f"Cannot draw the map: {visitor_message(str(exc))}", icon=":material/tune:")
    st.stop()
if smap is None:
    st.stop()
st.caption(f"{len(smap):,} covers · {cfg.network} · PCA {cfg.pca_dims or 'off'} · perplexity "
           f"{cfg.perplexity:g} · seed {cfg.seed} · laid out in {smap.seconds:.1f} s (cached)")
ui_style_map.chart(dataset, smap, key="style_map_chart")
