"""Safe extraction of a dataset zip (an upload from a stranger, in the demo).

Refuses path traversal, absolute paths, links, names no folder can hold, a
member that is both a file and a folder, members that need a password or a
compression zipfile cannot read, and size or count bombs, before writing
anything; nested archives are skipped and reported, not opened.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

from ..atomic_files import make_temp_dir
from ..paths import data_dir

MAX_TOTAL_BYTES = 4 * 1024**3     # uncompressed, all members together
MAX_FILES = 100_000
MAX_RATIO = 200                   # uncompressed / compressed per member; JPEGs are ~1
MAX_NAME_PART_BYTES = 255         # one file or folder name (Linux, macOS, Windows filesystems)
MAX_NAME_BYTES = 1024             # a whole member path
NESTED_ARCHIVES = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
_ENCRYPTED_FLAG = 0x1             # general-purpose bit 0: ZipCrypto or AES, a password is needed
_READABLE_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "Deflate",
                     zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "LZMA"}
_METHOD_NAMES = {9: "Deflate64", 93: "Zstandard", 95: "xz", 98: "PPMd", 99: "AES"}
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
        Not a zip, an unsafe member path or link, a member that needs a password or
        an unreadable compression, or over the size/count bounds.
    """
    zip_path = Path(zip_path)
    dest = Path(extract_to or data_dir() / "imports") / f"{zip_path.stem}-{_sha1(zip_path)[:12]}"
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members, skipped = _vet_members(archive, zip_path.name, max_total_bytes, max_files)
            if not (dest / _DONE_MARKER).exists():
                _extract_atomically(archive, zip_path.name, members, dest, max_total_bytes)
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
        parts = _parts(info)
        if any(p.startswith(".") or p == "__MACOSX" for p in parts):
            continue
        if info.filename.lower().endswith(NESTED_ARCHIVES):
            skipped.append((info.filename, "nested archive, not extracted"))
            continue
        _check_readable(info, name)
        members.append(info)
    if not members:
        raise ArchiveError(_no_covers(name, [member for member, _ in skipped]))
    _check_files_and_folders(members, name)
    return members, skipped


def _parts(info: zipfile.ZipInfo) -> tuple[str, ...]:
    """A member's path as it will be written, one name per folder level."""
    return PurePosixPath(info.filename.replace("\\", "/")).parts


def _no_covers(name: str, nested: list[str]) -> str:
    if not nested:
        return f"{name}: holds no covers"
    plural = "s" if len(nested) > 1 else ""
    return (f"{name}: holds no covers; skipped nested archive{plural} {', '.join(nested)} "
            "(nested archives are not opened)")


def _check_member_path(info: zipfile.ZipInfo, name: str) -> None:
    path = info.filename.replace("\\", "/")
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        raise ArchiveError(f"{name}: unsafe absolute path {info.filename!r}")
    if ".." in PurePosixPath(path).parts:
        raise ArchiveError(f"{name}: unsafe path {info.filename!r} points outside the archive")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise ArchiveError(f"{name}: {info.filename!r} is a symbolic link; links are not allowed")
    if _CONTROL_CHARACTERS.search(path):
        raise ArchiveError(f"{name}: {_shown(path)} has a control character in its name")
    longest = max((len(os.fsencode(part)) for part in _parts(info)), default=0)
    if longest > MAX_NAME_PART_BYTES:
        raise ArchiveError(f"{name}: {_shown(path)} has a name of {longest:,} bytes, over the "
                           f"limit of {MAX_NAME_PART_BYTES} for a file or folder (name too long)")
    if len(os.fsencode(path)) > MAX_NAME_BYTES:
        raise ArchiveError(f"{name}: {_shown(path)} has a path of {len(os.fsencode(path)):,} "
                           f"bytes, over the limit of {MAX_NAME_BYTES:,} (name too long)")


def _check_readable(info: zipfile.ZipInfo, name: str) -> None:
    """Refuse a member zipfile would raise on when opened (RuntimeError for a password,
    NotImplementedError for a compression it lacks): here, before anything is written."""
    if info.flag_bits & _ENCRYPTED_FLAG:
        raise ArchiveError(f"{name}: {_shown(info.filename)} is encrypted; upload a zip "
                           "without a password")
    if info.compress_type not in _READABLE_METHODS:
        method = info.compress_type
        named = f" ({_METHOD_NAMES[method]})" if method in _METHOD_NAMES else ""
        raise ArchiveError(f"{name}: {_shown(info.filename)} is compressed with method {method}"
                           f"{named}, which cannot be read here; zip it again with the usual "
                           "compression (Deflate)")


def _shown(member: str, n_chars: int = 60) -> str:
    """A member's name as a message quotes it: a long one cut short."""
    return repr(member) if len(member) <= n_chars else repr(member[:n_chars]) + "..."


def _check_files_and_folders(members: list[zipfile.ZipInfo], name: str) -> None:
    """Refuse a path that is a file and also a folder of another member (``a.jpg`` and
    ``a.jpg/b.jpg``): one of them could not be written."""
    files = {_parts(info): info.filename for info in members}
    for info in members:
        parts = _parts(info)
        for depth in range(1, len(parts)):
            if parts[:depth] in files:
                raise ArchiveError(f"{name}: {files[parts[:depth]]!r} is both a file and a folder "
                                   f"({info.filename!r} is inside it)")


def _extract_atomically(archive, name: str, members, dest: Path, max_total_bytes: int) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(dest.parent, prefix=f".{dest.name}-")
    try:
        written = 0
        for info in members:
            target = tmp.joinpath(*_parts(info))
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, open(target, "wb") as out:
                    # Count real bytes: a member's declared size may lie.
                    while chunk := src.read(_CHUNK):
                        written += len(chunk)
                        if written > max_total_bytes:
                            raise ArchiveError(f"{name}: unpacks to more than "
                                               f"{max_total_bytes:,} bytes (possible zip bomb)")
                        out.write(chunk)
            except OSError as exc:        # whatever the checks above did not foresee
                raise ArchiveError(f"{name}: cannot unpack {_shown(info.filename)} "
                                   f"({exc.strerror or exc})") from None
            except (RuntimeError, NotImplementedError) as exc:    # zipfile's own refusals
                raise ArchiveError(f"{name}: cannot unpack {_shown(info.filename)} ({exc})") from None
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
