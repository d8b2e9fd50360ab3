"""Fetching one cover politely: rate limit per host, retries with backoff, checked bodies.

:class:`Fetcher` does the HTTP (with ``requests``: a session per worker thread,
streamed bodies, a size cap checked while reading) and :func:`check_cover`
decides whether the bytes are a usable cover. Both raise :class:`FetchError`
with a short reason code, which ends up in ``failures.csv``.
"""
from __future__ import annotations

import random
import threading
import time
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError

from ..data.images import ImageDecodeError, decode_image
from .options import CollectConfig

CHUNK_BYTES = 64 * 1024
MAX_REDIRECTS = 5
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<?xml")


class FetchError(Exception):
    """One try (or all tries) at a URL failed.

    Attributes
    ----------
    reason : str
        Short code for ``failures.csv``: ``http_<status>``, ``timeout``,
        ``connection_error``, ``incomplete_body``, ``too_large``,
        ``empty_body``, ``html_page``, ``truncated_image``, ``bad_image``, ...
    detail : str
        A sentence for a person.
    retryable : bool
        Whether another try may succeed (timeouts, dropped connections, 408,
        429, 5xx).
    retry_after_s : float or None
        The server's ``Retry-After``, in seconds, when it sent one.
    attempts : int
        Tries made, filled in by :meth:`Fetcher.fetch`.
    """

    def __init__(self, reason: str, detail: str, *, retryable: bool = False,
                 retry_after_s: float | None = None):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail
        self.retryable, self.retry_after_s = retryable, retry_after_s
        self.attempts = 1


class Interrupted(Exception):
    """The run is stopping (Ctrl-C); the cover in hand is left for the next run."""


class HostRateLimiter:
    """Spaces requests to each host at least ``1 / rate_per_host`` seconds apart.

    Thread-safe: each caller reserves the next free slot of its host and sleeps
    until then. :meth:`defer` pushes a host's next slot back (a 429's
    ``Retry-After`` slows every worker, not just the one that was told).
    """

    def __init__(self, rate_per_host: float):
        self.interval_s = 1.0 / rate_per_host if rate_per_host > 0 else 0.0
        self._next_slot: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, host: str, stop: threading.Event) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot.get(host, now))
            self._next_slot[host] = slot + self.interval_s
        if slot > now and stop.wait(slot - now):
            raise Interrupted

    def defer(self, host: str, seconds: float) -> None:
        with self._lock:
            until = time.monotonic() + seconds
            self._next_slot[host] = max(self._next_slot.get(host, until), until)


def backoff_delay(attempt: int, *, base_s: float, max_s: float,
                  retry_after_s: float | None = None, rng=random) -> float | None:
    """Seconds to wait before try ``attempt + 1``, or None to give up.

    Exponential (``base_s * 2**(attempt - 1)``, capped at ``max_s``) with
    "equal jitter": a random value between half and all of it, so workers that
    failed together do not retry together. A server's ``Retry-After`` is a
    floor; one longer than ``max_s`` means give up for this run.

    >>> backoff_delay(1, base_s=1.0, max_s=60.0, rng=random.Random(0)) <= 1.0
    True
    >>> backoff_delay(1, base_s=0.01, max_s=60.0, retry_after_s=2.0)
    2.0
    >>> backoff_delay(1, base_s=1.0, max_s=60.0, retry_after_s=3600.0) is None
    True
    """
    delay = min(max_s, base_s * 2 ** (attempt - 1)) * (0.5 + rng.random() / 2)
    if retry_after_s is not None:
        if retry_after_s > max_s:
            return None
        delay = max(delay, retry_after_s)
    return delay


