"""A real dashboard server on loopback, for the browser tests and the public-mode load test."""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from cover_model.paths import PROJECT_ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class ServerError(RuntimeError):
    """The server exited or never became healthy; the message holds its log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def dashboard(folder: Path, **env):
    """Serve the dashboard with ``env`` added; yield (url, process). Its log is
    ``folder/server.log``; data goes to ``folder/data``, and the sidebar starts on the synthetic
    covers, unless ``env`` says otherwise (``COVER_LAB_START_DATA="real-features"``: as
    ``make demo`` and public mode start)."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {"COVER_LAB_DATA": str(folder / "data"), "COVER_LAB_START_DATA": "synth", **env}
    log_path = folder / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "cover_model", "dashboard", "--port", str(port),
                                 "--address", "127.0.0.1"], cwd=PROJECT_ROOT, env=dict(os.environ, **env),
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, proc, log_path)
            yield url, proc
        finally:
            stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """Stop the server and whatever it started (its own session): politely first, then
    for sure. A loaded CI machine can take longer than a grace period to shut down,
    and a slow shutdown is not what these tests check."""
    for sig, grace_s in ((signal.SIGTERM, 20), (signal.SIGKILL, 20)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace_s)
            return
        except subprocess.TimeoutExpired:
            continue


def wait_healthy(url, proc, log_path: Path, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerError(f"server exited early:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise ServerError(f"server not healthy after {timeout_s} s:\n{log_path.read_text()}")
