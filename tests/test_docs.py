"""The README and the pages under docs/: every relative link resolves, and the README stays short.

The README is the front door (issue 16): what the project is, two commands, the architecture
and the headline results, each linking to the docs/ page that holds the whole of it. A page
moved or renamed breaks those links silently on GitHub; these tests catch it.

Links are found with a regular expression rather than a Markdown parser: the pages use only
inline links and images (``[text](target)``, ``![alt](target)``), and no parser is installed
(markdown-it-py would be a new dependency for one test). Code blocks and inline code are
removed first, so a command that happens to look like a link is not checked.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.rglob("*.md"))]

# The issue asks for about 250 lines; past 300 the README is growing back into a manual.
README_MAX_LINES = 300

FENCED_BLOCK = re.compile(r"^```.*?^```", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*([^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)  # https:, mailto:, ...


def link_targets(markdown: str) -> list[str]:
    """Every inline link and image target outside code, in order."""
    prose = INLINE_CODE.sub("", FENCED_BLOCK.sub("", markdown))
    return LINK.findall(prose)


def heading_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces to -.

    >>> sorted(heading_anchors("# Speed (`bench.py`, 2 cores)\\n## Speed (`bench.py`, 2 cores)"))
    ['speed-benchpy-2-cores', 'speed-benchpy-2-cores-1']
    """
    anchors: set[str] = set()
    for heading in HEADING.findall(FENCED_BLOCK.sub("", markdown)):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchor, n = slug, 0
        while anchor in anchors:  # GitHub numbers repeated headings: slug, slug-1, slug-2
            n += 1
            anchor = f"{slug}-{n}"
        anchors.add(anchor)
    return anchors


def broken_links(page: Path) -> list[str]:
    """The relative links of a Markdown page that point at no file, or at no heading of one."""
    broken = []
    for target in link_targets(page.read_text(encoding="utf-8")):
        if EXTERNAL.match(target):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in heading_anchors(
                linked.read_text(encoding="utf-8")):
            broken.append(f"{target}: no heading with that anchor")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    assert broken_links(page) == []


def test_a_broken_link_is_reported(tmp_path):
    (tmp_path / "there.md").write_text("# Results on the real covers\n")
    page = tmp_path / "page.md"
    page.write_text("[ok](there.md#results-on-the-real-covers) [gone](missing.md) "
                    "![img](figures/x.png) [bad anchor](there.md#nowhere) "
                    "[web](https://example.org/x.md) `[code](not-a-link.md)`\n"
                    "```\n[fenced](not-a-link-either.md)\n```\n")
    assert broken_links(page) == ["missing.md: no such file", "figures/x.png: no such file",
                                  "there.md#nowhere: no heading with that anchor"]


def test_readme_is_a_front_door():
    n_lines = len(README.read_text(encoding="utf-8").splitlines())
    assert n_lines < README_MAX_LINES, f"README.md has {n_lines} lines"


def test_readme_links_every_docs_page():
    """A page nobody links to is a page nobody keeps true."""
    linked = {(README.parent / t.partition("#")[0]).resolve()
              for t in link_targets(README.read_text(encoding="utf-8")) if not EXTERNAL.match(t)}
    orphans = [p.name for p in sorted(DOCS.glob("*.md")) if p.resolve() not in linked]
    assert orphans == []
