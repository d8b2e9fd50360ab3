"""Reading link manifests: which URL goes to which path, under which genre.

Two formats:

- the paper's TSV (``dataset-links.tsv``): ``url<TAB><genre>/<name>.jpg``, no
  header; the genre is the path's first folder (``hiphop_rap`` = hiphop/rap);
- a CSV with a header and columns ``url, genre[, path]``; without a path a
  cover is saved as ``<genre>/<name from the url>``.

A line that cannot be used (a bad URL, a path that is absolute or climbs out
with ``..``, a duplicate path) becomes a :class:`Failure`, never an error: the
rest of the list still downloads.
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from ..genres import canonical_genre, folder_name

# Files the collector writes at the top of OUT_DIR; a cover may not take their place.
MANIFEST_NAME = "manifest.csv"
FAILURES_NAME = "failures.csv"
RESERVED_NAMES = frozenset({MANIFEST_NAME, FAILURES_NAME})
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Link:
    """One cover to fetch.

    Attributes
    ----------
    url : str
        http(s) URL of the image.
    path : str
        Where to save it, relative to OUT_DIR, with ``/`` separators.
    genre : str
        The paper's spelling (``hiphop/rap``), via :func:`canonical_genre`.
    line : int
        Line number in the link manifest (1-based), for messages.
    """
    url: str
    path: str
    genre: str
    line: int


@dataclass(frozen=True)
class Failure:
    """A link that did not produce a cover, and why.

    ``reason`` is a short stable code (``http_404``, ``timeout``, ``html_page``,
    ``empty_body``, ``truncated_image``, ``too_large``, ``unsafe_path``, ...);
    ``detail`` is a sentence for a person.
    """
    url: str
    path: str
    reason: str
    attempts: int
    detail: str = ""


def read_links(source) -> tuple[list[Link], list[Failure]]:
    """Read a link manifest (the paper's TSV, or a CSV ``url, genre[, path]``).

    Parameters
    ----------
    source : str or Path
        The manifest. A ``.csv`` file, or one whose first line has commas and
        no tab, is read as CSV with a header; anything else as the paper's TSV
        (blank lines, ``#`` comments and a first line starting ``url`` are skipped).

    Returns
    -------
    links : list of Link
        Usable links, in file order, each with a unique safe path.
    rejected : list of Failure
        Lines refused before any download (``bad_line``, ``bad_url``,
        ``unsafe_path``, ``duplicate_path``), with ``attempts=0``.

    Raises
    ------
    ValueError
        The file is missing, unreadable, or a CSV without a ``url`` and
        ``genre`` column.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> tsv = pathlib.Path(tempfile.mkdtemp()) / "links.tsv"
    >>> _ = tsv.write_text("http://h/img/a1_2.jpg\\thiphop_rap/a1.jpg\\n"
    ...                    "http://h/img/a2_2.jpg\\t../a2.jpg\\n")
    >>> links, rejected = read_links(tsv)
    >>> links[0].genre, links[0].path, rejected[0].reason
    ('hiphop/rap', 'hiphop_rap/a1.jpg', 'unsafe_path')
    """
    path = Path(source).expanduser()
    if not path.is_file():
        raise ValueError(f"{path}: no such link manifest")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot be read as text ({exc})") from None
    first_line = text.lstrip().split("\n", 1)[0]
    is_csv = path.suffix.lower() == ".csv" or ("\t" not in first_line and "," in first_line)
    links, rejected = _vet(_csv_rows(text, path) if is_csv else _tsv_rows(text))
    if not links and not rejected:
        raise ValueError(f"{path}: no links in this file")
    return links, rejected


def _tsv_rows(text: str):
    """(line, url, path, genre-or-None) for each line of the paper's TSV."""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#") or (number == 1 and line.lower().startswith("url")):
            continue
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) != 2:
            yield number, fields[0], "", None, f"expected 2 tab-separated fields, got {len(fields)}"
            continue
        yield number, fields[0], fields[1], None, None if fields[1] else "no path"


def _csv_rows(text: str, path: Path):
    reader = csv.DictReader(io.StringIO(text))
    columns = {(c or "").strip().lower(): c for c in reader.fieldnames or []}
    missing = [c for c in ("url", "genre") if c not in columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)} "
                         "(a CSV link manifest needs url, genre[, path])")
    for row in reader:
        values = {key: (row.get(column) or "").strip() for key, column in columns.items()}
        url, genre, rel = values["url"], values["genre"], values.get("path", "")
        if not url and not genre:
            continue
        # DictReader counts physical lines; the header is line 1.
        yield reader.line_num, url, rel, genre, None if genre else "no genre"


def _vet(rows) -> tuple[list[Link], list[Failure]]:
    links, rejected, seen = [], [], {}
    for line, url, rel, genre, problem in rows:
        reason, detail = ("bad_line", problem) if problem else _check_url(url)
        if reason is None:
            rel = rel or _path_from_url(url, genre)
            reason, detail = _check_path(rel)
        if reason is None and rel in seen:
            reason, detail = "duplicate_path", f"same path as line {seen[rel]}"
        if reason is None and genre is None:
            genre = PurePosixPath(rel).parts[0]
        if reason:
            rejected.append(Failure(url, rel, reason, 0, f"line {line}: {detail}"))
            continue
        seen[rel] = line
        links.append(Link(url=url, path=rel, genre=canonical_genre(genre), line=line))
    return links, rejected


def _check_url(url: str) -> tuple[str | None, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "bad_url", f"not an http(s) URL: {url!r}"
    return None, ""


def _check_path(rel: str) -> tuple[str | None, str]:
    """Refuse a path that could land outside OUT_DIR, or on the collector's own files."""
    if "\\" in rel or "\x00" in rel or re.match(r"^[A-Za-z]:", rel):
        return "unsafe_path", f"{rel!r}: only relative paths with '/' are allowed"
    parts = PurePosixPath(rel).parts
    if rel.startswith("/"):
        return "unsafe_path", f"{rel!r} is absolute"
    if ".." in parts:
        return "unsafe_path", f"{rel!r} climbs out of the output folder with '..'"
    if len(parts) < 2:
        return "unsafe_path", f"{rel!r}: expected <genre>/<file name>"
    if any(part.startswith(".") for part in parts):
        return "unsafe_path", f"{rel!r}: hidden names (starting with '.') are not allowed"
    if parts[0] in RESERVED_NAMES:
        return "unsafe_path", f"{rel!r} would replace the collector's own {parts[0]}"
    return None, ""


def _path_from_url(url: str, genre: str) -> str:
    """``<genre folder>/<url file name>``, made safe; a short URL hash keeps it unique."""
    stem = PurePosixPath(urlsplit(url).path).name
    stem = _SAFE_NAME.sub("_", stem).strip("._") or "cover"
    if "." not in stem:
        stem += ".jpg"
    name, dot, ext = stem.rpartition(".")
    tag = hashlib.sha1(url.encode()).hexdigest()[:8]
    return f"{folder_name(canonical_genre(genre))}/{name}-{tag}{dot}{ext}"


def safe_destination(out_dir: Path, rel: str) -> Path | None:
    """``out_dir / rel``, or None when it resolves outside ``out_dir`` (e.g. via a symlink)."""
    root = out_dir.resolve()
    target = (root / rel).resolve()
    return target if target.is_relative_to(root) and target != root else None
