"""Public mode: what a stranger on a hosted demo may ask of the server.

One setting turns it on: ``COVER_LAB_PUBLIC=1`` (or ``python -m cover_model
dashboard --public``; the container sets it). It then bounds everything a
visitor can reach or spend:

- server paths only inside ``COVER_LAB_ALLOWED_ROOTS`` (none by default; the
  embedded covers and the shipped model always work),
- no server path and no traceback in anything a visitor reads
  (:func:`visitor_message`, :func:`log_error`),
- caps on jobs, uploads, disk, manifest rows and decoded pixels (:class:`Limits`).

Outside public mode a local user keeps the freedom of their own machine: any
path, no quotas, generous bounds. Every limit can be moved with an environment
variable, ``COVER_LAB_<NAME>`` (``COVER_LAB_MAX_RUNNING_JOBS=4``).
"""
from __future__ import annotations

import dataclasses
import logging
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from .paths import PROJECT_ROOT, checkpoints_dir, data_dir

PUBLIC_ENV = "COVER_LAB_PUBLIC"
ALLOWED_ROOTS_ENV = "COVER_LAB_ALLOWED_ROOTS"
log = logging.getLogger("cover_model.public_mode")
if not log.handlers:          # the server's stderr is its log; the visitor sees only the id
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(_handler)
    log.propagate = False

GB = 1024**3
MB = 1024**2


@dataclass(frozen=True)
class Limits:
    """What one server, and one visitor session on it, may use.

    Attributes
    ----------
    max_running_jobs : int
        Training jobs running at once on the server; more wait in the queue.
    max_jobs_per_session : int
        Jobs one session may have running or queued at once (0 = no cap).
    max_job_work : float
        epochs x covers x input pixels one job may ask for (0 = no cap).
    upload_quota_bytes : int
        Stored uploads per session (0 = no cap).
    upload_ttl_s : int
        Uploads untouched this long are removed (0 = kept).
    disk_budget_bytes : int
        Caches and imported zips together; least recently used go first (0 = no cap).
    max_manifest_rows : int
        Rows a manifest CSV may hold.
    max_decode_bytes : int
        Memory one image may take while it is decoded; larger is refused before
        any pixel is allocated.
    max_challenge_covers : int
        Covers in one round of "You vs the model" (0 = no cap).
    max_attempts_bytes : int
        One (dataset, model) file of kept challenge rounds (0 = no cap); a full one
        keeps no more rounds.
    max_page_covers : int
        Covers a page may embed or score while a visitor waits (the style map's layout, the
        label review, a run's test covers); more is the command line's work (0 = no cap).
        The page runs it in the server process, outside the job queue.
    """
    max_running_jobs: int
    max_jobs_per_session: int
    max_job_work: float
    upload_quota_bytes: int
    upload_ttl_s: int
    disk_budget_bytes: int
    max_manifest_rows: int
    max_decode_bytes: int
    max_challenge_covers: int
    max_attempts_bytes: int
    max_page_covers: int


LOCAL = Limits(max_running_jobs=2, max_jobs_per_session=0, max_job_work=0,
               upload_quota_bytes=0, upload_ttl_s=0, disk_budget_bytes=0,
               max_manifest_rows=1_000_000, max_decode_bytes=2 * GB,
               max_challenge_covers=0, max_attempts_bytes=0, max_page_covers=0)
# A hosted demo on a small machine (2 cores, a few GB): one job at a time, each about a
# paper-sized job (10 epochs x 1,000 covers x 224^2 px is 5e8), uploads of a few hundred MB.
PUBLIC = Limits(max_running_jobs=1, max_jobs_per_session=1, max_job_work=2e9,
                upload_quota_bytes=300 * MB, upload_ttl_s=3600, disk_budget_bytes=5 * GB,
                max_manifest_rows=20_000, max_decode_bytes=400 * MB,
                # a round is a few minutes of play; a kept round is ~400 bytes (9 genres),
                # so ~2,700 rounds
                max_challenge_covers=50, max_attempts_bytes=1 * MB,
                # embedding 1,000 covers is about a minute of both cores: the embedded
                # covers fit, a visitor's 20,000-cover zip does not
                max_page_covers=2_000)


