"""The collection run: every link of a manifest to a checked file in OUT_DIR.

Resumable and idempotent: a cover already in OUT_DIR that decodes is kept and
not fetched again; each new one is written atomically (temp file + rename)
after it has been decoded in full, so a killed run leaves no half file under a
cover's name. ``manifest.csv`` (the covers present) and ``failures.csv`` (what
is missing, and why) are rewritten at the end of every run.
"""
from __future__ import annotations

import csv
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic_files import atomic_write
from ..data.images import ImageDecodeError, decode_image
from ..genres import order_classes
from .fetch import Fetcher, FetchError
from .links import FAILURES_NAME, MANIFEST_NAME, Failure, Link, read_links, safe_destination
from .options import CollectConfig

FAILURE_COLUMNS = ("url", "path", "reason", "attempts", "detail")
MANIFEST_COLUMNS = ("path", "genre", "url")


@dataclass(frozen=True)
class Outcome:
    """What happened to one link: ``present`` (kept from an earlier run),
    ``downloaded`` or ``failed``."""
    status: str
    n_bytes: int = 0
    failure: Failure | None = None


@dataclass
class CollectSummary:
    """The result of one run.

    Attributes
    ----------
    n_links : int
        Lines in the link manifest, refused ones included.
    n_downloaded, n_present : int
        Covers fetched by this run, and covers already in OUT_DIR.
    failures : list of Failure
        Everything that did not become a cover (also in ``failures.csv``).
    genres : tuple of str
        Genres of the covers present, in the paper's order when they are its genres.
    n_bytes_downloaded : int
    seconds : float
    interrupted : bool
        The run was stopped early; links not reached are neither covers nor failures.
    """
    out_dir: Path
    n_links: int = 0
    n_downloaded: int = 0
    n_present: int = 0
    failures: list[Failure] = field(default_factory=list)
    genres: tuple[str, ...] = ()
    n_bytes_downloaded: int = 0
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def n_covers(self) -> int:
        return self.n_downloaded + self.n_present

    @property
    def manifest_path(self) -> Path:
        return self.out_dir / MANIFEST_NAME

    @property
    def failures_path(self) -> Path:
        return self.out_dir / FAILURES_NAME

    def reasons(self) -> Counter:
        """Failures per reason code, most common first."""
        return Counter(f.reason for f in self.failures)

    def describe(self) -> str:
        """A few lines for a person: counts, speed, failures by reason, where things went."""
        rate = self.n_downloaded / self.seconds if self.seconds > 0 else 0.0
        lines = [f"{self.n_links:,} links: {self.n_downloaded:,} downloaded, "
                 f"{self.n_present:,} already there, {len(self.failures):,} failed "
                 f"({self.seconds:.1f} s, {rate:,.1f} covers/s, "
                 f"{self.n_bytes_downloaded / 1e6:,.1f} MB)"]
        if self.failures:
            lines.append("failed: " + ", ".join(f"{reason} {n:,}"
                                                for reason, n in self.reasons().most_common()))
        lines.append(f"dataset: {self.manifest_path} ({self.n_covers:,} covers, "
                     f"{len(self.genres)} genres)")
        if self.failures:
            lines.append(f"failures: {self.failures_path} (run the same command again "
                         "to retry them)")
        return "\n".join(lines)


class CollectInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run; ``summary`` holds what was done (also written to disk)."""

    def __init__(self, summary: CollectSummary):
        super().__init__("collection interrupted")
        self.summary = summary


def collect(links, out_dir, *, config: CollectConfig | None = None,
            progress=None) -> CollectSummary:
    """Download the covers of a link manifest into a dataset folder.

    Parameters
    ----------
    links : str or Path
        The paper's TSV (``url<TAB><genre>/<name>.jpg``) or a CSV
        ``url, genre[, path]``; see :func:`read_links`.
    out_dir : str or Path
        Dataset folder; covers go to ``out_dir/<path>``. Created if needed.
    config : CollectConfig, optional
        Workers, rate limit, timeouts, size cap, retries (polite defaults).
    progress : callable, optional
        ``progress(done, total)`` after each link.

    Returns
    -------
    CollectSummary
        ``out_dir/manifest.csv`` lists the covers present (load it with
        :func:`cover_model.data.dataset.load_dataset`); ``out_dir/failures.csv``
        lists url, path, reason, attempts and detail of the rest.

    Raises
    ------
    ValueError
        The link manifest is missing or unreadable.
    CollectInterrupted
        On Ctrl-C, after writing the manifest and failures of the work done.
    """
    config = config or CollectConfig()
    start = time.perf_counter()
    items, rejected = read_links(links)
    out_dir = Path(out_dir).expanduser()
    out_dir.mkdir(parents=True, exist_ok=True)
    targets, escaped = _destinations(items, out_dir)
    _remove_stale_temp_files(targets)
    outcomes, interrupted = _run_pool(targets, config, progress)
    summary = _summarise(items, outcomes, rejected + escaped, out_dir)
    summary.n_links = len(items) + len(rejected)
    summary.seconds, summary.interrupted = time.perf_counter() - start, interrupted
    _write_outputs(summary, items, outcomes)
    if interrupted:
        raise CollectInterrupted(summary)
    return summary


def _destinations(items: list[Link], out_dir: Path):
    """Each link's file in ``out_dir``; links that would resolve outside it are failures."""
    targets, escaped = {}, []
    for index, link in enumerate(items):
        dest = safe_destination(out_dir, link.path)
        if dest is None:
            escaped.append(Failure(link.url, link.path, "unsafe_path", 0,
                                   f"line {link.line}: resolves outside {out_dir}"))
        else:
            targets[index] = (link, dest)
    return targets, escaped


