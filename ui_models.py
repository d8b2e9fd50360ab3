"""The pages' models: which to offer (decided by :mod:`cover_model.service.catalogue`),
the first launch's demo model, and the cached predictor and colour references."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

import ui
from cover_model import public_mode
from cover_model.color import build_reference
from cover_model.data.dataset import Dataset
from cover_model.networks import jobs
from cover_model.networks.predict import Predictor
from cover_model.service import catalogue
from cover_model.service.first_launch import job_stopped_message, start_demo_model
from cover_model.shipped import load_color_reference


def model_choices(fingerprint: str | None) -> list[Path]:
    """The models Predict offers (:func:`catalogue.model_choices`); where there is none (no
    shipped model in a partial checkout, nothing trained), the paper's CNN is trained on
    first launch, as :func:`require_a_model` does."""
    return catalogue.model_choices(ui.visitor_id(), fingerprint) or require_a_model()


def demo_model_sidebar() -> None:
    """Offer the paper's small CNN on the synthetic covers beside the shipped model: one
    click trains it in the background (about 30 s), and it joins the model list."""
    if catalogue.demo_model_trained(ui.visitor_id()):
        return
    started = st.session_state.get("demo_started", False)
    with st.sidebar.expander("More models", expanded=started):
        if not started:
            st.caption("The paper's small CNN, trained on the synthetic covers: a toy beside "
                       "the shipped model, to compare with.")
            if st.button("Train it (about 30 s)", key="train_demo_model"):
                st.session_state.demo_started = True
                st.rerun()
            return
        try:
            run_dir = _demo_model_job()
        except jobs.JobError as exc:           # a read-only checkpoints folder, a limit
            st.error(f"Cannot train it here: {public_mode.visitor_message(str(exc))}")
            return
        status = jobs.job_status(run_dir)
        if status["state"] in jobs.ACTIVE:
            _demo_progress(str(run_dir))
        elif job_stopped_message(status):
            st.error("Training it stopped: " + job_stopped_message(status))


def require_a_model() -> list[Path]:
    """Finished runs; on first launch, train the paper's CNN on the embedded covers in
    the background (a real job) and show its progress until it is done."""
    done = catalogue.finished_runs(ui.visitor_id())
    if done:
        return done
    try:
        run_dir = _demo_model_job()
    except jobs.JobError as exc:           # a read-only checkpoints folder: say so, no trace
        st.error(f"There is no model yet, and none can be trained here: {public_mode.visitor_message(str(exc))}",
                 icon=":material/error:")
        st.stop()
    stopped = job_stopped_message(jobs.job_status(run_dir))
    if stopped:
        st.error("Training the first model stopped: " + stopped)
        if st.button("Train it again"):
            _demo_model_job.clear()
            st.rerun()
        st.stop()
    st.info("First launch: training the paper's small CNN on the embedded covers, so there is "
            "a model to predict with. This takes under a minute.", icon=":material/model_training:")
    _demo_progress(str(run_dir))
    st.stop()


@st.cache_resource(show_spinner=False)
def _demo_model_job() -> Path:
    """The server's own demo job, started once per server; a JobError is not cached."""
    return start_demo_model()


@st.fragment(run_every="1s")
def _demo_progress(run_dir: str) -> None:
    status = jobs.job_status(Path(run_dir))
    if status["state"] not in jobs.ACTIVE:
        st.rerun()
    if status["state"] == "queued":        # waits for a running job to end
        place = status.get("queue_position", "?"), status.get("queue_length", "?")
        st.progress(0.0, text="Queued: place {} of {}".format(*place))
        return
    step = status.get("progress") or {}
    st.progress(status["fraction"], text=f"epoch {step.get('epoch', '...')}/{step.get('epochs', '...')}")


@st.cache_resource(show_spinner="Loading the model...", max_entries=4)
def load_predictor(run_dir: str) -> Predictor:
    """One shared, read-only Predictor per run folder."""
    return Predictor.from_run(run_dir)


@st.cache_resource(show_spinner=False)
def shipped_color_reference():
    """The real covers' per-genre colour means, shipped with the model (no covers)."""
    return load_color_reference()


@st.cache_resource(show_spinner="Computing the dataset's colour histograms...", max_entries=2)
def color_reference(fingerprint: str, _dataset: Dataset):
    """Per-cover and per-genre histograms of a dataset, for one cover's colour profile."""
    return build_reference(_dataset)
