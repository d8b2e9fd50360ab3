"""Predict: upload covers -> top-3 genres, where the network looked, and the colour profile."""
import streamlit as st

import ui
import ui_first_launch
import ui_models
import ui_style_map
from cover_model import public_mode
from cover_model.baselines.specs import FeatureError
from cover_model.color.figures import histogram_figure, profile_similarity_figure
from cover_model.color.profile import profile_cover
from cover_model.curation.style_map import embed_cover, neighbour_vote
from cover_model.data.feature_pack import extractor_mismatch
from cover_model.data.images import ImageDecodeError, decode_image
from cover_model.markdown_text import escape
from cover_model.networks.runs import Run, RunError
from cover_model.networks.tables import run_label
from cover_model.plots import grad_cam_overlay, top_genres_figure
from cover_model.shipped import model_card_text, model_summary, shipped_run

st.title("Predict")
SHIPPED = shipped_run()
# The shipped real-cover model first (it answers at once), then the dataset's best run.
dataset = ui.dataset_if_ready() if SHIPPED else ui.current_dataset()   # never wait for it
run_dirs = ui_models.model_choices(dataset.fingerprint if dataset else None)
labels = {str(r): run_label(Run(r).config()) if r == SHIPPED else
          f"{run_label(Run(r).config())} · {r.name}" for r in run_dirs}
run_dir = st.sidebar.selectbox("Model", list(labels), format_func=labels.get, key="predict_run",
                               help="The shipped model (trained on real covers) first, then the "
                                    "best run of the sidebar's dataset, then your other runs, "
                                    "newest first. Train more on the Train page.")
ui_first_launch.demo_model_sidebar(ui.visitor_id())
try:
    predictor = ui_models.load_predictor(run_dir)
except RunError as exc:                   # a damaged or foreign run folder, not a traceback
    st.error(f"Cannot load this model: {public_mode.visitor_message(str(exc))}. Pick another model in the sidebar, or train one "
             "on the Train page.", icon=":material/error:")
    st.stop()
if SHIPPED and run_dir == str(SHIPPED):
    st.caption(model_summary())
    with st.expander("Model card"):
        st.markdown(model_card_text())
else:
    st.caption(f"Model: {escape(labels[run_dir])} · knows {escape(', '.join(predictor.class_names))}")

# No type= filter: Streamlit would refuse other files with a generic message (and AppTest
# with an exception); decode_image says what each one is and what to use instead.
uploads = st.file_uploader("Album covers", accept_multiple_files=True, key="predict_uploads",
                           help="JPEG, PNG, WebP, BMP or GIF; several at once are fine.")
if not uploads:
    st.info("Upload one or more album covers to see their most likely genres.")
    st.stop()


def colour_analysis(rgb, data: bytes, key: str, answer, *, model) -> None:
    """The cover's colour histogram against the real covers' genre means (shipped) and
    against the sidebar's dataset, with its nearest covers there by colour and by embedding."""
    st.markdown("**Colour analysis**")
    dataset = ui.dataset_if_ready()
    tabs = st.tabs(["Against the real covers", "Its nearest real covers, on the map"
                    if dataset is not None and dataset.features_only
                    else "Against the sidebar's dataset"])
    reference = ui_models.shipped_color_reference() if SHIPPED else None
    real = profile_cover(rgb, reference) if reference else None
    with tabs[0]:
        if real is None:
            st.caption("The real covers' colour statistics ship with the model, which this "
                       "checkout lacks.")
        else:
            left, right = st.columns(2)
            left.plotly_chart(histogram_figure(real.histogram, reference.config),
                              width="stretch", key=f"hist-{key}")
            right.plotly_chart(profile_similarity_figure(real), width="stretch", key=f"real-{key}")
            st.caption("Closest real-cover genre by colour, per metric: " +
                       escape(", ".join(f"{metric}: {genre}" for metric, genre
                                        in real.closest.items())) +
                       ". From each genre's mean colour histogram over the real covers "
                       "(numbers only; no cover is shipped).")
    with tabs[1]:
        if dataset is None:
            st.caption("The embedded covers are still being generated (first launch); "
                       "their colour comparison appears when they are ready.")
            return
        if dataset.features_only:
            among_real_covers(dataset, data, answer, key, model=model)
            return
        profile = profile_cover(rgb, ui_models.color_reference(dataset))
        st.plotly_chart(profile_similarity_figure(profile), width="stretch", key=f"sim-{key}")
        st.caption("Closest genre by colour, per metric: " +     # the sidebar dataset's genres
                   escape(", ".join(f"{metric}: {genre}" for metric, genre
                                    in profile.closest.items())))
        ui.synthetic_notice()
        by_colour, by_embedding = st.columns(2)
        with by_colour:
            st.markdown("**Nearest covers by colour**")
            ui.cover_gallery(profile.neighbours["path"], width=110,
                             captions=[f"{g} ({s:.2f})" for g, s in zip(profile.neighbours["genre"],
                                                                       profile.neighbours["score"])])
        with by_embedding:
            placed = nearest_by_embedding(dataset, data, key)
        if placed:
            ui_style_map.chart(dataset, placed[0], key=f"map-{key}", new_point=placed[1])


