"""Command line: ``python -m cover_model <command>``; each command calls one public function.

    python -m cover_model synth                       # write the embedded synthetic covers
    python -m cover_model dataset DATA                # counts, splits, skipped files
    python -m cover_model preprocess DATA --size-px 32 --method area
    python -m cover_model collect LINKS OUT_DIR       # download covers from a link list
    python -m cover_model baselines DATA --out DIR    # Table 2: the scikit-learn zoo
    python -m cover_model report --data DATA --out reports/NAME   # the whole study, as a report
    python -m cover_model dashboard [--public]        # the Streamlit app
    python -m cover_model export-onnx RUN_DIR         # the run's network as ONNX (model.onnx)

DATA is a folder (``root/<genre>/*``), a manifest CSV, a zip of either, or
``synth`` (the default): the project's own procedurally generated covers.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from . import cli_report, config
from .networks import cli as networks_cli
from .collect import CollectConfig, CollectInterrupted, collect
from .baselines.report import BaselineConfig
from .color.analysis import ColorConfig
from .dataset import EMBEDDED, DatasetError, load_dataset
from .paths import PROJECT_ROOT
from .preprocess import PreprocessConfig, preprocess_dataset
from .shipped import cli as shipped_cli
from .progress import progress_file_writer, progress_reporter
from .splits import SCHEMES, assign_splits



def build_parser() -> argparse.ArgumentParser:
    """The full parser, unparsed (for tests and for job launchers)."""
    parser = argparse.ArgumentParser(
        prog="python -m cover_model",
        description="Cover Genre Lab: predict an album's genre from its cover art.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    synth = commands.add_parser("synth", help="generate the embedded synthetic covers")
    synth.add_argument("--n-per-genre", type=int, default=100, help="covers per genre (default: 100)")
    synth.add_argument("--seed", type=int, default=0, help="generator seed (default: 0)")
    synth.add_argument("--out", type=Path, help="output folder (default: data/synth-...)")
    synth.add_argument("--progress-file", type=Path, help="also record progress in this JSON file")
    synth.set_defaults(run=run_synth)

    dataset = commands.add_parser("dataset", help="load a dataset; show counts, splits and skipped files")
    _add_data_argument(dataset)
    _add_split_arguments(dataset)
    dataset.add_argument("--write-manifest", type=Path, metavar="CSV",
                         help="also write the items with their splits as a manifest CSV")
    dataset.set_defaults(run=run_dataset)

    prep = commands.add_parser("preprocess", help="downsize every cover to an S x S grid (cached)")
    _add_data_argument(prep)
    config.add_arguments(prep, PreprocessConfig)
    prep.add_argument("--no-cache", action="store_true", help="recompute even when cached")
    prep.set_defaults(run=run_preprocess)

    color = commands.add_parser("color", help="the paper's colour analysis: similarity matrix, "
                                "Table 1 ranks over trials, mean covers (CSV, HTML, PNG)")
    _add_data_argument(color)
    config.add_arguments(color, ColorConfig)
    color.add_argument("--out", type=Path, help="output folder (default: data/reports/color-...)")
    color.add_argument("--no-png", action="store_true", help="skip the PNG export of the figures")
    color.set_defaults(run=run_color)

    base = commands.add_parser("baselines", help="the paper's Table 2: scikit-learn models on "
                               "pixels or histograms (CSV + markdown tables)")
    _add_data_argument(base)
    _add_split_arguments(base)
    config.add_arguments(base, BaselineConfig)
    base.add_argument("--out", type=Path, help="output folder (default: data/reports/baselines-...)")
    base.add_argument("--no-cache", action="store_true", help="refit even when results are cached")
    base.set_defaults(run=run_baselines)

    coll = commands.add_parser("collect", help="download the covers of a link list (e.g. the "
                               "paper's Bandcamp TSV) into a dataset folder; resumable")
    coll.add_argument("links", type=Path, help="TSV url<TAB><genre>/<name>.jpg (the paper's), "
                      "or CSV with columns url, genre[, path]")
    coll.add_argument("out_dir", type=Path, help="dataset folder to fill (created if needed)")
    config.add_arguments(coll, CollectConfig)
    coll.set_defaults(run=run_collect)

    networks_cli.add_commands(commands)
    cli_report.add_command(commands)
    shipped_cli.add_commands(commands)

    dash = commands.add_parser("dashboard", help="start the Streamlit dashboard")
    dash.add_argument("--port", type=int, default=8501)
    dash.add_argument("--address", default="localhost", help="bind address (default: localhost)")
    dash.add_argument("--public", action="store_true",
                      help="serve strangers: public mode's limits (also COVER_LAB_PUBLIC=1)")
    dash.set_defaults(run=run_dashboard)

    onnx = commands.add_parser("export-onnx", help="write a run's network as ONNX, to predict "
                               "with onnxruntime instead of torch")
    onnx.add_argument("run_dir", type=Path)
    onnx.add_argument("--out", type=Path, help="ONNX file to write (default: RUN_DIR/model.onnx)")
    onnx.set_defaults(run=run_export_onnx)
    return parser


def _add_data_argument(parser) -> None:
    parser.add_argument("data", nargs="?", default=EMBEDDED,
                        help="folder, manifest CSV, zip, or 'synth' for the embedded covers (default)")


def _add_split_arguments(parser) -> None:
    parser.add_argument("--split-scheme", choices=SCHEMES, default="auto",
                        help="how to split when the data has no splits (default: auto)")
    parser.add_argument("--val-frac", type=float, default=0.15)
    parser.add_argument("--test-frac", type=float, default=0.15)
    parser.add_argument("--n-test-per-class", type=int, default=100,
                        help="test covers per genre for the paper's protocol (default: 100)")
    parser.add_argument("--split-seed", type=int, default=0)


def resolve_dataset(data: str):
    """Load DATA, generating the embedded synthetic covers when asked for ``synth``."""
    from .synth import default_dataset_ready
    generating = data == EMBEDDED and not default_dataset_ready()
    return load_dataset(data, progress=_print_progress("generating covers") if generating else None)


def run_synth(args) -> int:
    from .synth import default_dataset_dir, generate
    out = args.out or default_dataset_dir(n_per_genre=args.n_per_genre, seed=args.seed)
    start = time.perf_counter()
    reporters = [_print_progress("generating covers")]
    if args.progress_file:
        reporters.append(progress_file_writer(args.progress_file))
    generate(out, n_per_genre=args.n_per_genre, seed=args.seed,
             progress=lambda done, total: [report(done, total) for report in reporters])
    print(f"synthetic covers in {out} ({time.perf_counter() - start:.1f} s)")
    return 0


def run_dataset(args) -> int:
    dataset = resolve_dataset(args.data)
    dataset = assign_splits(dataset, scheme=args.split_scheme, val_frac=args.val_frac,
                            test_frac=args.test_frac, n_test_per_class=args.n_test_per_class,
                            seed=args.split_seed)
    print(f"{dataset.root}: {len(dataset)} covers, {dataset.n_classes} genres, "
          f"fingerprint {dataset.fingerprint}")
    print(dataset.counts().to_string())
    _print_skipped(dataset.skipped)
    if args.write_manifest:
        columns = [c for c in dataset.items.columns if c not in ("label", "n_bytes")]
        table = dataset.items[columns].assign(path=dataset.relative_paths())
        table.to_csv(args.write_manifest, index=False)
        print(f"manifest written to {args.write_manifest} (paths relative to {dataset.root})")
    return 0


def run_preprocess(args) -> int:
    cfg = config.from_args(PreprocessConfig, args)
    dataset = resolve_dataset(args.data)
    start = time.perf_counter()
    arrays = preprocess_dataset(dataset, size_px=cfg.size_px, method=cfg.method, seed=cfg.seed,
                                use_cache=not args.no_cache, progress=_print_progress("downsizing"))
    seconds = time.perf_counter() - start
    print(f"{len(arrays)} covers -> {arrays.images.shape} uint8 in {seconds:.2f} s "
          f"({len(arrays) / max(seconds, 1e-9):,.0f} covers/s)")
    _print_skipped(arrays.skipped)
    return 0


def run_collect(args) -> int:
    cfg = config.from_args(CollectConfig, args)
    try:
        summary = collect(args.links, args.out_dir, config=cfg,
                          progress=_print_progress("downloading covers"))
    except CollectInterrupted as stopped:
        print(stopped.summary.describe())
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return 130
    print(summary.describe())
    return 0


def run_color(args) -> int:
    from .color import run_color_analysis, write_color_report
    from .color.figures import rank_table
    from .paths import data_dir
    cfg = config.from_args(ColorConfig, args)
    dataset = resolve_dataset(args.data)
    start = time.perf_counter()
    analysis = run_color_analysis(dataset, cfg, progress=_print_progress("downsizing"))
    out = args.out or data_dir() / "reports" / f"color-{dataset.fingerprint}-{cfg.feature}"
    report = write_color_report(analysis, out, png=not args.no_png)
    print(f"{cfg.feature_label}, {cfg.trials} trials of 2 x {cfg.n_per_genre} covers per genre "
          f"({time.perf_counter() - start:.1f} s)")
    print(rank_table(analysis).to_string())
    for line in (*analysis.notes, *report.messages):
        print(f"note: {line}")
    print(f"{len(report.files)} files written to {report.out_dir}")
    return 0


def run_baselines(args) -> int:
    from .baselines.report import build_report, table2, to_markdown, write_report
    from .paths import data_dir
    cfg = config.from_args(BaselineConfig, args)
    dataset = assign_splits(resolve_dataset(args.data), scheme=args.split_scheme,
                            val_frac=args.val_frac, test_frac=args.test_frac,
                            n_test_per_class=args.n_test_per_class, seed=args.split_seed)
    start = time.perf_counter()
    feature_bars = {}      # one progress line per feature set (embedding covers takes minutes)
    report = build_report(dataset, cfg, use_cache=not args.no_cache,
                          progress=_print_progress("fitting models"),
                          feature_progress=lambda label, done, total: feature_bars.setdefault(
                              label, _print_progress(label))(done, total))
    out = args.out or data_dir() / "reports" / f"baselines-{dataset.fingerprint}"
    files = write_report(report, out, dataset=dataset)
    print(f"{report.n_train} train / {report.n_test} test covers, {dataset.n_classes} genres "
          f"({time.perf_counter() - start:.1f} s)")
    print(to_markdown(table2(report.results)))
    print(f"{len(files)} files written to {out}")
    return 0


def run_dashboard(args) -> int:
    # ui_server.py imports the heavy libraries before serving, then runs streamlit's own CLI.
    # Shared settings are in .streamlit/config.toml, which streamlit reads from the working
    # folder (make demo and the container start there); public ones come as flags.
    from .hosting import PUBLIC_ENV, is_public
    if args.public:
        os.environ[PUBLIC_ENV] = "1"
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
    from .hosting import MB, limits
    flags = ["--client.showErrorDetails", "none"]
    quota = limits().upload_quota_bytes
    if quota:
        shared_mb = _shared_streamlit_option("server", "maxUploadSize", default=200)  # streamlit's
        flags += ["--server.maxUploadSize", str(max(1, min(quota // MB, shared_mb)))]
    return flags


def _shared_streamlit_option(section: str, name: str, *, default):
    """A value of the project's .streamlit/config.toml (the settings every start shares)."""
    import tomllib
    try:
        settings = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return default
    return settings.get(section, {}).get(name, default)