def parse_retry_after(value: str | None) -> float | None:
    """A ``Retry-After`` header (seconds, or an HTTP date) in seconds from now.

    >>> parse_retry_after("3"), parse_retry_after(None), parse_retry_after("soon")
    (3.0, None, None)
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT")   # in the past: now
    0.0
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


class Fetcher:
    """Downloads URLs with retries, a per-host rate limit and a size cap.

    One ``requests.Session`` per worker thread (sessions are not thread-safe),
    each keeping its connection alive between covers.

    Parameters
    ----------
    config : CollectConfig
    stop : threading.Event, optional
        Set it to make waiting workers give up at once (Ctrl-C).
    """

    def __init__(self, config: CollectConfig, *, stop: threading.Event | None = None):
        self.config = config
        self.stop = stop or threading.Event()
        self.limiter = HostRateLimiter(config.rate_per_host)
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()

    def fetch(self, url: str) -> tuple[bytes, int]:
        """The checked body of ``url`` and the number of tries it took.

        Raises
        ------
        FetchError
            After the last try, or at once when retrying cannot help; its
            ``attempts`` says how many tries were made.
        Interrupted
            :attr:`stop` was set.
        """
        host = urlsplit(url).netloc
        attempt = 0
        while True:
            attempt += 1
            if self.stop.is_set():
                raise Interrupted
            self.limiter.wait(host, self.stop)
            try:
                body, content_type = self._get(url)
                check_cover(body, content_type=content_type)
                return body, attempt
            except FetchError as exc:
                exc.attempts = attempt
                if not exc.retryable or attempt > self.config.retries:
                    raise
                delay = backoff_delay(attempt, base_s=self.config.backoff_base_s,
                                      max_s=self.config.backoff_max_s,
                                      retry_after_s=exc.retry_after_s)
                if delay is None:
                    exc.detail += (f"; the server asked to wait {exc.retry_after_s:.0f} s, "
                                   f"more than backoff_max_s={self.config.backoff_max_s:g}")
                    raise
                if exc.retry_after_s:
                    self.limiter.defer(host, exc.retry_after_s)
                if self.stop.wait(delay):
                    raise Interrupted from None

    def _get(self, url: str) -> tuple[bytes, str]:
        """One try: status checked, body read up to the size cap."""
        timeout = (self.config.connect_timeout_s, self.config.read_timeout_s)
        try:
            with self._session().get(url, stream=True, timeout=timeout) as response:
                if not 200 <= response.status_code < 300:
                    raise _status_error(response)
                body = _read_capped(response, self.config.max_bytes)
                return body, response.headers.get("Content-Type", "")
        except requests.ConnectTimeout:
            raise FetchError("timeout", f"no connection within connect_timeout_s="
                             f"{self.config.connect_timeout_s:g}", retryable=True) from None
        except requests.Timeout:
            raise self._read_timeout() from None
        except requests.exceptions.ChunkedEncodingError:
            raise FetchError("incomplete_body", "the connection closed before the whole body "
                             "arrived", retryable=True) from None
        except requests.ConnectionError as exc:
            # requests reports a read timeout while streaming as a ConnectionError.
            if exc.args and isinstance(exc.args[0], ReadTimeoutError):
                raise self._read_timeout() from None
            raise FetchError("connection_error", _first_line(exc), retryable=True) from None
        except requests.TooManyRedirects:
            raise FetchError("too_many_redirects", f"more than {MAX_REDIRECTS} redirects") from None
        except requests.RequestException as exc:
            raise FetchError("request_error", _first_line(exc)) from None

    def _read_timeout(self) -> FetchError:
        return FetchError("timeout", f"no data for read_timeout_s={self.config.read_timeout_s:g}",
                          retryable=True)

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers.update({"User-Agent": self.config.user_agent,
                                    "Accept": "image/*",
                                    # images do not compress; identity also rules out gzip bombs
                                    "Accept-Encoding": "identity"})
            session.max_redirects = MAX_REDIRECTS
            adapter = HTTPAdapter(max_retries=0, pool_connections=4, pool_maxsize=1)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._local.session = session
            with self._sessions_lock:
                self._sessions.append(session)
        return session

    def close(self) -> None:
        with self._sessions_lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()


def check_cover(body: bytes, *, content_type: str = "") -> None:
    """Refuse a body that is not a usable cover; it is fully decoded to be sure.

    Raises
    ------
    FetchError
        ``empty_body``, ``html_page`` (an error page served with status 200),
        ``truncated_image`` or ``bad_image`` (the decoder's message as detail).
    """
    if not body:
        raise FetchError("empty_body", "the server sent no bytes")
    head = body[:512].lstrip().lower()
    if content_type.lower().startswith("text/html") or head.startswith(_HTML_STARTS):
        raise FetchError("html_page", f"an HTML page ({content_type or 'no Content-Type'}), "
                         "not an image")
    try:
        decode_image(body)
    except ImageDecodeError as exc:
        message = str(exc).removeprefix("image: ")
        reason = "truncated_image" if "truncated" in message else "bad_image"
        raise FetchError(reason, message) from None


def _read_capped(response: requests.Response, max_bytes: int) -> bytes:
    """The body, refused as soon as it is known to pass ``max_bytes``."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError("too_large", f"Content-Length {int(declared):,} bytes is over "
                         f"max_bytes={max_bytes:,}")
    chunks, n_bytes = [], 0
    for chunk in response.iter_content(CHUNK_BYTES):
        n_bytes += len(chunk)
        if n_bytes > max_bytes:
            raise FetchError("too_large", f"response passed max_bytes={max_bytes:,} "
                             "while streaming")
        chunks.append(chunk)
    return b"".join(chunks)


def _status_error(response: requests.Response) -> FetchError:
    status = response.status_code
    return FetchError(f"http_{status}", f"HTTP {status} {response.reason or ''}".strip(),
                      retryable=status in (408, 429) or status >= 500,
                      retry_after_s=parse_retry_after(response.headers.get("Retry-After")))


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]
