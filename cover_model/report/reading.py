"""Finding reports and reading them back, for the dashboard.

Reports are looked for in ``$COVER_LAB_REPORTS`` (when set), the project's
``reports/`` folder and ``data/reports/`` (``$COVER_LAB_DATA/reports``): any
folder there holding a ``report.md``. The newest report is the one written last.

:func:`report_blocks` splits ``report.md`` into pieces a page can show one by
one: markdown text, an image, or a list of files to download (the ``CSV:`` and
``Files:`` lines the report writes under each table).
"""
from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..paths import PROJECT_ROOT, data_dir

REPORT_NAME = "report.md"
# The real-covers study as committed to the repository (published without any cover image).
SHIPPED_STUDY = PROJECT_ROOT / "docs" / "study" / "real-covers"
# Figures made of covers themselves: the real covers have no licence, so they stay out.
COVER_FIGURES = ("sample_grid",)
_IMAGE = re.compile(r"^!\[(?P<caption>[^\]]*)\]\((?P<path>[^)\s]+)\)\s*$")
_FILES = re.compile(r"^(CSV|Files): ")
# An absolute path of the machine that ran the report (a run folder, the torch hub cache): a
# visitor of the published study sees the file's name only. URLs and relative paths stay.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~])/(?:[\w.-]+/)+([\w.-]+)")
_LINK = re.compile(r"\[(?P<text>[^\]]*)\]\((?P<path>[^)\s]+)\)")


@dataclass(frozen=True)
class Block:
    """One piece of a report.

    Attributes
    ----------
    kind : {"markdown", "image", "files"}
    text : str
        Markdown (``markdown``) or the caption (``image``).
    paths : tuple of Path
        The image, or the files to offer for download; absolute.
    """
    kind: str
    text: str = ""
    paths: tuple[Path, ...] = ()


def report_roots() -> list[Path]:
    """Where reports are looked for, in order."""
    roots = [Path(os.environ["COVER_LAB_REPORTS"])] if os.environ.get("COVER_LAB_REPORTS") else []
    return roots + [PROJECT_ROOT / "reports", data_dir() / "reports", SHIPPED_STUDY.parent]


def find_reports(roots: list[Path] | None = None) -> list[Path]:
    """Report folders (holding ``report.md``) under ``roots``, newest first."""
    found = {}
    for root in roots if roots is not None else report_roots():
        if not Path(root).is_dir():
            continue
        for report in Path(root).glob(f"*/{REPORT_NAME}"):
            found[report.parent.resolve()] = report.stat().st_mtime
    return sorted(found, key=found.get, reverse=True)


def report_blocks(report_dir: Path) -> list[Block]:
    """``report.md`` as markdown, image and file blocks; paths inside ``report_dir`` only."""
    report_dir = Path(report_dir).resolve()
    blocks, text = [], []

    def flush():
        if "".join(text).strip():
            blocks.append(Block("markdown", "\n".join(text)))
        text.clear()

    for line in (report_dir / REPORT_NAME).read_text().splitlines():
        image = _IMAGE.match(line)
        if image and _inside(report_dir, image["path"]):
            flush()
            blocks.append(Block("image", image["caption"], (report_dir / image["path"],)))
        elif _FILES.match(line):
            flush()
            paths = tuple(report_dir / m["path"] for m in _LINK.finditer(line)
                          if _inside(report_dir, m["path"]))
            blocks.append(Block("files", "", paths))
        else:
            text.append(line)
    flush()
    return blocks


def publish_report(report_dir: Path, out: Path = SHIPPED_STUDY) -> Path:
    """Copy a finished report to ``out`` without the figures that show covers (the
    sample grid; mean covers are averages and stay), for committing to the repository.

    The report's text keeps its place for each left-out figure, saying why it is absent.
    """
    report_dir, out = Path(report_dir), Path(out)
    if not (report_dir / REPORT_NAME).is_file():
        raise FileNotFoundError(f"{report_dir}: no {REPORT_NAME} (run the report command first)")
    shutil.rmtree(out, ignore_errors=True)
    left_out = [f"figures/{name}.png" for name in COVER_FIGURES] + [
        f"figures/{name}.html" for name in COVER_FIGURES]
    shutil.copytree(report_dir, out, ignore=lambda folder, names: [
        n for n in names if n in {"steps", "step_log.jsonl"} or
        any((Path(folder) / n).as_posix().endswith(f) for f in left_out)])
    lines = []
    for line in (report_dir / REPORT_NAME).read_text().splitlines():
        image = _IMAGE.match(line)
        if image and any(image["path"].endswith(f) for f in left_out):
            line = ("*(Sample covers are not shown here: the real covers have no licence, so "
                    "no image of one is in this repository. Run the report on your own copy "
                    "to see them.)*")
        lines.append(line)
    (out / REPORT_NAME).write_text("\n".join(lines) + "\n")
    for path in [*out.rglob("*.md"), *out.rglob("*.csv")]:
        path.write_text(_ABSOLUTE_PATH.sub(r"\1", path.read_text()))
    return out


def _inside(root: Path, relative: str) -> bool:
    """A link the report may follow: a file inside its own folder (no ``..``, no absolute path)."""
    path = (root / relative).resolve()
    return path.is_file() and path.is_relative_to(root)
