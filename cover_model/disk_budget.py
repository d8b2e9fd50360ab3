"""Disk that visitors can fill: their uploads, and what the server builds from them.

Two bounds, both from :func:`cover_model.public_mode.limits` (off outside public mode):

- **uploads** are kept per visitor (``data/uploads/<owner>/<hash>/<name>.zip``)
  under a quota, and removed once untouched for ``upload_ttl_s``;
- **derived data** (preprocessed arrays, embeddings, baseline results, unpacked
  zips) and the uploads share one disk budget: when it is exceeded, the least
  recently used entries go first. Readers mark an entry used (:func:`mark_used`),
  so what a running page or job needs is the last to go, and a cache that is
  evicted is simply rebuilt on its next use.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from pathlib import Path

from .atomic_files import atomic_write
from .paths import cache_dir, data_dir
from .public_mode import limits

# The folders whose entries the disk budget may evict, each a cache of something rebuildable.
CACHE_KINDS = ("preprocess", "embeddings", "baselines")
_WRITING_GRACE_S = 3600       # a hidden temp entry younger than this is being written


class QuotaError(ValueError):
    """An upload would take a visitor over their quota; the message says what to do."""


def uploads_dir() -> Path:
    return data_dir() / "uploads"


def imports_dir() -> Path:
    return data_dir() / "imports"


def save_upload(owner: str, name: str, data: bytes) -> Path:
    """Keep an uploaded file as ``uploads/<owner>/<content hash>/<name>`` (saved once).

    Before a new upload is written, expired uploads are cleared and the owner's quota
    is checked; after it, the disk budget is enforced (this upload is kept).

    Raises
    ------
    QuotaError
        The owner's stored uploads plus this one exceed the upload quota.
    """
    folder = uploads_dir() / _safe_part(owner)
    path = folder / hashlib.sha1(data).hexdigest()[:12] / _safe_name(name)
    if path.is_file():                 # every rerun of a page asks again: keep this cheap
        mark_used(path)
        return path
    expire_uploads()                   # only new uploads add to the disk
    quota = limits().upload_quota_bytes
    if quota and folder_bytes(folder) + len(data) > quota:
        raise QuotaError(f"{name}: your uploads would pass this demo's quota of "
                         f"{quota / 1024**2:,.0f} MB; uploads are removed after "
                         f"{limits().upload_ttl_s / 60:,.0f} minutes unused")
    with atomic_write(path) as fh:
        fh.write(data)
    mark_used(path)
    enforce_disk_budget(keep=(path.parent,))
    return path


def discard_upload(path) -> None:
    """Remove an upload (its hash folder), e.g. a zip that was refused."""
    path = Path(path)
    if path.parent.parent.parent == uploads_dir():
        shutil.rmtree(path.parent, ignore_errors=True)


def expire_uploads(*, now: float | None = None) -> int:
    """Remove uploads untouched for longer than the upload expiry; return how many."""
    ttl = limits().upload_ttl_s
    if not ttl or not uploads_dir().is_dir():
        return 0
    cutoff = (now or time.time()) - ttl
    removed = 0
    for owner in uploads_dir().iterdir():
        for upload in _children(owner):
            if _mtime(upload) < cutoff:
                shutil.rmtree(upload, ignore_errors=True)
                removed += 1
        if owner.is_dir() and not any(owner.iterdir()):
            owner.rmdir()
    return removed


def mark_used(path) -> None:
    """Record that ``path`` (a cache file, an import or anything inside one, an upload)
    was just used: the budget's entry holding it becomes the most recently used."""
    path = Path(path)
    for entry in (path, *_budget_entry_of(path)):
        try:
            os.utime(entry)
        except OSError:
            pass              # gone already (evicted) or read-only: nothing to record


def _budget_entry_of(path: Path) -> list[Path]:
    """The entry of the disk budget that holds ``path`` (e.g. the unpacked zip a dataset
    root lies in), or nothing."""
    for folder in (*(cache_dir() / kind for kind in CACHE_KINDS), imports_dir()):
        if path.is_relative_to(folder) and path != folder:
            return [folder / path.relative_to(folder).parts[0]]
    if path.is_relative_to(uploads_dir()) and len(path.relative_to(uploads_dir()).parts) >= 2:
        return [uploads_dir().joinpath(*path.relative_to(uploads_dir()).parts[:2])]
    return []


def enforce_disk_budget(*, keep=(), budget: int | None = None) -> list[Path]:
    """Evict least recently used caches, imports and uploads until they fit the budget.

    Parameters
    ----------
    keep : iterable of Path
        Entries never evicted by this call (what the caller is about to use).
    budget : int, optional
        Bytes; default ``limits().disk_budget_bytes`` (0 = no budget).

    Returns
    -------
    list of Path
        The entries removed, oldest first.
    """
    budget = limits().disk_budget_bytes if budget is None else budget
    if not budget:
        return []
    keep = {Path(k).resolve() for k in keep}
    entries = sorted(((_mtime(e), folder_bytes(e), e) for e in _budget_entries()),
                     key=lambda entry: entry[0])
    total = sum(size for _, size, _ in entries)
    removed = []
    for _, size, entry in entries:
        if total <= budget:
            break
        if entry.resolve() in keep:
            continue
        _remove(entry)
        total -= size
        removed.append(entry)
    return removed


def folder_bytes(path) -> int:
    """Bytes on disk under ``path`` (a file or a folder); 0 when it is gone."""
    path = Path(path)
    try:
        if path.is_file():
            return path.stat().st_size
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    except OSError:
        return 0


def _budget_entries():
    for kind in CACHE_KINDS:
        yield from _children(cache_dir() / kind)
    yield from _children(imports_dir())
    for owner in _children(uploads_dir()):
        yield from _children(owner)


def _children(folder: Path):
    """Entries of ``folder``, skipping temp entries still being written."""
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return []
    fresh = time.time() - _WRITING_GRACE_S
    return [e for e in entries if not (e.name.startswith(".") and _mtime(e) > fresh)]


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _remove(entry: Path) -> None:
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        entry.unlink(missing_ok=True)


def _safe_part(text: str) -> str:
    return re.sub(r"[^\w-]", "_", text)[:40] or "anonymous"


def _safe_name(name: str) -> str:
    """A file name that keeps the upload's own name readable in messages, but safe."""
    stem = re.sub(r"[^\w.-]", "_", Path(name).stem)[:40].lstrip(".") or "upload"
    suffix = re.sub(r"[^\w.]", "", Path(name).suffix)[:10]
    return stem + suffix
