"""Atomic file writes: a reader, or a crash, never leaves half a file behind.

Files and folders made here get the mode a plain ``open()`` or ``mkdir()`` would
give them (0666 or 0777, less the umask), not the 0600/0700 of :mod:`tempfile`:
a report, a downloaded cover or an unpacked dataset is for the other users of
the machine (and the server's other processes) to read too.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path


def _read_umask() -> int:
    """The process's umask. Linux reports it in /proc; elsewhere os.umask can only read
    it by setting it, so it is read once, at import, before any thread writes files."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(re.search(r"^Umask:\s*([0-7]+)", status, re.MULTILINE).group(1), 8)
    except (OSError, AttributeError):
        mask = os.umask(0o022)
        os.umask(mask)
        return mask


UMASK = _read_umask()
FILE_MODE = 0o666 & ~UMASK
FOLDER_MODE = 0o777 & ~UMASK


@contextmanager
def atomic_write(path, mode: str = "wb"):
    """Open a temp file beside ``path``; on success rename it over ``path``.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> with atomic_write(target, "w") as fh:
    ...     _ = fh.write("done")
    >>> target.read_text()
    'done'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)          # the mode open() would give, not mkstemp's 0600
        with os.fdopen(fd, mode) as fh:
            yield fh
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if exc.filename is None:          # a failed write() names no file; say which one
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def make_temp_dir(parent, prefix: str) -> Path:
    """A new, empty folder in ``parent`` (to fill, then rename into place), with the
    mode ``mkdir`` would give it, not mkdtemp's 0700."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    folder.chmod(FOLDER_MODE)
    return folder


def write_json(path, data: dict) -> None:
    """Write ``data`` as JSON, atomically."""
    with atomic_write(path, "w") as fh:
        json.dump(data, fh, indent=1)


def read_json(path) -> dict | None:
    """The JSON object at ``path``, or None when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


@contextmanager
def exclusive_lock(lock_file):
    """Hold an exclusive lock on ``lock_file`` (made if missing) for the ``with`` block: one
    process at a time, across the server's processes and jobs."""
    lock_file = Path(lock_file)
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)                    # closing releases the lock
