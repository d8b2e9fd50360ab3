"""The collector's settings: one dataclass behind the CLI flags."""
from __future__ import annotations

from dataclasses import dataclass

from .. import __version__
from ..config import Config, option

USER_AGENT = (f"CoverGenreLab/{__version__} (album-cover genre research: rebuilding a "
              "published dataset; rate-limited, one copy per cover)")


@dataclass(frozen=True)
class CollectConfig(Config):
    """How covers are downloaded. The defaults are polite to one CDN host:
    10,000 covers take about 35 minutes at 5 requests/s."""
    workers: int = option(4, "downloads in flight at once", ge=1, le=64)
    rate_per_host: float = option(5.0, "most requests per second to one host, retries "
                                  "included (0 = no limit)", ge=0)
    connect_timeout_s: float = option(10.0, "seconds to wait for a connection", gt=0)
    read_timeout_s: float = option(30.0, "seconds to wait for the server between two reads",
                                   gt=0)
    max_bytes: int = option(5_000_000, "largest response kept, in bytes; checked while "
                            "streaming (a 350x350 cover is about 50 kB)", gt=0)
    retries: int = option(4, "tries after the first, for timeouts, dropped connections, "
                          "429 and 5xx (never for 404/410)", ge=0)
    backoff_base_s: float = option(1.0, "wait before the first retry; doubles on each "
                                   "retry, with random jitter", ge=0)
    backoff_max_s: float = option(120.0, "longest wait between tries; a longer Retry-After "
                                  "from the server gives up on that cover for this run",
                                  ge=0)
    user_agent: str = option(USER_AGENT, "User-Agent header sent with every request")

    def problems(self) -> list[str]:
        return [] if self.user_agent.strip() else ["user_agent must not be empty"]
