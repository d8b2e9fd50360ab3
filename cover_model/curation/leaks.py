"""The leak check: near-duplicate covers across splits and genres, by perceptual hashes.

Every cover gets a 64-bit pHash and a 64-bit dHash (``imagehash``); two covers are
near-duplicates when both Hamming distances are within their thresholds. Pairs are
compared a block of rows at a time (never an N x N matrix), joined into groups
(connected components: a copy of a copy is in the group too), and reported with
what they cross: splits (a leak) and genres (a label conflict). The fix is a
manifest whose ``group`` column joins each duplicate group, so a group-aware split
keeps it on one side; cross-genre groups can be dropped instead.

    python -m cover_model leaks DATA                          # the report
    python -m cover_model leaks DATA --write-manifest fixed.csv [--drop-cross-genre]

The thresholds and the speed are measured in bench/bench_leaks.py (docs/leak-check.md).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import imagehash
import numpy as np
import pandas as pd
from PIL import Image
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..atomic_files import atomic_write
from ..data.dataset import Dataset, Skipped
from ..data.feature_pack import stored_values
from ..data.images import ImageDecodeError, decode_image
from ..disk_budget import enforce_disk_budget, mark_used
from ..paths import cache_dir

# Measured on planted copies of the synthetic and real covers (bench/bench_leaks.py):
# these find every rescaled, recompressed and recoloured copy and most 5%-crops,
# with no false pair among the ~5,000 real covers nor the 1,000 synthetic ones.
MAX_PHASH_BITS = 10              # of 64; both distances must be within their bound
MAX_DHASH_BITS = 12
# A near-flat cover has no structure to hash: its bits are noise, and two plain covers
# of any colours would pair. Grey-level standard deviation (0-255) of the hashed thumbnail.
MIN_CONTRAST = 4.0
HASH_INPUT_PX = 64               # decode at least this big (JPEG DCT scaling): pHash reads 32 x 32
BLOCK_ROWS = 1024                # rows compared at once: a 1024 x N uint64 block, not N x N
CACHE_VERSION = 1                # bump when a hash changes
_PROGRESS_EVERY = 64             # covers between progress reports


@dataclass(frozen=True)
class CoverHashes:
    """The perceptual hashes of a dataset's covers, aligned with its rows.

    Attributes
    ----------
    phash, dhash : ndarray of shape (n,), uint64
        The 8 x 8 bits of each hash, packed row-major.
    contrast : ndarray of shape (n,), float32
        Grey-level standard deviation; below :data:`MIN_CONTRAST` a cover is too plain to pair.
    ok : ndarray of shape (n,), bool
        False where the cover could not be decoded (see ``skipped``).
    skipped : tuple of Skipped
    """
    phash: np.ndarray
    dhash: np.ndarray
    contrast: np.ndarray
    ok: np.ndarray
    skipped: tuple[Skipped, ...] = ()


@dataclass(frozen=True)
class LeakReport:
    """Near-duplicate pairs of one dataset and the groups they form.

    Attributes
    ----------
    pairs : DataFrame
        One row per pair: ``a``, ``b`` (rows of ``dataset.items``, a < b), ``phash``,
        ``dhash`` (Hamming distances in bits), ``group``, ``cross_split``, ``cross_genre``.
    group_of : ndarray of shape (n,), int64
        Duplicate group of each row, or -1 for a cover with no near-duplicate.
    n_plain : int
        Covers too plain (near-flat) to be compared; never paired.
    skipped : tuple of Skipped
        Covers that could not be decoded.
    """
    pairs: pd.DataFrame
    group_of: np.ndarray
    n_plain: int
    skipped: tuple[Skipped, ...]

    @property
    def n_groups(self) -> int:
        return int(self.group_of.max()) + 1 if len(self.group_of) else 0

    def groups(self, dataset: Dataset) -> pd.DataFrame:
        """One row per duplicate group: its size, genres, splits, and what it crosses."""
        rows = dataset.items.assign(dup_group=self.group_of)[self.group_of >= 0]
        table = rows.groupby("dup_group").agg(
            n_covers=("path", "size"),
            genres=("genre", lambda g: ", ".join(sorted(set(g)))),
            splits=("split", lambda s: ", ".join(sorted(set(s) - {""}))))
        table["cross_genre"] = rows.groupby("dup_group")["genre"].nunique() > 1
        table["cross_split"] = rows.groupby("dup_group")["split"].nunique() > 1
        return table

    def summary(self) -> dict:
        """Counts for a report line: pairs, groups, covers in them, and what they cross."""
        crossing = self.pairs.groupby("group")[["cross_split", "cross_genre"]].any()
        return {"pairs": len(self.pairs), "groups": self.n_groups,
                "covers_in_groups": int((self.group_of >= 0).sum()),
                "cross_split_pairs": int(self.pairs["cross_split"].sum()),
                "cross_genre_pairs": int(self.pairs["cross_genre"].sum()),
                "cross_split_groups": int(crossing["cross_split"].sum()),
                "cross_genre_groups": int(crossing["cross_genre"].sum()),
                "plain_covers": self.n_plain, "undecodable": len(self.skipped)}


def check_leaks(dataset: Dataset, *, max_phash: int = MAX_PHASH_BITS,
                max_dhash: int = MAX_DHASH_BITS, n_jobs: int | None = None,
                use_cache: bool = True, progress=None) -> LeakReport:
    """Find the near-duplicate covers of a dataset, and which cross splits or genres.

    Parameters
    ----------
    dataset : Dataset
    max_phash, max_dhash : int
        Largest Hamming distances (bits of 64) of a pair; both must hold.
    n_jobs : int, optional
        Decoding threads (default: all cores).
    use_cache : bool, default=True
        Hashes are cached by the dataset's fingerprint.
    progress : callable, optional
        ``progress(done, total)`` as covers are hashed.

    Returns
    -------
    LeakReport
    """
    hashes = hash_covers(dataset, n_jobs=n_jobs, use_cache=use_cache, progress=progress)
    usable = hashes.ok & (hashes.contrast >= MIN_CONTRAST)
    rows = np.flatnonzero(usable)
    a, b, d_phash, d_dhash = find_pairs(hashes.phash[rows], hashes.dhash[rows],
                                        max_phash=max_phash, max_dhash=max_dhash)
    a, b = rows[a], rows[b]
    group_of = duplicate_groups(len(dataset), a, b)
    genre, split = dataset.items["genre"].to_numpy(), dataset.items["split"].to_numpy()
    pairs = pd.DataFrame({"a": a, "b": b, "phash": d_phash, "dhash": d_dhash,
                          "group": group_of[a], "cross_split": split[a] != split[b],
                          "cross_genre": genre[a] != genre[b]})
    n_plain = int((hashes.ok & ~usable).sum())
    return LeakReport(pairs, group_of, n_plain, hashes.skipped)


def hash_covers(dataset: Dataset, *, n_jobs: int | None = None, use_cache: bool = True,
                progress=None) -> CoverHashes:
    """pHash and dHash of every cover; cached on disk by the dataset's fingerprint. A
    features-only dataset (the real covers' pack) has them stored."""
    if dataset.features_only:
        phash, dhash, contrast = (stored_values(dataset, name) for name in ("phash", "dhash", "contrast"))
        return CoverHashes(phash, dhash, contrast, np.ones(len(dataset), bool))
    path = cache_dir() / "preprocess" / f"{dataset.fingerprint}-hashes-v{CACHE_VERSION}.npz"
    if use_cache and (cached := _read_cache(path)) is not None:
        mark_used(path)
        return cached
    hashes = _hash_all(dataset.items["path"].tolist(), n_jobs or os.cpu_count() or 1, progress)
    if use_cache:
        _write_cache(path, hashes)
        enforce_disk_budget(keep=(path,))
    return hashes


def hash_image(rgb: np.ndarray) -> tuple[int, int, float]:
    """pHash, dHash (as unsigned 64-bit ints) and contrast of one RGB cover.

    >>> ramp = np.repeat(np.tile(np.arange(0, 256, 4, dtype=np.uint8), (64, 1))[..., None], 3, 2)
    >>> p, d, contrast = hash_image(ramp)
    >>> bin(d).count("1"), round(contrast)           # brighter to the right, everywhere
    (64, 74)
    """
    grey = Image.fromarray(rgb).convert("L")
    phash, dhash = imagehash.phash(grey), imagehash.dhash(grey)
    return _packed(phash), _packed(dhash), float(np.asarray(grey).std())


def _packed(image_hash) -> int:
    return int(np.packbits(image_hash.hash.ravel()).view(">u8")[0])


def find_pairs(phash: np.ndarray, dhash: np.ndarray, *, max_phash: int, max_dhash: int,
               block_rows: int | None = None):
    """Pairs ``i < j`` whose pHash and dHash distances are both within bounds.

    Rows are compared ``block_rows`` at a time against the rows after them, so memory
    is ``block_rows x n`` bytes (default :data:`BLOCK_ROWS`), never ``n x n``; popcount
    is numpy's ``bitwise_count``.

    Returns
    -------
    a, b : ndarray of int64
        The pairs' rows (``a < b``), in order.
    d_phash, d_dhash : ndarray of uint8
        Their distances in bits.

    >>> p = np.array([0, 0b111, 2**64 - 1], np.uint64)
    >>> [x.tolist() for x in find_pairs(p, p, max_phash=3, max_dhash=3)]
    [[0], [1], [3], [3]]
    """
    found, block_rows = [], block_rows or BLOCK_ROWS
    for start in range(0, len(phash), block_rows):
        stop = min(start + block_rows, len(phash))
        d_p = np.bitwise_count(phash[start:stop, None] ^ phash[None, start:])
        d_d = np.bitwise_count(dhash[start:stop, None] ^ dhash[None, start:])
        close = (d_p <= max_phash) & (d_d <= max_dhash)
        close &= np.arange(start, stop)[:, None] < np.arange(start, len(phash))[None, :]
        i, j = np.nonzero(close)
        found.append((i + start, j + start, d_p[i, j], d_d[i, j]))
    if not found:
        return (np.zeros(0, np.int64),) * 2 + (np.zeros(0, np.uint8),) * 2
    return tuple(np.concatenate(column) for column in zip(*found))


def duplicate_groups(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Group id of each of ``n`` rows joined by the pairs (a, b), or -1 for a row in none.

    >>> duplicate_groups(5, np.array([3, 0]), np.array([4, 3])).tolist()
    [0, -1, -1, 0, 0]
    """
    _, component = _components(n, a, b)
    paired = np.zeros(n, bool)
    paired[a], paired[b] = True, True
    ids = np.full(n, -1, np.int64)
    _, ids[paired] = np.unique(component[paired], return_inverse=True)
    return ids


def _components(n: int, a, b) -> tuple[int, np.ndarray]:
    graph = coo_matrix((np.ones(len(a), bool), (a, b)), shape=(n, n))
    return connected_components(graph, directed=False)


def fixed_dataset(dataset: Dataset, report: LeakReport, *, drop_cross_genre: bool = False) -> Dataset:
    """``dataset`` with each duplicate group joined into one split group, its splits cleared.

    A row's new ``group`` joins its own group (an artist, say) with those of its
    near-duplicates, transitively, so a group-aware split keeps every copy on one side;
    a row in neither keeps its group, or is named by its path (a group of one). The
    splits are cleared so that loading the fix splits it by these groups.

    Parameters
    ----------
    drop_cross_genre : bool, default=False
        Drop every cover of a duplicate group that carries more than one genre: its
        labels disagree, and nothing says which is right.
    """
    items = dataset.items.copy()
    original = items["group"].astype(str).to_numpy()
    items["group"] = _joined_groups(original, report, dataset.relative_paths())
    items["split"] = ""
    if drop_cross_genre:
        conflicted = report.groups(dataset).query("cross_genre").index
        items = items[~np.isin(report.group_of, conflicted)]
    return replace(dataset, items=items.reset_index(drop=True))


def _joined_groups(original: np.ndarray, report: LeakReport, paths: list[str]) -> np.ndarray:
    """One name per connected set of rows, joined by duplicate pairs or a shared group."""
    n = len(original)
    named = np.flatnonzero(original != "")
    _, first_of_name = np.unique(original[named], return_index=True)
    _, name_id = np.unique(original[named], return_inverse=True)
    a = np.concatenate([report.pairs["a"].to_numpy(), named])
    b = np.concatenate([report.pairs["b"].to_numpy(), named[first_of_name][name_id]])
    _, component = _components(n, a, b)
    names = pd.Series(original).groupby(component).agg(lambda g: "+".join(sorted(set(g) - {""})))
    joined = names.loc[component].to_numpy().astype(object)
    alone = joined == ""
    joined[alone] = np.asarray(paths, dtype=object)[alone]
    in_group = report.group_of >= 0
    joined[alone & in_group] = [f"duplicates-{g}" for g in report.group_of[alone & in_group]]
    return joined


def write_fixed_manifest(dataset: Dataset, report: LeakReport, out: Path, *,
                         drop_cross_genre: bool = False) -> Path:
    """Write the fix (:func:`fixed_dataset`) as a manifest CSV at ``out``; never over the
    dataset's own manifest. Paths are relative to ``out``'s folder, so it loads from there."""
    out = Path(out).resolve()
    if out == (dataset.root / "manifest.csv").resolve() or out.suffix.lower() != ".csv":
        raise ValueError(f"{out.name}: write the fixed manifest to a new .csv file, "
                         "not over the dataset's own manifest")
    table = fixed_dataset(dataset, report, drop_cross_genre=drop_cross_genre).manifest(
        relative_to=out.parent)
    with atomic_write(out, "w") as fh:
        table.to_csv(fh, index=False)
    return out


def _hash_all(paths: list[str], n_jobs: int, progress) -> CoverHashes:
    n = len(paths)
    phash, dhash = np.zeros(n, np.uint64), np.zeros(n, np.uint64)
    contrast, ok = np.zeros(n, np.float32), np.zeros(n, bool)
    skipped = []
    # Threads suffice: the JPEG decoder and PIL's resize release the GIL.
    with ThreadPoolExecutor(max_workers=n_jobs) as pool:
        for row, result in enumerate(pool.map(_hash_file, paths)):
            if isinstance(result, Skipped):
                skipped.append(result)
            else:
                phash[row], dhash[row], contrast[row] = result
                ok[row] = True
            if progress and ((row + 1) % _PROGRESS_EVERY == 0 or row + 1 == n):
                progress(row + 1, n)
    return CoverHashes(phash, dhash, contrast, ok, tuple(skipped))


def _hash_file(path: str):
    """The hashes of one cover, or why it was skipped."""
    try:
        return hash_image(decode_image(path, draft_px=HASH_INPUT_PX))
    except ImageDecodeError as exc:
        return Skipped(path, str(exc).removeprefix(f"{path}: "))


def _read_cache(path: Path) -> CoverHashes | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = [data[name] for name in ("phash", "dhash", "contrast", "ok")]
            return CoverHashes(*arrays, tuple(Skipped(str(p), str(r)) for p, r in data["skipped"]))
    except (OSError, ValueError, KeyError, EOFError):   # missing or damaged: rebuilt
        return None


def _write_cache(path: Path, hashes: CoverHashes) -> None:
    skipped = np.array([(s.path, s.reason) for s in hashes.skipped], dtype=str).reshape(-1, 2)
    with atomic_write(path) as fh:
        np.savez(fh, phash=hashes.phash, dhash=hashes.dhash, contrast=hashes.contrast,
                 ok=hashes.ok, skipped=skipped)
