"""Train: sidebar settings (the paper's by default) -> a background job -> live progress."""
import dataclasses
from pathlib import Path

import streamlit as st

import ui
from cover_model import public_mode
from cover_model.config import from_dict
from cover_model.data.dataset_needs import training_problem
from cover_model.markdown_text import code_span, escape
from cover_model.networks import cluster, jobs
from cover_model.networks.config import PRESETS, ExecutorConfig, TrainConfig, preset_name
from cover_model.networks.data import stored_features_problem, stored_head_settings
from cover_model.networks.figures import training_curves_figure
from cover_model.networks.runs import Run
from cover_model.networks.tables import run_label
from cover_model.service import training
from ui_widgets import config_widget, config_widgets

PAPER = TrainConfig()
MAIN = ("arch", "mode", "size_px", "epochs", "batch_size", "optimizer", "lr", "momentum", "device")
AUGMENT = ("flip", "crop", "color_jitter", "label_smoothing", "weight_decay", "schedule",
           "backbone_lr_scale", "early_stopping")
OTHER = tuple(f.name for f in dataclasses.fields(TrainConfig)
              if f.name not in (*MAIN, *AUGMENT, "data"))     # data: the sidebar's dataset
# A head on stored features (the real covers' pack): its own widgets (keys features_*), so the
# settings of a network on pixels stay as the visitor left them. The loop starts from the preset
# made for it, the exact head from the shipped recipe's C.
HEAD_PRESET = "lite2-stages-loop"
HEAD_DEFAULTS = PRESETS[HEAD_PRESET] | {"logistic_c": PRESETS["best"]["logistic_c"]}
HEAD_FIELDS = {"loop": ("head_hidden", "epochs", "batch_size", "optimizer", "lr", "weight_decay",
                        "class_weight"),
               "logistic": ("logistic_c", "cv_folds", "class_weight")}
HEAD_MORE = {"loop": ("momentum", "schedule", "label_smoothing", "early_stopping", "seed"),
             "logistic": ("seed",)}
HEAD_NAMES = {"loop": "epoch loop (live curves)", "logistic": "exact logistic regression"}


def apply_preset() -> None:
    """Fill the settings widgets: the paper's values, then the preset's."""
    preset = PRESETS.get(st.session_state.train_preset, {})
    for name, value in (dataclasses.asdict(PAPER) | preset).items():
        if name != "data":
            st.session_state[f"train_{name}"] = value


def settings_sidebar() -> dict:
    st.sidebar.subheader("Training")
    st.sidebar.selectbox("Preset", list(PRESETS), index=None, key="train_preset",
                         on_change=apply_preset, placeholder="Fill from a preset...",
                         help="Named settings: the paper's values, then the preset's own "
                              "(paper-cnn is the paper's setup; smoke is a one-epoch check).")
    values = config_widgets(TrainConfig, key_prefix="train", fields=MAIN)
    values |= config_widgets(TrainConfig, key_prefix="train", fields=AUGMENT,
                             container=st.sidebar.expander("Augmentation and regularisation"))
    values |= config_widgets(TrainConfig, key_prefix="train", fields=OTHER,
                             container=st.sidebar.expander("Preprocessing, split, seed, weights"))
    return values


def head_sidebar(dataset) -> dict:
    """A new head on the stored features of a features-only dataset: the head's settings;
    the frozen network that made the features is fixed, and said."""
    fixed = stored_head_settings(dataset)
    st.sidebar.subheader("Training a head")
    st.sidebar.caption(f"The real covers are **features only**, so the backbone stays frozen: "
                       f"{fixed['arch']} at {fixed['size_px']} px ({fixed['pooling']} pooling), "
                       "whose stored features a new head learns from.")
    with st.sidebar:
        head = config_widget(TrainConfig, "head", key_prefix="features", radio=True,
                             format_func=HEAD_NAMES.get)
        values = {name: config_widget(TrainConfig, name, key_prefix="features",
                                      default=HEAD_DEFAULTS.get(name)) for name in HEAD_FIELDS[head]}
    with st.sidebar.expander("More settings"):
        values |= {name: config_widget(TrainConfig, name, key_prefix="features",
                                       default=HEAD_DEFAULTS.get(name)) for name in HEAD_MORE[head]}
    return values | {"head": head} | fixed


def cluster_sidebar() -> dict | None:
    """The job's resources, where this server sends jobs through submitit
    (``COVER_LAB_EXECUTOR=submitit``); None: a local process, as always."""
    if not cluster.cluster_configured():
        return None
    fields = [f.name for f in dataclasses.fields(ExecutorConfig) if f.name != "executor"]
    return config_widgets(ExecutorConfig, key_prefix="cluster", fields=fields,
                          container=st.sidebar.expander("Cluster (submitit)", expanded=True))


def job_label(run_dir: Path) -> str:
    return run_label(training.run_settings(run_dir))


