"""A local stand-in for a cover CDN, well and badly behaved, on 127.0.0.1.

Each URL path gets a behaviour (default ``ok``); the server counts requests
and complete image deliveries per path, so tests can check that every good
cover was delivered exactly once.

    with FakeCoverServer() as server:
        server.behaviours["/img/a1_2.jpg"] = "not_found"
        url = server.url("/img/a1_2.jpg")
"""
from __future__ import annotations

import io
import threading
import time
import zlib
from collections import Counter, defaultdict
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import numpy as np
from PIL import Image

# What each behaviour does to a GET (n = how many times this path was asked for).
BEHAVIOURS = {
    "ok": "200 with the image",
    "slow": "waits slow_s, then 200 with the image",
    "timeout": "sends nothing for hang_s, then closes",
    "stall": "sends the headers and half the image, then nothing for hang_s",
    "not_found": "404",
    "gone": "410",
    "rate_limited": "429 with Retry-After: retry_after_s the first time, then the image",
    "retry_after_too_long": "429 with Retry-After: 3600, always",
    "flaky_500": "500 the first time, then the image",
    "always_500": "500, always",
    "html": "200 with an HTML error page",
    "empty": "200 with an empty body",
    "truncated": "200 with the first 60% of the image (a complete HTTP response)",
    "dropped": "promises the whole image, sends half, closes; always",
    "dropped_once": "like dropped the first time, then the image",
    "oversized": "200 with a Content-Length of oversize_bytes",
    "oversized_chunked": "200, chunked, no Content-Length, oversize_bytes of data",
    "redirect": "301 to another path that serves the image",
}
_MOVED = "/moved"


def cover_jpeg(key: str, *, size_px: int = 64) -> bytes:
    """A deterministic cover-like JPEG for ``key``: smooth colour fields plus grain."""
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    base = Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8))
    smooth = np.asarray(base.resize((size_px, size_px), Image.Resampling.BICUBIC), np.int16)
    grain = rng.normal(0, 12, smooth.shape).astype(np.int16)
    buf = io.BytesIO()
    Image.fromarray(np.clip(smooth + grain, 0, 255).astype(np.uint8)).save(buf, "JPEG",
                                                                           quality=85)
    return buf.getvalue()


class FakeCoverServer:
    """A threaded HTTP server on 127.0.0.1 with per-path behaviours and counters.

    Parameters
    ----------
    latency_s : float
        Added before every response (a CDN's round trip).
    slow_s, hang_s : float
        How long ``slow`` waits (under the client's timeout) and how long
        ``timeout``/``stall`` hang (over it).
    retry_after_s : int
        Retry-After sent by ``rate_limited``.
    oversize_bytes : int
        Body size of ``oversized`` and ``oversized_chunked``.
    image_px : int
        Side of the generated covers.

    Attributes
    ----------
    behaviours : dict of str to str
        URL path -> a key of :data:`BEHAVIOURS`.
    requests : Counter
        GETs per path.
    served : Counter
        Complete image deliveries (status 200, whole body written) per path.
    request_times : dict of str to list of float
        ``time.monotonic()`` of each GET per path.
    user_agents : set of str
    """

    def __init__(self, *, latency_s: float = 0.0, slow_s: float = 0.2, hang_s: float = 3.0,
                 retry_after_s: int = 1, oversize_bytes: int = 400_000, image_px: int = 64):
        self.latency_s, self.slow_s, self.hang_s = latency_s, slow_s, hang_s
        self.retry_after_s, self.oversize_bytes, self.image_px = retry_after_s, oversize_bytes, image_px
        self.behaviours: dict[str, str] = {}
        self.requests: Counter = Counter()
        self.served: Counter = Counter()
        self.request_times: dict[str, list[float]] = defaultdict(list)
        self.user_agents: set[str] = set()
        self.lock = threading.Lock()
        self._deliveries = 0                             # images being sent and not yet counted
        self._delivered = threading.Condition(self.lock)
        self.stopping = threading.Event()
        self._images: dict[str, bytes] = {}
        self._httpd = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05})

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def rewrite(self, line: str) -> str:
        """A link line (``url<TAB>path``) with its URL's scheme and host replaced by ours."""
        url, rest = line.split("\t", 1)
        parts = urlsplit(url)
        return f"{self.base_url}{parts.path}\t{rest}"

    def image_bytes(self, path: str) -> bytes:
        with self.lock:
            if path not in self._images:
                self._images[path] = cover_jpeg(path, size_px=self.image_px)
            return self._images[path]

    def total_served(self) -> int:
        with self.lock:
            return sum(self.served.values())

    def snapshot(self) -> tuple[Counter, Counter]:
        """Copies of (requests, served), taken under the lock once no image is half-way
        through delivery: a client can hold a whole image, and be done, a moment before
        its handler has counted it (a busy machine made that moment long enough to see)."""
        with self._delivered:
            self._delivered.wait_for(lambda: self._deliveries == 0, timeout=60)
            return Counter(self.requests), Counter(self.served)

    @contextmanager
    def delivering(self):
        """Around sending an image and counting it, for :meth:`snapshot` to wait on."""
        with self._delivered:
            self._deliveries += 1
        try:
            yield
        finally:
            with self._delivered:
                self._deliveries -= 1
                self._delivered.notify_all()

    def start(self) -> "FakeCoverServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()            # wakes handlers that hang
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> "FakeCoverServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True          # hanging handlers never hold up a test's exit
    block_on_close = False

    def handle_error(self, request, client_address) -> None:
        pass                       # clients that hang up early are part of the script


