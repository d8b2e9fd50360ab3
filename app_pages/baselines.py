"""Baselines: the paper's Table 2 scikit-learn zoo on the sidebar's dataset, beside the paper."""
import functools

import streamlit as st

import ui
from cover_model.baselines import SPECS
from cover_model.baselines.config import BaselineConfig
from cover_model.baselines.embeddings import EMBEDDING_NETWORKS
from cover_model.baselines.figures import accuracy_figure, confusion_figure, per_genre_figure, sweep_figure
from cover_model.baselines.report import (
    build_report,
    confusion_frame,
    flatten_columns,
    metrics_table,
    missing_fits,
    per_genre_table,
    per_group_table,
    sweep_table,
    table2,
    unavailable_features,
)
from cover_model.baselines.specs import SHIPPED
from cover_model.baselines.stored import QUICK_MODELS, stored_kinds, stored_settings
from cover_model.data.dataset_needs import baselines_problem
from cover_model.data.preprocess import INTERPOLATIONS
from cover_model.markdown_text import escape
from ui_widgets import checked_config, config_widget

FEATURES = {"pixels": "Raw pixels (the paper)", "color_hist": "Colour histograms",
            "gradient_hist": "Gradient histograms (HOG-like)", "embedding": "Pretrained CNN embeddings",
            SHIPPED: "The shipped model's extractor"}
widget = functools.partial(config_widget, BaselineConfig, key_prefix="baselines")
# A features-only dataset's widgets, keyed apart: they offer other choices and defaults.
stored_widget = functools.partial(config_widget, BaselineConfig, key_prefix="baselines_stored")


def settings_sidebar(dataset) -> BaselineConfig | None:
    """The sidebar's settings; ranges, choices, defaults and help come from BaselineConfig."""
    if dataset.features_only:
        return stored_settings_sidebar(dataset)
    with st.sidebar:
        st.subheader("Baselines")
        features = widget("features", label="Features", one=True, radio=True,
                          options=[kind for kind in FEATURES if kind != SHIPPED], format_func=FEATURES.get)
        embedding = features == ("embedding",)
        values = {
            "features": features,
            "networks": widget("networks", label="Network", one=True, options=EMBEDDING_NETWORKS,
                               disabled=not embedding,
                               help="The ImageNet network whose pooled features (1,280 values for "
                                    "EfficientNet-Lite) feed the models; covers are resized to its own "
                                    "input side (224 px for Lite0). Lite weights come with their packages; "
                                    "torchvision nets need theirs in the torch hub cache. Embedding "
                                    "thousands of covers takes minutes on CPU, once: cached afterwards."),
            "size_px": widget("size_px", label="Downsize to (px)", disabled=embedding,
                              more_help=". 100 px = 30,000 pixel features. Not for embeddings, which "
                                        "use the network's own input side."),
            "sweep_method": widget("sweep_method", label="Resize interpolation", options=list(INTERPOLATIONS),
                                   help="The OpenCV interpolation behind Table 2's 'resize' columns "
                                        "(and the sweep's); the 'random' columns sample a random grid "
                                        "of pixels."),
            "models": widget("models", label="Models", options=list(SPECS), default=tuple(SPECS),
                             format_func=model_title),
            "pca": widget("pca", label="PCA", options=["auto", "none"]),
        }
        st.markdown("**Grid-size sweep**")
        values |= {"sweep_sizes": widget("sweep_sizes", label="Sweep sizes (px)", default=(8, 16, 32, 70, 100)),
                   "sweep_models": widget("sweep_models", label="Sweep models", options=list(SPECS),
                                          format_func=model_title)}
    # Table 2's two column groups: a random grid, and the resize method picked above.
    return checked_config(BaselineConfig, values | {"methods": ("random", values["sweep_method"]), "n_jobs": 1})


def stored_settings_sidebar(dataset) -> BaselineConfig | None:
    """On a features-only dataset: the feature kinds it stores, as stored (no size to pick, no
    random grid, no sweep: those need the pictures)."""
    kinds = stored_kinds(dataset)
    with st.sidebar:
        st.subheader("Baselines")
        values = {
            "features": stored_widget("features", label="Features", one=True, radio=True, options=kinds,
                                      default=kinds[:1], format_func=FEATURES.get),
            "models": stored_widget("models", label="Models", options=list(SPECS),
                                    default=QUICK_MODELS, format_func=model_title,
                                    more_help=". Preset: the models that fit in seconds here."),
            "pca": stored_widget("pca", label="PCA", options=["auto", "none"])}
        settings = stored_settings(dataset)
        st.caption(f"As stored with the real covers: histograms of covers downsized to "
                   f"{settings['size_px']} px ({settings['methods'][0]}). Other sizes, a random grid "
                   "of pixels and the grid-size sweep need the pictures.")
    return checked_config(BaselineConfig, values | settings | {"n_jobs": 1})


def model_title(name: str) -> str:
    return SPECS[name].title


def fit_with_progress(dataset, cfg: BaselineConfig, label: str) -> None:
    bar = st.progress(0.0, text=label)
    build_report(dataset, cfg, progress=lambda done, total: bar.progress(
        done / max(total, 1), text=f"{label}: {done}/{total} models"),
        feature_progress=lambda features, done, total: bar.progress(
            done / max(total, 1), text=f"Computing {features} features: {100 * done / max(total, 1):.0f}%"))
    report_for.clear()


@ui.cached(show_spinner="Reading the cached results...", max_entries=16)
def report_for(cfg: BaselineConfig, dataset):
    return build_report(dataset, cfg)


