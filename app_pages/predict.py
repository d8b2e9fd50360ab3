"""Predict: upload covers -> top-3 genres, where the network looked, and the colour profile."""
import streamlit as st

import ui
from cover_model.color.figures import histogram_figure, profile_similarity_figure
from cover_model.color.profile import profile_cover
from cover_model.images import ImageDecodeError, decode_image
from cover_model.plots import grad_cam_overlay, top_genres_figure
from cover_model.results import best_first, run_label
from cover_model.runs import RunError, read_config

st.title("Predict")
# The best model of the sidebar's dataset comes first, so it is the default.
run_dirs = best_first(ui.require_a_model(), fingerprint=ui.current_dataset().fingerprint)
labels = {str(r): f"{run_label(read_config(r))} · {r.name}" for r in run_dirs}
run_dir = st.sidebar.selectbox("Model", list(labels), format_func=labels.get, key="predict_run",
                               help="Finished training runs: the best model of this dataset "
                                    "first, then its other runs, newest first. Train more on "
                                    "the Train page.")
try:
    predictor = ui.load_predictor(run_dir)
except RunError as exc:                   # a damaged or foreign run folder, not a traceback
    st.error(f"Cannot load this model: {exc}. Pick another model in the sidebar, or train one "
             "on the Train page.", icon=":material/error:")
    st.stop()
st.caption(f"Model: {labels[run_dir]} · knows {', '.join(predictor.class_names)}")

# No type= filter: Streamlit would refuse other files with a generic message (and AppTest
# with an exception); decode_image says what each one is and what to use instead.
uploads = st.file_uploader("Album covers", accept_multiple_files=True, key="predict_uploads",
                           help="JPEG, PNG, WebP, BMP or GIF; several at once are fine.")
if not uploads:
    st.info("Upload one or more album covers to see their most likely genres.")
    st.stop()

reference = None            # the colour profile's dataset, loaded at the first readable cover
for upload in uploads:
    st.subheader(upload.name)
    try:
        rgb = decode_image(upload.getvalue())
    except ImageDecodeError as exc:
        st.error(f"{upload.name}: {str(exc).removeprefix('image: ')}")
        continue
    cover, genres, heat = st.columns([1, 1.3, 1])
    cover.image(rgb, caption="the cover", width="stretch")
    ranked = predictor.top_k(rgb, k=min(3, len(predictor.class_names)))
    genres.markdown(f"**Most likely: {ranked[0][0]}** ({ranked[0][1]:.0%})")
    genres.plotly_chart(top_genres_figure(ranked, predictor.class_names), width="stretch",
                        key=f"top-{upload.file_id}")
    heat.image(grad_cam_overlay(rgb, predictor.grad_cam(rgb)), width="stretch",
               caption=f"Grad-CAM: where the network looked for '{ranked[0][0]}'")

    if reference is None:       # may wait for first-launch covers: errors and top-3 show first
        dataset = ui.current_dataset()
        reference = ui.color_reference(dataset.fingerprint, dataset)
    profile = profile_cover(rgb, reference)
    st.markdown("**Colour analysis** (against the sidebar's dataset)")
    left, right = st.columns(2)
    left.plotly_chart(histogram_figure(profile.histogram, reference.config), width="stretch",
                      key=f"hist-{upload.file_id}")
    right.plotly_chart(profile_similarity_figure(profile), width="stretch",
                       key=f"sim-{upload.file_id}")
    st.caption("Closest genre by colour, per metric: " +
               ", ".join(f"{metric}: {genre}" for metric, genre in profile.closest.items()))
    st.markdown("**Nearest covers by colour**")
    ui.synthetic_notice()
    st.image(profile.neighbours["path"].tolist(), width=110,
             caption=[f"{g} ({s:.2f})" for g, s in zip(profile.neighbours["genre"],
                                                       profile.neighbours["score"])])