def nearest_by_embedding(dataset, data: bytes, key: str):
    """The cover's nearest covers by ImageNet embedding, and the style map with where the
    cover goes on it: the mean position of those neighbours (t-SNE cannot place a new point)."""
    st.markdown("**Nearest covers by embedding**")
    cfg = ui_style_map.settings()
    try:
        smap = ui_style_map.on_request(dataset, cfg, key=f"map-build-{key}", label="Lay out the style map")
    except (ValueError, FeatureError) as exc:           # too few covers, weights missing
        st.caption(public_mode.visitor_message(str(exc)))
        return None
    if smap is None:
        return None
    embedding = embed_cover(data, cfg.network)
    order, distance = smap.nearest(embedding, cfg.neighbours)
    nearest = dataset.items.iloc[smap.index[order]]
    ui.cover_gallery(nearest["path"], width=110,
                     captions=[f"{g} ({d:.1f})" for g, d in zip(nearest["genre"], distance)])
    st.caption(f"Distance in the map's {smap.features.shape[1]} PCA components of the "
               f"{cfg.network} features; the star sits at the mean position of these "
               f"{len(nearest)} covers.")
    x, y = smap.place(embedding, cfg.neighbours)
    return smap, (x, y, "this cover")


def among_real_covers(dataset, data: bytes, answer, key: str, *, model) -> None:
    """Where the cover goes among the real covers (the pack's stored map) and its nearest real
    covers by the shipped model's features, with their vote: genre and source, no pictures.
    ``model``: the run that answered; its features serve where it is the shipped extractor."""
    shipped_space = not extractor_mismatch(Run(model).train_config(), dataset.stored)
    features = answer.features if shipped_space else ui_models.load_predictor(str(SHIPPED)).features(data)
    smap = ui_style_map.stored(dataset)
    k = ui_style_map.settings().neighbours
    nearest, vote = neighbour_vote(dataset, smap, features, k)
    st.markdown(f"**Its {k} nearest real covers** by the shipped model's features: " +
                escape(", ".join(f"{genre} {n}" for genre, n in vote.items())))
    st.dataframe(nearest.style.format({"distance": "{:.1f}"}), hide_index=True, width="stretch")
    ui_style_map.chart(dataset, smap, key=f"map-{key}", new_point=(*smap.place(features, k), "this cover"))


for upload in uploads:
    st.subheader(escape(upload.name))           # a visitor's file name: text, not Markdown
    try:
        rgb = decode_image(upload.getvalue())
    except ImageDecodeError as exc:
        st.error(escape(f"{upload.name}: {str(exc).removeprefix('image: ')}"))
        continue
    cover, genres, heat = st.columns([1, 1.3, 1])
    cover.image(rgb, caption="the cover", width="stretch")
    # The file's bytes, not the decoded picture: the model's input takes the path `predict`'s does.
    answer = predictor.explain(upload.getvalue(), k=min(3, len(predictor.class_names)))
    best, confidence = answer.top_k[0]
    genres.markdown(f"**Most likely: {escape(best)}** ({confidence:.0%})")
    genres.plotly_chart(top_genres_figure(answer.top_k, predictor.class_names), width="stretch",
                        key=f"top-{upload.file_id}")
    heat.image(grad_cam_overlay(rgb, answer.grad_cam), width="stretch",
               caption=f"Grad-CAM: where the network looked for '{escape(best)}'")
    colour_analysis(rgb, upload.getvalue(), upload.file_id, answer, model=run_dir)