def curves(run_dir: Path, label: str, *, key: str) -> None:
    history = Run(run_dir).history()
    if history:
        st.plotly_chart(training_curves_figure({label: history}), width="stretch", key=key)


def may_control(run_dir: Path) -> bool:
    return training.may_control(run_dir, ui.visitor_id())


def cancel_button(run_dir: Path, *, queued: bool) -> None:
    if not may_control(run_dir):
        return
    help_text = ("Take it off the queue." if queued
                 else "Stop after the current step; finished epochs stay saved.")
    if st.button("Cancel", icon=":material/stop_circle:", key="train_cancel", help=help_text):
        jobs.cancel_job(run_dir)
        if queued:
            st.rerun()                   # the whole page switches to the cancelled view
        st.toast("Cancelling: the job stops after its current step.")


@st.fragment(run_every="1s")
def queued_panel(run_dir: str) -> None:
    run_dir = Path(run_dir)
    status = jobs.job_status(run_dir)     # moves the queue, too
    if status["state"] != "queued":
        st.rerun()
    st.markdown(f"**Queued** {job_label(run_dir)} · `{run_dir.name}`")
    place = (f"place {status['queue_position']} of {status['queue_length']}"
             if "queue_position" in status else "waiting")
    at_once = public_mode.limits().max_running_jobs
    st.info(f"Queued: {place}. It starts by itself when a running job ends ({at_once} "
            "run at once here); you may leave this page.", icon=":material/hourglass_top:")


@st.fragment(run_every="1s")
def live_panel(run_dir: str) -> None:
    run_dir = Path(run_dir)
    status = jobs.job_status(run_dir)
    if status["state"] != "running":
        st.rerun()                       # the whole page switches to the finished view
    label = job_label(run_dir)
    where = "" if public_mode.is_public() or not status["where"] else f" · {status['where']}"
    st.markdown(f"**Training** {label} · `{run_dir.name}`{where}")
    step = status.get("progress")
    if not step:
        st.progress(0.0, text="Preparing: loading the covers...")
    elif "stage" in step:       # before the epochs (downsizing, embedding), or the logistic CV
        left = "" if status["eta_s"] is None else f" · {status['eta_s']:,.0f} s left"
        st.progress(status["fraction"], text=f"{step['stage']} · {step['step']:,}/{step['steps']:,} "
                                             f"({status['fraction']:.0%}){left}")
    else:
        st.progress(status["fraction"], text=f"epoch {step['epoch']}/{step['epochs']} · "
                                             f"step {step['step']}/{step['steps']}")
        loss, acc, speed, eta = st.columns(4)
        loss.metric("Loss (this epoch)", f"{step['loss']:.3f}")
        acc.metric("Train accuracy (this epoch)", f"{step['acc1']:.1%}")
        speed.metric("Covers per second", f"{step['img_per_s']:,.0f}")
        eta.metric("Time left", f"{status['eta_s']:,.0f} s",
                   help="An estimate at the pace so far; it settles once an epoch has finished.")
    curves(run_dir, label, key="train_live_curves")


def finished_panel(run_dir: Path, status: dict) -> None:
    config = training.run_settings(run_dir)
    metrics = Run(run_dir).metrics()
    if status["state"] == "done":
        test = metrics.get("test") or {}
        score = (f": test accuracy {test['accuracy']:.1%}, top-3 {test['top_k']:.1%}" if test else "")
        st.success(f"Finished {run_label(config)} (`{run_dir.name}`){score}. "
                   "It is on the Results page now.", icon=":material/check_circle:")
        st.page_link("app_pages/results.py", label="Open Results", icon=":material/leaderboard:")
    elif status["state"] == "failed":
        log_lines = (status.get("log_tail") or "").strip().splitlines()
        cause = status.get("error") or (log_lines[-1] if log_lines else "no error recorded")
        st.error(f"Training `{run_dir.name}` failed: {escape(public_mode.visitor_message(cause))}",
                 icon=":material/error:")
    else:
        n_epochs = len(metrics.get("history") or [])
        when = "while it was queued" if not status.get("pid") else f"after {n_epochs} finished epoch(s)"
        saved = f"; its {n_epochs} finished epoch(s) are saved in its run folder" if n_epochs else ""
        st.warning(f"Cancelled `{run_dir.name}` {when}{saved}.", icon=":material/stop_circle:")
    if jobs.resumable(run_dir) and may_control(run_dir):
        resume_button(run_dir)
    curves(run_dir, run_label(config), key="train_final_curves")


def resume_button(run_dir: Path) -> None:
    """Continue a stopped run from its last saved epoch, queued like a new job."""
    if st.button("Resume", icon=":material/replay:", key="train_resume",
                 help="Continue from its last saved epoch (train --resume); it waits in the "
                      "queue like a new job."):
        try:
            jobs.resume_job(run_dir, owner=ui.visitor_id())
        except jobs.JobError as exc:
            st.error(str(exc), icon=":material/block:")
            return
        st.rerun()


