"""Download covers from a link manifest (the paper's Bandcamp list) into a dataset folder.

    python -m cover_model collect ../shared/data/bandcamp-links/dataset-links.tsv data/bandcamp
    python -m cover_model dataset data/bandcamp --split-scheme paper

Polite (a few workers, a per-host rate limit, a User-Agent naming the project,
backoff with jitter that honours ``Retry-After``), resumable (covers already
there are kept; writes are atomic) and careful (every body is decoded in full
before it is kept; HTML error pages, empty, truncated and oversized responses
are refused and recorded in ``failures.csv``).

- :mod:`.links`: reading the TSV/CSV link manifests, confining paths to OUT_DIR;
- :mod:`.fetch`: one URL -> a checked body (rate limit, retries, size cap);
- :mod:`.run`: the whole run, ``manifest.csv`` and ``failures.csv``.
"""
from .fetch import Fetcher, FetchError, HostRateLimiter, backoff_delay, check_cover
from .links import FAILURES_NAME, MANIFEST_NAME, Failure, Link, read_links
from .options import USER_AGENT, CollectConfig
from .run import CollectInterrupted, CollectSummary, collect

__all__ = [
    "CollectConfig", "CollectInterrupted", "CollectSummary", "FAILURES_NAME", "Failure",
    "FetchError", "Fetcher", "HostRateLimiter", "Link", "MANIFEST_NAME", "USER_AGENT",
    "backoff_delay", "check_cover", "collect", "read_links",
]
