"""Colour analysis: the paper's section 3 on the sidebar's dataset, repeated over trials."""
import dataclasses

import streamlit as st

import ui
from cover_model.color import FEATURES, METRIC_NAMES, METRICS, SPACES, ColorConfig, run_color_analysis
from cover_model.color.figures import (feature_comparison_table, mean_covers_figure, metric_overview,
                                       metric_table, rank_stability_figure, rank_table,
                                       similarity_heatmap)

PAPER = ColorConfig()
HELP = {f.name: f.metadata["help"] for f in dataclasses.fields(ColorConfig)}
FEATURE_LABELS = {"color": "Colour histogram (the paper)", "gradient": "Gradient histogram (HOG-like)"}


def settings_sidebar() -> ColorConfig:
    with st.sidebar:
        st.subheader("Colour analysis")
        feature = st.radio("Feature", FEATURES, format_func=FEATURE_LABELS.get, key="color_feature",
                           help=HELP["feature"])
        metric = st.selectbox("Metric shown", METRIC_NAMES, index=METRIC_NAMES.index(PAPER.metric),
                              format_func=lambda m: METRICS[m].label, key="color_metric",
                              help=HELP["metric"])
        if feature == "color":
            bins = st.slider("Bins per channel", 2, 16, PAPER.bins, key="color_bins", help=HELP["bins"])
            space = st.selectbox("Colour space", SPACES, format_func=str.upper, key="color_space",
                                 help=HELP["space"])
            gradient = {}
        else:
            bins, space = PAPER.bins, PAPER.space
            gradient = dict(
                orientation_bins=st.slider("Orientation bins", 4, 18, PAPER.orientation_bins,
                                           key="color_orientation_bins", help=HELP["orientation_bins"]),
                grid=st.slider("Grid cells per side", 1, 8, PAPER.grid, key="color_grid", help=HELP["grid"]))
        size_px = st.select_slider("Downsize to (px)", [16, 32, 35, 48, 64, 70, 100], PAPER.size_px,
                                   key="color_size_px", help=HELP["size_px"])
        n_per_genre = st.number_input("Covers per sample", 2, 500, PAPER.n_per_genre,
                                      key="color_n_per_genre", help=HELP["n_per_genre"])
        trials = st.number_input("Trials", 1, 200, PAPER.trials, key="color_trials", help=HELP["trials"])
        seed = st.number_input("Seed", 0, 2**31 - 1, PAPER.seed, key="color_seed", help=HELP["seed"])
        mean_cover_px = st.select_slider("Mean cover size (px)", [32, 64, 128, 256], PAPER.mean_cover_px,
                                         key="color_mean_cover_px", help=HELP["mean_cover_px"])
    return ColorConfig(feature=feature, bins=bins, space=space, size_px=size_px,
                       n_per_genre=int(n_per_genre), trials=int(trials), seed=int(seed), metric=metric,
                       mean_cover_px=mean_cover_px, **gradient)


@st.cache_data(show_spinner="Downsizing covers and running the trials...", max_entries=16)
def analyse(fingerprint: str, settings: dict, _dataset):
    return run_color_analysis(_dataset, ColorConfig(**settings))


def analysis_for(dataset, cfg: ColorConfig):
    # The shown metric is not part of the work: all four are always computed.
    key = dataclasses.asdict(dataclasses.replace(cfg, metric=PAPER.metric))
    return analyse(dataset.fingerprint, key, dataset)


dataset = ui.current_dataset()
cfg = settings_sidebar()
st.title("Colour analysis")
ui.synthetic_notice()
st.caption(
    f"The paper's section 3: every cover downsized to {cfg.size_px}x{cfg.size_px} ({cfg.method}), "
    f"then a {cfg.feature_label}. Per genre, two disjoint random samples of {cfg.n_per_genre} covers; "
    "entry (i, j) is the mean score of every cover of sample A of genre i against every cover of "
    f"sample B of genre j, so no cover meets itself on the diagonal. Repeated over {cfg.trials} trials.")
analysis = analysis_for(dataset, cfg)
for note in analysis.notes:
    st.warning(note, icon=":material/info:")

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
st.plotly_chart(mean_covers_figure(analysis), width="stretch")

st.subheader("Colour against gradients")
st.caption("The paper's suggested next feature, through the same protocol: which genres does each "
           f"feature tell apart? ({METRICS[cfg.metric].label}, {cfg.trials} trials, same samples.)")
features = {f: analysis_for(dataset, dataclasses.replace(cfg, feature=f)) for f in FEATURES}
st.dataframe(feature_comparison_table({f.replace("color", "colour"): a for f, a in features.items()},
                                      metric=cfg.metric), width="stretch")
