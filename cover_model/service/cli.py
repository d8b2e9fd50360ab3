"""Serving commands: the Streamlit dashboard, and a run's network exported as ONNX.

    python -m cover_model dashboard [--public]        # the Streamlit app
    python -m cover_model export-onnx RUN_DIR         # the run's network as ONNX (model.onnx)
"""
from __future__ import annotations

import os
import sys
import time
import tomllib
from pathlib import Path

from ..data.dataset import EMBEDDED, REAL_FEATURES, START_DATA_ENV
from ..paths import PROJECT_ROOT
from ..public_mode import MB, PUBLIC_ENV, is_public, limits
from .onnx_serving import export_onnx


def add_dashboard(parser) -> None:
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument("--address", default="localhost", help="bind address (default: localhost)")
    parser.add_argument("--public", action="store_true",
                        help="serve strangers: public mode's limits (also COVER_LAB_PUBLIC=1)")
    parser.add_argument("--data", choices=(REAL_FEATURES, EMBEDDED),
                        default=os.environ.get(START_DATA_ENV) or REAL_FEATURES,
                        help="the dataset the sidebar starts on: the real covers' features "
                             f"(default; or {START_DATA_ENV}) or the synthetic covers; visitors "
                             "can pick another")
    parser.set_defaults(run=run_dashboard)


def add_export_onnx(parser) -> None:
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--out", type=Path, help="ONNX file to write (default: RUN_DIR/model.onnx)")
    parser.set_defaults(run=run_export_onnx)


def run_dashboard(args) -> int:
    # ui_server.py imports the heavy libraries before serving, then runs streamlit's own CLI.
    # Shared settings are in .streamlit/config.toml, which streamlit reads from the working
    # folder (make demo and the container start there); public ones come as flags.
    if args.public:
        os.environ[PUBLIC_ENV] = "1"
    os.environ[START_DATA_ENV] = args.data
    command = [sys.executable, str(PROJECT_ROOT / "ui_server.py"), str(PROJECT_ROOT / "app.py"),
               "--server.port", str(args.port), "--server.address", args.address,
               "--server.headless", "true", "--browser.gatherUsageStats", "false",
               *(public_server_flags() if is_public() else [])]
    print(f"dashboard on http://{args.address}:{args.port}"
          f"{' (public mode)' if is_public() else ''}", flush=True)
    os.execv(sys.executable, command)   # the environment (allocator tunables) carries over


def public_server_flags() -> list[str]:
    """Streamlit settings for a server open to strangers, as ``streamlit run`` flags.

    No traceback or exception text in the browser (the server log keeps them), and
    no upload larger than a visitor's whole upload quota, nor than the shared
    setting: Streamlit holds an upload in memory, so a file the quota would refuse
    is better refused before it crosses the network.
    """
    flags = ["--client.showErrorDetails", "none"]
    quota = limits().upload_quota_bytes
    if quota:
        shared_mb = _shared_streamlit_option("server", "maxUploadSize", default=200)  # streamlit's
        flags += ["--server.maxUploadSize", str(max(1, min(quota // MB, shared_mb)))]
    return flags


def _shared_streamlit_option(section: str, name: str, *, default):
    """A value of the project's .streamlit/config.toml (the settings every start shares)."""
    try:
        settings = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return default
    return settings.get(section, {}).get(name, default)


def run_export_onnx(args) -> int:
    start = time.perf_counter()
    out = export_onnx(args.run_dir, args.out)
    print(f"ONNX model written to {out} ({out.stat().st_size / 1e6:.1f} MB, "
          f"{time.perf_counter() - start:.1f} s); predict without torch: "
          f"python -m cover_model.service.onnx_serving {out} cover.jpg")
    return 0


ARGUMENTS = {"dashboard": add_dashboard, "export-onnx": add_export_onnx}
