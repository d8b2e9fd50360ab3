"""Safe extraction of a dataset zip (an upload from a stranger, in the demo).

Refuses path traversal, absolute paths, links and size or count bombs before
writing anything; nested archives are skipped and reported, not opened.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from .paths import data_dir

MAX_TOTAL_BYTES = 4 * 1024**3     # uncompressed, all members together
MAX_FILES = 100_000
MAX_RATIO = 200                   # uncompressed / compressed per member; JPEGs are ~1
NESTED_ARCHIVES = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar")
_CHUNK = 1 << 20
_DONE_MARKER = ".extracted"


class ArchiveError(ValueError):
    """A zip was refused as a whole; the message says why."""


def extract_zip(zip_path, *, extract_to: Path | None = None,
                max_total_bytes: int = MAX_TOTAL_BYTES,
                max_files: int = MAX_FILES) -> tuple[Path, list[tuple[str, str]]]:
    """Unpack a zip safely and return the dataset root inside it.

    The destination is keyed by the zip's content hash, so importing the same
    zip twice reuses the first extraction.

    Parameters
    ----------
    zip_path : str or Path
    extract_to : Path, optional
        Parent folder for extractions (default ``data/imports``).
    max_total_bytes, max_files : int
        Bounds on the uncompressed size and member count.

    Returns
    -------
    root : Path
        The folder holding the genre folders or ``manifest.csv``.
    skipped : list of (member name, reason)
        Members that were not extracted (nested archives).

    Raises
    ------
    ArchiveError
        Not a zip, an unsafe member path or link, or over the size/count bounds.
    """
    zip_path = Path(zip_path)
    dest = Path(extract_to or data_dir() / "imports") / f"{zip_path.stem}-{_sha1(zip_path)[:12]}"
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members, skipped = _vet_members(archive, zip_path.name, max_total_bytes, max_files)
            if not (dest / _DONE_MARKER).exists():
                _extract_atomically(archive, members, dest, max_total_bytes)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise ArchiveError(f"{zip_path.name}: not a valid zip file ({exc})") from None
    return _dataset_root(dest), skipped


def _vet_members(archive: zipfile.ZipFile, name: str, max_total_bytes: int, max_files: int):
    infos = [i for i in archive.infolist() if not i.is_dir()]
    if len(infos) > max_files:
        raise ArchiveError(f"{name}: {len(infos):,} files is over the limit of {max_files:,}")
    total = sum(i.file_size for i in infos)
    if total > max_total_bytes:
        raise ArchiveError(f"{name}: unpacks to {total:,} bytes, over the limit of "
                           f"{max_total_bytes:,} (possible zip bomb)")
    members, skipped = [], []
    for info in infos:
        _check_member_path(info, name)
        if info.compress_size and info.file_size > MAX_RATIO * info.compress_size:
            raise ArchiveError(f"{name}: {info.filename} compresses {info.file_size // info.compress_size}:1 "
                               "(possible zip bomb)")
        parts = PurePosixPath(info.filename).parts
        if any(p.startswith(".") or p == "__MACOSX" for p in parts):
            continue
        if info.filename.lower().endswith(NESTED_ARCHIVES):
            skipped.append((info.filename, "nested archive, not extracted"))
            continue
        members.append(info)
    return members, skipped


def _check_member_path(info: zipfile.ZipInfo, name: str) -> None:
    path = info.filename.replace("\\", "/")
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        raise ArchiveError(f"{name}: unsafe absolute path {info.filename!r}")
    if ".." in PurePosixPath(path).parts:
        raise ArchiveError(f"{name}: unsafe path {info.filename!r} points outside the archive")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise ArchiveError(f"{name}: {info.filename!r} is a symbolic link; links are not allowed")


def _extract_atomically(archive, members, dest: Path, max_total_bytes: int) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        written = 0
        for info in members:
            target = tmp / PurePosixPath(info.filename.replace("\\", "/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as src, open(target, "wb") as out:
                # Count real bytes: a member's declared size may lie.
                while chunk := src.read(_CHUNK):
                    written += len(chunk)
                    if written > max_total_bytes:
                        raise ArchiveError(f"{archive.filename}: unpacks to more than "
                                           f"{max_total_bytes:,} bytes (possible zip bomb)")
                    out.write(chunk)
        (tmp / _DONE_MARKER).touch()
        try:
            os.rename(tmp, dest)
        except OSError:           # another process finished the same zip first
            if not (dest / _DONE_MARKER).exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _dataset_root(folder: Path) -> Path:
    """Step down through wrapper folders (``covers.zip/covers/<genre>/...``).

    A lone folder is a wrapper when it holds folders or a manifest; a lone
    folder of images is a one-genre dataset and stays.
    """
    while True:
        entries = [e for e in folder.iterdir() if not e.name.startswith(".")]
        if len(entries) == 1 and entries[0].is_dir() and _is_wrapper(entries[0]):
            folder = entries[0]
        else:
            return folder


def _is_wrapper(folder: Path) -> bool:
    return any(e.is_dir() or e.name == "manifest.csv" for e in folder.iterdir())


def _sha1(path: Path) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
