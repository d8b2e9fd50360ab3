"""What a fresh server starts by itself, drawn: the embedded covers' generation and the
paper's small CNN on them (both in the background, :mod:`cover_model.service.first_launch`),
with their progress, and the sidebar's offer of that demo model."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from cover_model import public_mode
from cover_model.networks import jobs
from cover_model.service import catalogue
from cover_model.service.first_launch import job_stopped_message, start_covers_generation, start_demo_model
from cover_model.synth import BackgroundGeneration, default_dataset_ready


@st.cache_resource(show_spinner=False)
def covers_generation() -> BackgroundGeneration:
    """The embedded covers' generation, started once per server."""
    return start_covers_generation()


def wait_for_covers() -> None:
    """Show the first launch's generation until the covers are there; stop the page till then."""
    if default_dataset_ready():
        return
    job = covers_generation()
    if job.running:
        _generation_progress()
        st.stop()
    st.error("Generating the embedded covers failed: " + job.failure())
    if st.button("Try again"):
        covers_generation.clear()
        st.rerun()
    st.stop()


@st.fragment(run_every="1s")
def _generation_progress() -> None:
    job = covers_generation()
    if not job.running:
        st.rerun()
    done, total = job.progress()
    st.progress(done / total if total else 0.0,
                text=f"First launch: generating the embedded synthetic covers ({done}/{total or '...'})")


def demo_model_sidebar(visitor: str) -> None:
    """Offer the paper's small CNN on the synthetic covers beside the shipped model: one
    click trains it in the background (about 30 s), and it joins the model list."""
    if catalogue.demo_model_trained(visitor):
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
        stopped = job_stopped_message(status)
        if status["state"] in jobs.ACTIVE:
            _demo_progress(str(run_dir))
        elif stopped:
            st.error("Training it stopped: " + stopped)


def require_a_model(visitor: str) -> list[Path]:
    """Finished runs; on first launch, train the paper's CNN on the embedded covers in
    the background (a real job) and show its progress until it is done."""
    done = catalogue.finished_runs(visitor)
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