dataset = ui.current_dataset()
cfg = settings_sidebar(dataset)
st.title("Baselines (Table 2)")
ui.synthetic_notice()
problem = baselines_problem(dataset)          # two genres, a train and a test split
if problem:
    st.warning(f"Cannot fit the baselines: {escape(problem)}.", icon=":material/block:")
    st.stop()
if cfg is None:
    st.stop()
if not cfg.models:
    st.info("Pick at least one model in the sidebar.")
    st.stop()
n_train, n_test = (dataset.items["split"] == "train").sum(), (dataset.items["split"] == "test").sum()
if cfg.features == ("embedding",):
    spec = cfg.feature_specs()[0]
    inputs = (f"{spec.network} ImageNet embeddings of covers resized to {spec.size_px}x{spec.size_px} "
              f"({spec.method})")
elif cfg.features == (SHIPPED,):
    spec = cfg.feature_specs()[0]
    inputs = (f"the pooled features of the shipped model's frozen extractor ({spec.network} at "
              f"{spec.size_px} px, {spec.method}), as stored with the real covers")
elif dataset.features_only:
    inputs = (f"{FEATURES[cfg.features[0]].lower()} of covers downsized to {cfg.size_px}x{cfg.size_px} "
              f"({cfg.methods[0]}), as stored with the real covers")
else:
    inputs = (f"{FEATURES[cfg.features[0]].lower()} of covers downsized to {cfg.size_px}x{cfg.size_px}, by a "
              f"random grid of pixels or by {cfg.sweep_method} resizing")
st.caption(f"The paper's scikit-learn models on {inputs}. "
           f"Trained on the dataset's train split ({n_train:,} covers), scored on train and on test "
           f"({n_test:,}). Every input is standardised; PCA where the table says so. Chance is "
           f"{100 / dataset.n_classes:.1f}% balanced accuracy.")

n_missing, n_sweep_missing = missing_fits(dataset, cfg)
if n_missing:
    embed_note = (" Embedding the covers comes first: minutes on CPU for thousands of covers, once "
                  "(cached)." if cfg.features == ("embedding",) else "")
    cost = ("On the stored features a model fits in seconds; LASSO, SVM, AdaBoost and the uncapped "
            "random forest take 15-25 s each on the extractor's 2,136 values." if dataset.features_only
            else "Large grids on thousands of covers take minutes (the CLI runs them on all cores: "
                 "`python -m cover_model baselines`).")
    st.info(f"{n_missing} model fit(s) for these settings are not cached yet. {cost}{embed_note}")
    if not st.button(f"Fit {n_missing} model(s)", type="primary", key="baselines_fit"):
        st.stop()
    fit_with_progress(dataset, cfg.without_sweep(), "Fitting")

main = cfg.without_sweep()
report = report_for(main, dataset)
table = table2(report.results)
for features, message in unavailable_features(report.results).items():
    st.error(f"{escape(features)}: {escape(message)}")

st.subheader("Accuracy: ours beside the paper's")
shown = flatten_columns(table)
if dataset.features_only:          # no random grid, no paper figures: those columns stay empty
    shown = shown.dropna(axis=1, how="all")
st.dataframe(shown.style.format(precision=1, na_rep=""), width="stretch")
st.caption("Paper values: 32x32 pixels, 8,800 train / 1,000 test covers, 10 balanced genres. Ours: the "
           "dataset above. Train accuracy of 5-NN counts each cover as its own neighbour, as sklearn does.")
st.plotly_chart(accuracy_figure(table.droplevel("features")), width="stretch")

st.subheader("All metrics (test split)")
st.dataframe(metrics_table(report.results).style.format(precision=1, na_rep=""), width="stretch",
             hide_index=True)

st.subheader("Per genre")
groups = [g for g in ("random", "resize") if any(r.preprocessing == g for r in report.results)]
group = st.radio("Preprocessing", groups, horizontal=True, key="baselines_genre_group")
chosen = [r for r in report.results if r.preprocessing == group]
per_genre = per_genre_table(chosen, report.class_names).droplevel("features").dropna(how="all")
st.dataframe(per_genre.style.format(precision=1), width="stretch")
st.plotly_chart(per_genre_figure(per_genre), width="stretch")
by_source = per_group_table(chosen, dataset)
if not by_source.empty:
    st.caption("Test accuracy per source of the covers: where genres come from different sources, a "
               "model can learn the source instead of the genre.")
    st.dataframe(by_source.droplevel("features").style.format(precision=1), width="stretch")

fitted = [r for r in chosen if r.test is not None]
if fitted:
    title = st.selectbox("Confusion matrix of", [r.title for r in fitted], key="baselines_confusion_model")
    result = next(r for r in fitted if r.title == title)
    st.plotly_chart(confusion_figure(confusion_frame(result, report.class_names)), width="stretch")

st.subheader("Grid-size sweep: does a bigger grid only overfit?")
if ui.features_only_notice("the grid-size sweep"):
    st.stop()
if not (cfg.sweep_sizes and cfg.sweep_models):
    st.info("Pick sweep sizes and models in the sidebar.")
    st.stop()
st.caption("The paper's Ridge (lambda 1e-4): 43% train / 12% test at 32x32, 89% / 10% at 70x70, "
           "99% / 9.3% at 100x100. Train accuracy climbs with the number of features; test does not.")
if n_sweep_missing:
    st.info(f"{n_sweep_missing} sweep fit(s) are not cached yet.")
    if not st.button(f"Run the sweep ({n_sweep_missing} fits)", key="baselines_sweep_fit"):
        st.stop()
    fit_with_progress(dataset, cfg, "Sweep")       # the main table is cached by now
sweep = sweep_table(report_for(cfg, dataset).sweep)
st.plotly_chart(sweep_figure(sweep), width="stretch")
st.dataframe(sweep.style.format(precision=1), width="stretch", hide_index=True)
