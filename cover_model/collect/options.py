"""The collector's settings: one dataclass behind the CLI flags."""
from __future__ import annotations

from dataclasses import dataclass

from .. import __version__
from ..config import option

USER_AGENT = (f"CoverGenreLab/{__version__} (album-cover genre research: rebuilding a "
              "published dataset; rate-limited, one copy per cover)")


@dataclass(frozen=True)
class CollectConfig:
    """How covers are downloaded. The defaults are polite to one CDN host:
    10,000 covers take about 35 minutes at 5 requests/s."""
    workers: int = option(4, "downloads in flight at once")
    rate_per_host: float = option(5.0, "most requests per second to one host, retries "
                                  "included (0 = no limit)")
    connect_timeout_s: float = option(10.0, "seconds to wait for a connection")
    read_timeout_s: float = option(30.0, "seconds to wait for the server between two reads")
    max_bytes: int = option(5_000_000, "largest response kept, in bytes; checked while "
                            "streaming (a 350x350 cover is about 50 kB)")
    retries: int = option(4, "tries after the first, for timeouts, dropped connections, "
                          "429 and 5xx (never for 404/410)")
    backoff_base_s: float = option(1.0, "wait before the first retry; doubles on each "
                                   "retry, with random jitter")
    backoff_max_s: float = option(120.0, "longest wait between tries; a longer Retry-After "
                                  "from the server gives up on that cover for this run")
    user_agent: str = option(USER_AGENT, "User-Agent header sent with every request")

    def __post_init__(self):
        if not 1 <= self.workers <= 64:
            raise ValueError(f"workers must be between 1 and 64, got {self.workers}")
        if self.retries < 0 or self.max_bytes <= 0:
            raise ValueError("retries must be >= 0 and max_bytes > 0")
        if min(self.connect_timeout_s, self.read_timeout_s) <= 0:
            raise ValueError("timeouts must be positive")
        if min(self.rate_per_host, self.backoff_base_s, self.backoff_max_s) < 0:
            raise ValueError("rate_per_host and backoff times must be >= 0")
        if not self.user_agent.strip():
            raise ValueError("user_agent must not be empty")
