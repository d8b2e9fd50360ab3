"""Labelled cover datasets: loading from a folder, a manifest CSV or a zip.

A :class:`Dataset` is an ordered table of items (path, genre, label, group,
split) plus its class names. Files that cannot be used are skipped and listed
in ``Dataset.skipped``, never fatal. Splits live in :mod:`cover_model.data.splits`.

    python -m cover_model dataset PATH          # summary, skipped files, fingerprint
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import pandas as pd

from .. import public_mode
from ..genres import canonical_genre, order_classes
from .archive import ArchiveError, extract_zip
from .feature_pack import PACK_DIR, load_pack
from .images import DEFAULT_LIMITS, ImageDecodeError, ImageLimits, open_image

EMBEDDED = "synth"               # the name of the embedded synthetic covers, wherever DATA is asked
REAL_FEATURES = "real-features"  # the real covers as numbers only: the features pack (feature_pack.py)
START_DATA_ENV = "COVER_LAB_START_DATA"   # the dashboard's first dataset: real-features or synth
MANIFEST_NAME = "manifest.csv"
REQUIRED_COLUMNS = ("path", "genre")
SPLITS = ("train", "val", "test")
_DERIVED_COLUMNS = ("label", "n_bytes")      # computed on loading, never in a manifest
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
_ONE_PER_FILE = ("genre", "split", "group")    # what two rows of one file must agree on
_CONFLICTS_SHOWN = 3


class DatasetError(ValueError):
    """A dataset cannot be loaded at all; the message says why."""


@dataclass(frozen=True)
class Skipped:
    """One file left out of a dataset, and why."""
    path: str
    reason: str


@dataclass(frozen=True, eq=False)
class Dataset:
    """An ordered table of labelled covers.

    Attributes
    ----------
    items : DataFrame
        One row per cover: ``path`` (absolute), ``genre``, ``label`` (int id
        into ``class_names``), ``group`` (e.g. artist; may be empty), ``split``
        (train/val/test or empty), ``n_bytes``, and any extra manifest columns.
    class_names : tuple of str
        The paper's order when the genres are the paper's, else sorted.
    root : Path
        The folder paths are shown relative to.
    skipped : tuple of Skipped
        Files that were left out, with the reason.
    stored : FeaturePack or None
        Where the covers are numbers only (the real covers' features pack), those numbers,
        rows in ``items`` order; the ``path`` column then names no file.
    """
    items: pd.DataFrame
    class_names: tuple[str, ...]
    root: Path
    skipped: tuple[Skipped, ...] = field(default=())
    stored: object = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def features_only(self) -> bool:
        """Numbers only, no pixels: steps that need pictures cannot run on it."""
        return self.stored is not None

    @property
    def has_groups(self) -> bool:
        return bool((self.items["group"] != "").any())

    @cached_property
    def fingerprint(self) -> str:
        """A stable hash of the relative paths, sizes and labels; keys every cache."""
        digest = hashlib.sha256("\n".join(self.class_names).encode())
        for rel, n_bytes, genre in zip(self.relative_paths(), self.items["n_bytes"],
                                       self.items["genre"]):
            digest.update(f"\n{rel}\t{n_bytes}\t{genre}".encode())
        return digest.hexdigest()[:16]

    def relative_paths(self) -> list[str]:
        root = str(self.root).rstrip("/") + "/"
        return [p[len(root):] if p.startswith(root) else p for p in self.items["path"]]

    def manifest(self, *, relative_to: Path | None = None) -> pd.DataFrame:
        """The items as a manifest CSV holds them: no derived columns (label, n_bytes),
        paths relative to the dataset's folder (:meth:`relative_paths`) or to
        ``relative_to``, the folder the manifest will be written in, so it loads from there."""
        columns = [c for c in self.items.columns if c not in _DERIVED_COLUMNS]
        paths = (self.relative_paths() if relative_to is None else
                 [os.path.relpath(p, Path(relative_to).resolve()) for p in self.items["path"]])
        return self.items[columns].assign(path=paths)

    def relative(self, path: str) -> str:
        """``path`` relative to the dataset's folder when inside it (as a skipped file's), else as is."""
        return _relative(path, self.root)

    def subset(self, split: str) -> "Dataset":
        """The items of one split, with the same class names."""
        rows = self.items[self.items["split"] == split].reset_index(drop=True)
        return replace(self, items=rows)

    def sample(self, n_per_class: int, *, seed: int = 0) -> pd.DataFrame:
        """Up to ``n_per_class`` random rows of each genre, in class order."""
        picked = [rows.sample(min(n_per_class, len(rows)), random_state=seed)
                  for _, rows in self.items.groupby("label", sort=True)]
        return pd.concat(picked, ignore_index=True)

    def counts(self) -> pd.DataFrame:
        """Covers per genre (rows, in class order) and split (columns), with totals."""
        table = pd.crosstab(self.items["genre"], self.items["split"].replace("", "unsplit"),
                            margins=True, margins_name="total")
        order = [g for g in self.class_names if g in table.index] + ["total"]
        columns = [s for s in (*SPLITS, "unsplit") if s in table.columns] + ["total"]
        return table.loc[order, columns]


def load_dataset(source, *, limits: ImageLimits = DEFAULT_LIMITS,
                 extract_to: Path | None = None, progress=None,
                 split_values: tuple[str, ...] | None = SPLITS) -> Dataset:
    """Load a dataset from a folder, a manifest CSV or a zip holding either.

    Parameters
    ----------
    source : str or Path
        ``root/<genre>/*`` folder; a folder holding ``manifest.csv``; a CSV
        with columns ``path, genre[, group, split, ...]`` (paths relative to
        the CSV); a ``.zip`` of any of these; ``"synth"``, the embedded
        synthetic covers (generated on first use); or ``"real-features"``, the
        real covers' features pack (numbers only, no pixels).
    limits : ImageLimits
        Files whose header breaks these bounds are skipped.
    extract_to : Path, optional
        Where zips are unpacked (default: ``data/imports/``).
    progress : callable, optional
        ``progress(done, total)`` while the synthetic covers are generated.
    split_values : tuple of str or None, default=("train", "val", "test")
        What a manifest's ``split`` column may hold; None accepts any name (a
        ``holdout`` split, say), for data that is only scored, never trained on.

    Returns
    -------
    Dataset

    Raises
    ------
    DatasetError
        The source is missing, of an unknown kind, a bad CSV or zip, or holds
        no usable image at all.
    """
    if str(source) == REAL_FEATURES:
        return real_covers_dataset()
    if str(source) == EMBEDDED:
        from ..synth import ensure_default_dataset
        source = ensure_default_dataset(progress=progress)
    path = Path(source).expanduser()
    try:
        if path.suffix.lower() == ".zip" and path.is_file():
            return _load_zip(path, limits, extract_to, split_values)
        return _load_path(path, limits, split_values, shown=str(path))
    except OSError as exc:                        # a name too long, a folder we may not list
        raise DatasetError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def real_covers_dataset(folder: Path = PACK_DIR) -> Dataset:
    """The real covers' features pack as a Dataset with its own splits, numbers only.

    Raises
    ------
    DatasetError
        The pack is missing (a partial checkout).
    """
    pack = load_pack(folder)
    if pack is None:
        raise DatasetError(f"the real covers' features pack is missing from {Path(folder).name}/ "
                           "(rebuild it: python -m cover_model pack --data ../shared/data/real-covers)")
    root = Path(folder).resolve()
    items = pack.covers.assign(path=[str(root / i) for i in pack.covers["id"]], n_bytes=0,
                               pack_row=range(len(pack)))
    items = items[["path", "genre", "label", "group", "split", "source", "id", "pack_row", "n_bytes"]]
    return Dataset(items, pack.class_names, root, stored=pack)


def _load_path(path: Path, limits: ImageLimits, split_values, *, shown: str) -> Dataset:
    """A folder or a manifest; messages call it ``shown`` (a zip's name, not where it was unpacked)."""
    if not path.exists():
        raise DatasetError(f"{shown}: no such file or folder")
    if path.is_dir():
        manifest = path / MANIFEST_NAME
        if manifest.is_file():
            return _load_manifest(manifest, limits, split_values, shown=f"{shown}/{MANIFEST_NAME}")
        return _load_folder(path, limits, shown=shown)
    if path.suffix.lower() == ".csv":
        return _load_manifest(path, limits, split_values, shown=shown)
    raise DatasetError(f"{shown}: expected a folder, a .csv manifest or a .zip")


def _load_zip(path: Path, limits: ImageLimits, extract_to: Path | None, split_values) -> Dataset:
    try:
        root, skipped = extract_zip(path, extract_to=extract_to)
    except ArchiveError as exc:
        raise DatasetError(str(exc)) from None
    dataset = _load_path(root, limits, split_values, shown=path.name)
    return replace(dataset, skipped=tuple(Skipped(p, r) for p, r in skipped) + dataset.skipped)


def _load_folder(root: Path, limits: ImageLimits, *, shown: str) -> Dataset:
    root = root.resolve()
    genre_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not _hidden(d.name))
    if not genre_dirs:
        raise DatasetError(f"{shown}: no genre folders (expected <genre>/<image files> inside it)")
    cap, rows = public_mode.limits().max_manifest_rows, []
    for genre_dir in genre_dirs:
        files = []
        for path in _files_under(genre_dir):
            files.append(path)
            if len(rows) + len(files) > cap:      # stop walking: the count alone refuses it
                raise DatasetError(f"{shown}: more than {cap:,} files, over the limit of "
                                   f"{cap:,} per dataset")
        rows += [{"path": str(f), "genre": canonical_genre(genre_dir.name)} for f in sorted(files)]
    return _build(pd.DataFrame(rows, columns=["path", "genre"]), root, limits, shown=shown)


def _files_under(folder: Path):
    """The files under ``folder``, in no set order; hidden files and folders are left out
    (and not walked). Symbolic links to folders are not followed."""
    for parent, folders, names in os.walk(folder):
        folders[:] = [name for name in folders if not _hidden(name)]
        for name in names:
            path = Path(parent) / name
            if not _hidden(name) and path.is_file():
                yield path


def _load_manifest(csv_path: Path, limits: ImageLimits, split_values=SPLITS, *, shown: str) -> Dataset:
    cap = public_mode.limits().max_manifest_rows
    try:          # at most one row past the cap: a huge manifest is refused without reading it all
        table = pd.read_csv(csv_path, dtype=str, keep_default_na=False, nrows=cap + 1)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DatasetError(f"{shown}: not a readable CSV ({exc})") from None
    if len(table) > cap:
        raise DatasetError(f"{shown}: more than {cap:,} rows, over the limit of {cap:,} per manifest")
    table.columns = [c.strip().lower() for c in table.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise DatasetError(f"{shown}: missing column(s) {', '.join(missing)} "
                           f"(a manifest needs {', '.join(REQUIRED_COLUMNS)}[, group, split])")
    root = csv_path.parent.resolve()
    table["genre"] = table["genre"].map(canonical_genre)
    table["path"] = [_resolve(root, p.strip()) for p in table["path"]]
    table, repeats = _one_row_per_file(table, root, shown=shown)
    dataset = _build(table, root, limits, split_values, shown=shown)
    return replace(dataset, skipped=tuple(repeats) + dataset.skipped)


def _one_row_per_file(table: pd.DataFrame, root: Path, *, shown: str):
    """Refuse a file listed on two rows that disagree on its genre, split or group (it would
    load as two covers, one per genre, and could sit in train and in test with two labels);
    drop an exact repeat, with a note.

    Returns
    -------
    table : DataFrame
        One row per file, the first of each.
    repeats : list of Skipped
        The rows dropped, each naming the row it repeats.
    """
    if table.empty:                                   # refused later: no usable images
        return table, []
    rows = table.assign(row=table.index + 2)          # as a spreadsheet numbers them: header is 1
    for column in ("split", "group"):
        rows[column] = rows[column].str.strip() if column in rows else ""
    rows["split"] = rows["split"].str.lower()
    # Paths are resolved already (_resolve): inside the folder means under its prefix. The
    # others are skipped later with their own reason (outside, NUL byte, no path).
    inside = rows["path"].str.startswith(f"{root}/") & ~rows["path"].str.contains("\x00", regex=False)
    listed = rows[inside.astype(bool)]
    repeated = listed[listed["path"].duplicated(keep=False)]
    conflicts = [(path, group, [c for c in _ONE_PER_FILE if group[c].nunique() > 1])
                 for path, group in repeated.groupby("path", sort=False)]
    conflicts = [(path, group, differ) for path, group, differ in conflicts if differ]
    if conflicts:
        raise DatasetError(_conflicts_message(conflicts, root, shown))
    again = repeated[repeated["path"].duplicated(keep="first")]
    first = repeated.drop_duplicates("path").set_index("path")["row"]
    repeats = [Skipped(_printable(path), f"listed again on row {row}, the same as row {first[path]}; "
                                         "kept once") for path, row in zip(again["path"], again["row"])]
    return table.drop(index=again.index).reset_index(drop=True), repeats


def _conflicts_message(conflicts, root: Path, shown: str) -> str:
    """``conflicts``: (path, its rows, the columns they disagree on); the first few spelled out."""
    differ = [c for c in _ONE_PER_FILE if any(c in columns for _, _, columns in conflicts)]
    what = " or ".join(f"{c}s" for c in differ)
    listed = [f"{_relative(path, root)!r} on " + " and ".join(
        f"row {r.row} ({', '.join(getattr(r, c) or f'no {c}' for c in columns)})"
        for r in rows.itertuples()) for path, rows, columns in conflicts[:_CONFLICTS_SHOWN]]
    n = len(conflicts)
    more = f"; and {n - _CONFLICTS_SHOWN} more" if n > _CONFLICTS_SHOWN else ""
    return (f"{shown}: {n} file{'s are' if n > 1 else ' is'} listed on more than one row with "
            f"different {what} (a cover has one genre and one split; keep one row per file): "
            + "; ".join(listed) + more)


def _resolve(root: Path, path: str) -> str:
    """A manifest's path, absolute; one that cannot be resolved is kept as given, for
    :func:`_check_item` to skip with the reason."""
    if not path or "\x00" in path:
        return path
    return str((root / path).resolve())


def _build(table: pd.DataFrame, root: Path, limits: ImageLimits, split_values=SPLITS, *,
           shown: str) -> Dataset:
    root = root.resolve()
    for column in ("group", "split"):
        if column not in table.columns:
            table[column] = ""
    table["split"] = table["split"].str.strip().str.lower()
    keep, sizes, skipped = [], [], []
    for path, genre in zip(table["path"], table["genre"]):
        reason = _check_item(path, genre, root, limits)
        if reason:
            skipped.append(Skipped(_printable(path), reason))
        else:
            sizes.append(Path(path).stat().st_size)
        keep.append(reason is None)
    items = table[keep].reset_index(drop=True)
    if items.empty:
        detail = f"; e.g. {_relative(skipped[0].path, root)}: {skipped[0].reason}" if skipped else ""
        raise DatasetError(f"{shown}: no usable images ({len(skipped)} skipped{detail})")
    bad_splits = sorted(set(items["split"]) - {"", *SPLITS, *(split_values or ())})
    if bad_splits and split_values is not None:
        raise DatasetError(f"{shown}: unknown split value(s) {bad_splits}; use {', '.join(SPLITS)}")
    class_names = order_classes(items["genre"])
    items["label"] = items["genre"].map({g: i for i, g in enumerate(class_names)}).astype(int)
    items["n_bytes"] = sizes
    front = ["path", "genre", "label", "group", "split", "n_bytes"]
    items = items[front + [c for c in items.columns if c not in front]]
    return Dataset(items=items, class_names=class_names, root=root, skipped=tuple(skipped))


def _check_item(path: str, genre: str, root: Path, limits: ImageLimits) -> str | None:
    """Why an item cannot be used, or None. Reads only the image header."""
    if not genre:
        return "no genre"
    if not path:
        return "no path"
    if "\x00" in path:
        return "path holds a NUL byte"
    if not Path(path).is_relative_to(root):
        return "outside the dataset folder"
    try:
        open_image(path, limits=limits).close()
    except ImageDecodeError as exc:
        return str(exc).removeprefix(f"{path}: ")
    return None


def _printable(path: str) -> str:
    """``path`` with control characters (a NUL, a newline) escaped, so a listing stays one line a file."""
    return _CONTROL_CHARACTERS.sub(lambda match: repr(match.group())[1:-1], path)


def _relative(path: str, root: Path) -> str:
    """``path`` as the dataset names it: relative to its folder, when inside it."""
    return os.path.relpath(path, root) if Path(path).is_relative_to(root) else path


def _hidden(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"