def _handler_for(server: FakeCoverServer):
    class Handler(_CoverHandler):
        fake = server
    return Handler


class _CoverHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"           # keep-alive, as a CDN would
    disable_nagle_algorithm = True          # else headers and body wait on a delayed ACK (40 ms)
    fake: FakeCoverServer

    def log_message(self, *args) -> None:   # quiet test output
        pass

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        key = path.removeprefix(_MOVED)
        with self.fake.lock:
            if not path.startswith(_MOVED):
                self.fake.requests[key] += 1
                self.fake.request_times[key].append(time.monotonic())
            n = self.fake.requests[key]
            self.fake.user_agents.add(self.headers.get("User-Agent", ""))
        behaviour = "ok" if path.startswith(_MOVED) else self.fake.behaviours.get(key, "ok")
        if self.fake.latency_s:
            time.sleep(self.fake.latency_s)
        try:
            getattr(self, "_" + behaviour)(key, n)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True     # the client gave up, as it should

    # ---- behaviours ------------------------------------------------------------
    def _ok(self, key, n):
        body = self.fake.image_bytes(key)
        with self.fake.delivering():
            self._send(200, body, "image/jpeg")
            with self.fake.lock:
                self.fake.served[key] += 1

    def _slow(self, key, n):
        self.fake.stopping.wait(self.fake.slow_s)
        self._ok(key, n)

    def _timeout(self, key, n):
        self.fake.stopping.wait(self.fake.hang_s)
        self.close_connection = True

    def _stall(self, key, n):
        self._send_partial(key, close=False)
        self.fake.stopping.wait(self.fake.hang_s)
        self.close_connection = True

    def _not_found(self, key, n):
        self._send(404, b"<html><body>404 Not Found</body></html>", "text/html")

    def _gone(self, key, n):
        self._send(410, b"gone", "text/plain")

    def _rate_limited(self, key, n):
        if n == 1:
            self._send(429, b"slow down", "text/plain",
                       {"Retry-After": str(self.fake.retry_after_s)})
        else:
            self._ok(key, n)

    def _retry_after_too_long(self, key, n):
        self._send(429, b"come back in an hour", "text/plain", {"Retry-After": "3600"})

    def _flaky_500(self, key, n):
        if n == 1:
            self._send(500, b"oops", "text/plain")
        else:
            self._ok(key, n)

    def _always_500(self, key, n):
        self._send(500, b"oops", "text/plain")

    def _html(self, key, n):
        page = b"<!DOCTYPE html>\n<html><head><title>Error</title></head><body>Sorry</body></html>"
        self._send(200, page, "text/html; charset=utf-8")

    def _empty(self, key, n):
        self._send(200, b"", "image/jpeg")

    def _truncated(self, key, n):
        body = self.fake.image_bytes(key)
        self._send(200, body[: int(len(body) * 0.6)], "image/jpeg")

    def _dropped(self, key, n):
        self._send_partial(key)

    def _dropped_once(self, key, n):
        if n == 1:
            self._send_partial(key)
        else:
            self._ok(key, n)

    def _oversized(self, key, n):
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(self.fake.oversize_bytes))
        self.end_headers()
        self._write_chunks(self.fake.oversize_bytes, chunked=False)

    def _oversized_chunked(self, key, n):
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._write_chunks(self.fake.oversize_bytes, chunked=True)
        self.wfile.write(b"0\r\n\r\n")

    def _redirect(self, key, n):
        self._send(301, b"", "text/plain", {"Location": _MOVED + key})

    # ---- plumbing ----------------------------------------------------------------
    def _send(self, status, body: bytes, content_type: str, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _send_partial(self, key, *, close: bool = True):
        """Promise the whole image, deliver half, then (by default) close the connection."""
        body = self.fake.image_bytes(key)
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.close_connection = close

    def _write_chunks(self, n_bytes: int, *, chunked: bool, chunk_bytes: int = 32 * 1024):
        junk = bytes(chunk_bytes)
        for start in range(0, n_bytes, chunk_bytes):
            piece = junk[: min(chunk_bytes, n_bytes - start)]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        self.wfile.flush()
