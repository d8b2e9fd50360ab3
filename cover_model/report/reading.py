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
from dataclasses import dataclass
from pathlib import Path

from ..paths import PROJECT_ROOT, data_dir

REPORT_NAME = "report.md"
_IMAGE = re.compile(r"^!\[(?P<caption>[^\]]*)\]\((?P<path>[^)\s]+)\)\s*$")
_FILES = re.compile(r"^(CSV|Files): ")
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
    return roots + [PROJECT_ROOT / "reports", data_dir() / "reports"]


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


def _inside(root: Path, relative: str) -> bool:
    """A link the report may follow: a file inside its own folder (no ``..``, no absolute path)."""
    path = (root / relative).resolve()
    return path.is_file() and path.is_relative_to(root)