def _run_pool(targets: dict, config: CollectConfig, progress):
    """Fetch every target in a thread pool; (outcomes by link index, interrupted)."""
    stop = threading.Event()
    fetcher = Fetcher(config, stop=stop)
    outcomes: dict[int, Outcome] = {}
    pool = ThreadPoolExecutor(config.workers, thread_name_prefix="collect")
    futures = {pool.submit(_collect_one, link, dest, fetcher): index
               for index, (link, dest) in targets.items()}
    interrupted = False
    try:
        for done, future in enumerate(as_completed(futures), start=1):
            outcomes[futures[future]] = future.result()
            if progress:
                progress(done, len(futures))
    except KeyboardInterrupt:
        interrupted = True
        stop.set()              # waiting workers give up; covers in hand are still written
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        fetcher.close()
    for future, index in futures.items():   # finished after the interrupt
        if future.done() and not future.cancelled() and future.exception() is None:
            outcomes[index] = future.result()
    return outcomes, interrupted


def _collect_one(link: Link, dest: Path, fetcher: Fetcher) -> Outcome:
    if _is_valid_cover(dest):
        return Outcome("present", dest.stat().st_size)
    try:
        body, _ = fetcher.fetch(link.url)
    except FetchError as exc:
        return Outcome("failed", failure=Failure(link.url, link.path, exc.reason,
                                                 exc.attempts, exc.detail))
    try:
        with atomic_write(dest, "wb") as fh:
            fh.write(body)
    except OSError as exc:
        return Outcome("failed", failure=Failure(link.url, link.path, "write_error", 1,
                                                 f"{dest}: {exc.strerror or exc}"))
    return Outcome("downloaded", len(body))


def _is_valid_cover(path: Path) -> bool:
    """A file from an earlier run counts only when it decodes in full."""
    if not path.is_file():
        return False
    try:
        decode_image(path)
    except ImageDecodeError:
        return False      # e.g. a half file from another tool: fetched again, replaced
    return True


def _remove_stale_temp_files(targets: dict) -> None:
    """Delete temp files a killed run left beside covers (``.<name>-<random>``)."""
    names_by_folder: dict[Path, set[str]] = {}
    for _, dest in targets.values():
        names_by_folder.setdefault(dest.parent, set()).add(dest.name)
    for folder, names in names_by_folder.items():
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            stem = entry.name[1:].rpartition("-")[0]
            if entry.name.startswith(".") and stem in names and entry.is_file():
                entry.unlink(missing_ok=True)


def _summarise(items: list[Link], outcomes: dict[int, Outcome], refused: list[Failure],
               out_dir: Path) -> CollectSummary:
    summary = CollectSummary(out_dir=out_dir, failures=list(refused))
    for index in sorted(outcomes):
        outcome = outcomes[index]
        if outcome.status == "failed":
            summary.failures.append(outcome.failure)
        elif outcome.status == "present":
            summary.n_present += 1
        else:
            summary.n_downloaded += 1
            summary.n_bytes_downloaded += outcome.n_bytes
    summary.genres = order_classes(items[i].genre for i, o in outcomes.items()
                                   if o.status != "failed")
    return summary


def _write_outputs(summary: CollectSummary, items: list[Link],
                   outcomes: dict[int, Outcome]) -> None:
    covers = [items[i] for i in sorted(outcomes) if outcomes[i].status != "failed"]
    with atomic_write(summary.manifest_path, "w") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(MANIFEST_COLUMNS)
        writer.writerows((link.path, link.genre, link.url) for link in covers)
    with atomic_write(summary.failures_path, "w") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(FAILURE_COLUMNS)
        writer.writerows((f.url, f.path, f.reason, f.attempts, f.detail)
                         for f in summary.failures)
