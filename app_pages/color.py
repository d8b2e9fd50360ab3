"""Colour analysis: the paper's section 3 on the sidebar's dataset, repeated over trials."""
import dataclasses
import functools

import streamlit as st

import ui
from cover_model.color import FEATURES, METRICS, ColorConfig, run_color_analysis
from cover_model.color.figures import (
    feature_comparison_table,
    mean_covers_figure,
    metric_overview,
    metric_table,
    rank_stability_figure,
    rank_table,
    similarity_heatmap,
)
from cover_model.color.stored import COARSENED, coarser_values, fixed_settings
from cover_model.data.dataset_needs import colour_problem
from cover_model.data.feature_pack import FeaturesOnlyError
from cover_model.markdown_text import escape
from ui_widgets import checked_config, config_widget

FEATURE_LABELS = {"color": "Colour histogram (the paper)", "gradient": "Gradient histogram (HOG-like)"}
widget = functools.partial(config_widget, ColorConfig, key_prefix="color")


def settings_sidebar(dataset) -> ColorConfig | None:
    """The sidebar's settings; ranges, choices, defaults and help come from ColorConfig."""
    with st.sidebar:
        st.subheader("Colour analysis")
        values = {"feature": widget("feature", label="Feature", radio=True, format_func=FEATURE_LABELS.get),
                  "metric": widget("metric", label="Metric shown", format_func=lambda m: METRICS[m].label)}
        if dataset.features_only:
            return checked_config(ColorConfig, values | stored_settings_sidebar(dataset, values["feature"]))
        if values["feature"] == "color":
            values |= {"bins": widget("bins", label="Bins per channel"),
                       "space": widget("space", label="Colour space", format_func=str.upper)}
        else:
            values |= {"orientation_bins": widget("orientation_bins", label="Orientation bins"),
                       "grid": widget("grid", label="Grid cells per side")}
        values |= {"size_px": widget("size_px", label="Downsize to (px)"),
                   "n_per_genre": widget("n_per_genre", label="Covers per sample"),
                   "trials": widget("trials", label="Trials"),
                   "seed": widget("seed", label="Seed"),
                   "mean_cover_px": widget("mean_cover_px", label="Mean cover size (px)")}
    return checked_config(ColorConfig, values)


def stored_settings_sidebar(dataset, feature: str) -> dict:
    """Only what the stored histograms answer: a coarser grid of bins (or cells), the samples."""
    coarse = COARSENED[feature]
    label = "Bins per channel" if feature == "color" else "Grid cells per side"
    fixed = fixed_settings(dataset)
    st.caption(f"Stored histograms of covers downsized to {fixed['size_px']} px ({fixed['method']}), "
               f"{fixed['space'].upper()}, {fixed['orientation_bins']} orientations: other settings "
               "need the pictures. Coarser bins (or cells) are sums of the stored ones, exactly.")
    # Keyed apart from the pixel datasets' widgets, which offer values the stored ones cannot give.
    return fixed | {
        coarse: config_widget(ColorConfig, coarse, key_prefix="color_stored", label=label,
                              options=coarser_values(dataset, feature)),
        "n_per_genre": widget("n_per_genre", label="Covers per sample"),
        "trials": widget("trials", label="Trials"),
        "seed": widget("seed", label="Seed")}


# Keyed by what the analysis depends on (ColorConfig.cache_key): not the shown metric.
@ui.cached(show_spinner="Downsizing covers and running the trials...", max_entries=16)
def analysis_for(dataset, cfg: ColorConfig):
    return run_color_analysis(dataset, cfg)


dataset = ui.current_dataset()
cfg = settings_sidebar(dataset)
st.title("Colour analysis")
ui.synthetic_notice()
problem = colour_problem(dataset)             # two genres of two covers or more
if problem:
    st.warning(f"Cannot run the colour analysis: {escape(problem)}.", icon=":material/block:")
    st.stop()
if cfg is None:
    st.stop()
st.caption(
    f"The paper's section 3: every cover downsized to {cfg.size_px}x{cfg.size_px} ({cfg.method}), "
    f"then a {cfg.feature_label}" + (" (as stored in the real covers' features pack)"
                                     if dataset.features_only else "") +
    f". Per genre, two disjoint random samples of {cfg.n_per_genre} covers; "
    "entry (i, j) is the mean score of every cover of sample A of genre i against every cover of "
    f"sample B of genre j, so no cover meets itself on the diagonal. Repeated over {cfg.trials} trials.")
try:
    analysis = analysis_for(dataset, cfg)
except FeaturesOnlyError as exc:              # the sidebar offers only what is stored; in case
    st.warning(f"Cannot run the colour analysis: {escape(exc)}.", icon=":material/block:")
    st.stop()
for note in analysis.notes:                   # they name genres: text, not Markdown
    st.warning(escape(note), icon=":material/info:")

st.subheader("Similarity between genres (Figure 2)")
which = st.radio("Matrix", ["Trial 1 (the paper's single draw)", f"Mean over {cfg.trials} trials"],
                 horizontal=True, key="color_matrix_trial", label_visibility="collapsed")
trial = 0 if which.startswith("Trial") else None
st.plotly_chart(similarity_heatmap(analysis, metric=cfg.metric, trial=trial), width="stretch")

st.subheader("How similar is each genre to itself? (Table 1)")
st.caption("Rank of a genre's own entry within its row: 1 = it is more similar to itself than to any "
           "other genre. The paper reported one draw, with intersection.")
st.dataframe(rank_table(analysis, metric=cfg.metric), width="stretch")
st.plotly_chart(rank_stability_figure(analysis, metric=cfg.metric), width="stretch")

with st.expander("All four metrics: mean rank of each genre to itself"):
    st.dataframe(metric_overview(analysis), width="stretch")
    st.dataframe(metric_table(), width="stretch", hide_index=True)

st.subheader("Mean cover per genre (Figure 3)")
if analysis.mean_covers is None:                  # features only: no pixels to average
    ui.features_only_notice("the mean cover per genre")
else:
    st.plotly_chart(mean_covers_figure(analysis), width="stretch")

st.subheader("Colour against gradients")
st.caption("The paper's suggested next feature, through the same protocol: which genres does each "
           f"feature tell apart? ({METRICS[cfg.metric].label}, {cfg.trials} trials, same samples.)")
try:
    features = {f: analysis_for(dataset, dataclasses.replace(cfg, feature=f)) for f in FEATURES}
except FeaturesOnlyError as exc:
    st.warning(f"Cannot compare the two features: {escape(exc)}.", icon=":material/block:")
    st.stop()
st.dataframe(feature_comparison_table({f.replace("color", "colour"): a for f, a in features.items()},
                                      metric=cfg.metric), width="stretch")