def page_work_problem(n_covers: int, what: str) -> str | None:
    """Why a page must not embed or score ``n_covers`` covers for ``what`` now, or None.

    >>> import os; os.environ["COVER_LAB_PUBLIC"] = "1"
    >>> page_work_problem(5_000, "The style map")
    'The style map is limited to 2,000 covers on this server (5,000 here): run it on your own machine (python -m cover_model).'
    >>> page_work_problem(1_000, "The style map") is None
    True
    >>> del os.environ["COVER_LAB_PUBLIC"]
    """
    cap = limits().max_page_covers
    if cap and n_covers > cap:
        return (f"{what} is limited to {cap:,} covers on this server ({n_covers:,} here): run it "
                "on your own machine (python -m cover_model).")
    return None


def is_public() -> bool:
    """Whether this process serves strangers (``COVER_LAB_PUBLIC`` is 1/true/yes/on)."""
    return os.environ.get(PUBLIC_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def limits() -> Limits:
    """The limits in force: public or local, each moved by ``COVER_LAB_<FIELD>`` if set."""
    base = PUBLIC if is_public() else LOCAL
    moved = {}
    for field in dataclasses.fields(Limits):
        value = os.environ.get(f"COVER_LAB_{field.name.upper()}")
        if value:
            moved[field.name] = type(getattr(base, field.name))(float(value))
    return dataclasses.replace(base, **moved)


def allowed_roots() -> tuple[Path, ...]:
    """Folders whose contents a visitor may name as a dataset (public mode only)."""
    raw = os.environ.get(ALLOWED_ROOTS_ENV, "")
    return tuple(Path(p).expanduser().resolve() for p in raw.split(os.pathsep) if p.strip())


class AccessError(PermissionError):
    """A visitor named a server path that public mode does not let them read."""


def check_server_path(path) -> Path:
    """``path`` if this server lets the current user read it; else :class:`AccessError`.

    Outside public mode every path is allowed. In public mode the path must lie
    inside an allowed root once links and ``..`` are resolved, and the answer is
    the same whether or not it exists, so a refusal tells nothing of the server.
    """
    path = Path(str(path)).expanduser()
    if not is_public():
        return path
    if "\x00" in str(path):
        raise AccessError("that path is not allowed here")
    roots = allowed_roots()
    if not roots:
        raise AccessError("this public demo does not read folders on its server; "
                          "upload a zip of your covers instead")
    resolved = path.resolve() if path.is_absolute() else (roots[0] / path).resolve()
    if not any(resolved.is_relative_to(root) for root in roots):
        raise AccessError("that path is outside the folders this demo may read; "
                          "names are relative to " + ", ".join(_label(r) for r in roots))
    return resolved


def _label(root: Path) -> str:
    return f"'{root.name}'"


# --- what a visitor reads ---------------------------------------------------------

_ABSOLUTE_PATH = re.compile(r"(?<![\w.])/(?:[^\s'\"`:,;()\[\]<>]+/)*([^\s'\"`:,;()\[\]<>/]*)")


def visitor_message(text: str) -> str:
    """``text`` without server paths, for a visitor of a public demo.

    Known folders become their role (``data/``, ``checkpoints/``); any other
    absolute path becomes its last part. Outside public mode, ``text`` is returned
    unchanged: a local user wants the real path.

    >>> import os; os.environ["COVER_LAB_PUBLIC"] = "1"
    >>> visitor_message("/srv/app/data/imports/x-1/rock/a.jpg: truncated")
    'a.jpg: truncated'
    >>> del os.environ["COVER_LAB_PUBLIC"]
    """
    if not is_public():
        return text
    for root in sorted(_known_roots(), key=lambda r: -len(str(r))):
        text = text.replace(str(root) + "/", "").replace(str(root), ".")
    return _ABSOLUTE_PATH.sub(lambda m: m.group(1) or "/", text)


def _known_roots() -> list[Path]:
    roots = [PROJECT_ROOT, data_dir(), checkpoints_dir(), *allowed_roots()]
    return [r for root in roots for r in {Path(root), Path(root).resolve()}]


def log_error(exc: BaseException, where: str = "") -> str:
    """Log ``exc`` with its traceback under a short id, and return the id.

    The visitor sees the id, never the trace; the operator greps the log for it.
    """
    error_id = uuid.uuid4().hex[:8]
    log.error("error %s%s", error_id, f" in {where}" if where else "", exc_info=exc)
    return error_id