def run_export_onnx(args) -> int:
    from .serving import export_onnx
    start = time.perf_counter()
    out = export_onnx(args.run_dir, args.out)
    print(f"ONNX model written to {out} ({out.stat().st_size / 1e6:.1f} MB, "
          f"{time.perf_counter() - start:.1f} s); predict without torch: "
          f"python -m cover_model.serving {out} cover.jpg")
    return 0


def _print_skipped(skipped, limit: int = 20) -> None:
    if not skipped:
        return
    print(f"{len(skipped)} file(s) skipped:")
    for item in skipped[:limit]:
        print(f"  {item.path}: {item.reason}")
    if len(skipped) > limit:
        print(f"  ... and {len(skipped) - limit} more")


def _print_progress(label: str):
    """Count, rate and ETA: one redrawn line on a terminal, a line every 5 s in a log."""
    tty = sys.stderr.isatty()

    def show(status: dict) -> None:
        line = (f"{label}: {status['done']}/{status['total']} ({status['rate']:,.0f}/s, "
                f"ETA {status['eta_s'] or 0:.0f} s)")
        last = status["done"] >= status["total"]
        print("\r" + line if tty else line, end="\n" if last or not tty else "",
              file=sys.stderr, flush=True)
    return progress_reporter(show, every_s=0.5 if tty else 5.0)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (DatasetError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:            # a full disk, a read-only folder: one line, no traceback
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
