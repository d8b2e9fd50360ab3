"""Command line: ``python -m cover_model <command>``; each command calls one public function.

    python -m cover_model --help                      # every command, one line each
    python -m cover_model COMMAND --help              # its flags

Every command is listed in docs/command-line.md with an example. DATA is a folder
(``root/<genre>/*``), a manifest CSV, a zip of either, or ``synth`` (the default):
the project's own procedurally generated covers.

Each subpackage declares its own commands in its ``cli.py`` (``ARGUMENTS``: a
command's name -> the function that adds its flags and sets ``run``); this module
only assembles them. Why a table of module names and one-line helps, not imports:
importing every command's module would import torch, scikit-learn, pandas and
plotly before a flag is parsed (2.7 s and 840 MB for ``--help``). With the table,
``--help`` imports nothing, and a command imports its own module alone, so each
command pays only for the libraries it uses (bench/bench_startup.py measures it).
"""
from __future__ import annotations

import argparse
import importlib
import sys

# command -> (module declaring it in ARGUMENTS, one-line help); the order of --help
COMMANDS = {
    "synth": ("cover_model.synth.cli", "generate the embedded synthetic covers"),
    "dataset": ("cover_model.data.cli", "load a dataset; show counts, splits and skipped files"),
    "preprocess": ("cover_model.data.cli", "downsize every cover to an S x S grid (cached)"),
    "leaks": ("cover_model.curation.cli", "near-duplicate covers across splits and genres "
              "(perceptual hashes); writes a manifest that groups them"),
    "style-map": ("cover_model.curation.cli", "the covers on a 2-D map by their ImageNet "
                  "embeddings (t-SNE), coloured by genre (HTML with hover, PNG)"),
    "color": ("cover_model.color.cli", "the paper's colour analysis: similarity matrix, Table 1 "
              "ranks over trials, mean covers (CSV, HTML, PNG)"),
    "baselines": ("cover_model.baselines.cli", "the paper's Table 2: scikit-learn models on "
                  "pixels or histograms (CSV + markdown tables)"),
    "collect": ("cover_model.collect.cli", "download the covers of a link list (e.g. the "
                "paper's Bandcamp TSV) into a dataset folder; resumable"),
    "train": ("cover_model.networks.cli", "train a network; writes checkpoints/<run-id>/"),
    "evaluate": ("cover_model.networks.cli", "re-score a run's best weights: its test split, "
                 "or every cover of other data"),
    "predict": ("cover_model.networks.cli", "top genres of covers, with a run's network"),
    "runs": ("cover_model.networks.cli", "finished runs side by side; per-genre accuracy"),
    "report": ("cover_model.report.cli", "run the whole study (colour analysis, Tables 1-4, "
               "best model) and write a markdown report with PNG figures and CSV tables; "
               "resumable"),
    "ship": ("cover_model.shipped.cli", "rebuild the shipped real-cover model, its model card "
             "and colour statistics from the data (checkpoints/real-covers)"),
    "pack": ("cover_model.shipped.cli", "rebuild the shipped model's features pack: the real "
             "covers as derived numbers, no picture (checkpoints/real-covers/features)"),
    "recipes": ("cover_model.shipped.cli", "score candidate recipes by artist-grouped "
                "cross-validation, transfer to an unseen source, and test"),
    "dashboard": ("cover_model.service.cli", "start the Streamlit dashboard"),
    "export-onnx": ("cover_model.service.cli", "write a run's network as ONNX, to predict with "
                    "onnxruntime instead of torch"),
}


def build_parser(only=None) -> argparse.ArgumentParser:
    """The parser, unparsed (for tests and job launchers).

    Parameters
    ----------
    only : iterable of str, optional
        Commands whose flags are built (their modules imported); default: all. The
        others are still listed by ``--help``, from :data:`COMMANDS`.
    """
    parser = argparse.ArgumentParser(
        prog="python -m cover_model",
        description="Cover Genre Lab: predict an album's genre from its cover art.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    built = set(COMMANDS if only is None else only)
    for name, (module, help_line) in COMMANDS.items():
        command = commands.add_parser(name, help=help_line)
        if name in built:
            importlib.import_module(module).ARGUMENTS[name](command)
    return parser


def chosen_command(argv: list[str]) -> tuple[str, ...]:
    """The command named in ``argv`` (its first word: the top level has no other argument).

    >>> chosen_command(["predict", "run", "cover.jpg"]), chosen_command(["--help"])
    (('predict',), ())
    """
    return tuple(word for word in argv[:1] if not word.startswith("-"))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(only=chosen_command(argv)).parse_args(argv)
    try:
        return args.run(args)
    except ValueError as exc:         # DatasetError included: a bad input, said in one line
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:            # a full disk, a read-only folder: one line, no traceback
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