def start(cfg: TrainConfig, dataset, executor: ExecutorConfig | None) -> None:
    """Queue ``cfg`` for this visitor and watch it; a refusal (limits, a read-only
    folder) is shown, and the same settings already queued or running are found."""
    preset = HEAD_PRESET if dataset.features_only else st.session_state.get("train_preset")
    try:
        run_dir, already = training.start_for(ui.visitor_id(), cfg, dataset=dataset, executor=executor,
                                              preset=preset_name(cfg, preset))
    except jobs.JobError as exc:
        st.error(str(exc), icon=":material/block:")
        return
    watch(run_dir)
    if already:
        st.info(f"A job with these settings is already {already}: here it is.", icon=":material/info:")


def watch(run_dir: Path | None) -> None:
    """Show this job here, and after a reload too: ``?run=<folder name>`` in the URL."""
    st.session_state.train_run = str(run_dir) if run_dir else None
    name = run_dir.name if run_dir else None
    if st.query_params.get("run") != name:
        if name:
            st.query_params["run"] = name
        else:
            st.query_params.pop("run", None)


# On stored features the sidebar reads what made them; the dataset is a cached read then.
values = head_sidebar(ui.current_dataset()) if ui.is_features_only() else settings_sidebar()
resources = cluster_sidebar()
st.title("Train")
data = ui.current_data_source()
dataset = ui.current_dataset()                 # a wrong path stops here, not in the job
ui.synthetic_notice()
st.caption(f"Dataset {code_span(public_mode.visitor_message(data))}: {len(dataset):,} covers in {dataset.n_classes} genres. Training runs "
           "in its own process: leave or refresh this page and it keeps going.")
try:
    cfg = from_dict(TrainConfig, values | {"data": data})
    executor = None if resources is None else ExecutorConfig(executor="submitit", **resources)
except ValueError as exc:
    st.error(f"Check the settings in the sidebar: {exc}", icon=":material/tune:")
    cfg = None

# Checked as the job will split the data; the settings stay editable, Start does not.
problem = cfg and (training_problem(dataset, split_scheme=cfg.split_scheme, seed=cfg.seed)
                   or stored_features_problem(cfg, dataset))
if problem:
    st.warning(f"Cannot train on this dataset: {escape(problem)}.", icon=":material/block:")
if cfg is not None:
    network = (f"a new head on the stored features of **{cfg.arch}** (frozen) at {cfg.input_px} px"
               if dataset.features_only else f"**{cfg.arch}** ({cfg.mode}) at {cfg.input_px} px")
if cfg is not None and cfg.head == "logistic":       # no epochs: the loop's settings do not apply
    c = f"C {cfg.logistic_c:g}" if cfg.logistic_c else f"C by {cfg.cv_folds}-fold grouped CV"
    st.caption(f"Will train {network}: an exact logistic head ({c}), seed {cfg.seed}.")
elif cfg is not None:
    st.caption(f"Will train {network} for {cfg.epochs} epoch(s): batch {cfg.batch_size}, "
               f"{cfg.optimizer} lr {cfg.lr:g}, seed {cfg.seed}.")
if cfg is not None and executor is not None:
    st.caption(f"As a submitit job ({cluster.backend()}): {executor.nodes} node(s) x "
               f"{executor.tasks_per_node} process(es), {executor.gpus_per_node} GPU(s) per node.")
if st.button("Start training", type="primary", icon=":material/play_arrow:",
             disabled=cfg is None or bool(problem), key="train_start"):
    start(cfg, dataset, executor)

running = jobs.running_jobs()
watched = training.watched_job(ui.visitor_id(), in_session=st.session_state.get("train_run"),
                               in_url=st.query_params.get("run"), running=running)
watch(watched)                                  # after a refresh, keep watching until it ends
others = [f"`{p.name}`" for p in running if p != watched]
n_queued = len([p for p in jobs.queued_jobs() if p != watched])
if others or n_queued:
    st.caption(" · ".join([*(["Also running: " + ", ".join(others)] if others else []),
                           *([f"{n_queued} more queued"] if n_queued else [])]))
if watched is None and dataset.features_only:
    st.info("No job yet: choose the head's settings in the sidebar and press **Start training**. "
            f"The defaults train a linear head for {HEAD_DEFAULTS['epochs']} epochs with "
            f"{HEAD_DEFAULTS['optimizer']}, in about ten seconds.")
elif watched is None:
    st.info("No job yet: choose settings in the sidebar and press **Start training**. The "
            "defaults are the paper's: its small CNN, SGD, lr 0.01, momentum 0.9, batch 10.")
else:
    status = jobs.job_status(watched)
    if status["state"] in jobs.ACTIVE:
        # Cancel lives outside the panel that reruns every second: a click on a button
        # redrawn at that moment was lost on a busy server (the job-cap browser test).
        cancel_button(watched, queued=status["state"] == "queued")
        (live_panel if status["state"] == "running" else queued_panel)(str(watched))
    else:
        finished_panel(watched, status)
