"""Text from the data (genre, file, folder and group names, messages quoting them) shown
through Markdown as the plain text it is.

Streamlit renders Markdown in far more than ``st.markdown``: captions, alerts, headers,
button, tab, metric and expander labels, radio options, image captions and progress
text. A genre named ``[click](https://evil.example)`` or ``see https://evil.example``
would be a live link there, ``**x**`` bold, ``:red[x]`` coloured and ``$x$`` LaTeX.
Uploaded data is text, never markup: pages pass it through :func:`escape` (or, inside
backticks, :func:`code_span`) wherever it meets Markdown. Table cells and selectbox
options are plain text already.
"""
from __future__ import annotations

import re

# Every ASCII punctuation character may be backslash-escaped in CommonMark; these are the
# ones that start something while the text is parsed: emphasis, code, links and images,
# HTML, headings, lists, block quotes, tables, strikethrough, LaTeX ($), Streamlit's
# :directives[] and entities (&).
_SPECIAL = re.compile(r"([\\`*_\[\]<>#+\-.!|~$:&])")
# Some markup is found later, in the parsed text, where a backslash no longer is: GFM's
# bare links (https://..., www...., a@b.c) and Streamlit's :emoji: and :material/icon:
# shortcodes. An invisible WORD JOINER after ':' and '@' and inside 'www.' breaks them
# (a browser check showed 'https\://evil\.example' still rendered as a live link).
_JOINER = "\u2060"
# Only a ':' that something follows (a scheme's '//', a shortcode's name): the colon of
# plain prose ("notes.jpg: not an image") stays as it is, so its text can be found and copied.
_FOUND_LATER = re.compile(r"(:(?=\S)|@)|(?<=www)(?=\.)", re.IGNORECASE)
_BACKTICKS = re.compile(r"`+")


def escape(text) -> str:
    r"""``text`` as Markdown that renders exactly as ``text`` reads, on one line.

    Whitespace runs (a newline, which would start a new block) become one space, as a
    browser shows them anyway. A WORD JOINER (U+2060, invisible) follows each ':' that is
    not followed by a space, each '@' and each 'www' before a '.', so no bare link or
    shortcode forms.

    >>> print(escape("see https://evil.example [click](https://evil.example) **x**")
    ...       .replace(_JOINER, "^"))
    see https\:^//evil\.example \[click\](https\:^//evil\.example) \*\*x\*\*
    >>> print(escape("hip-hop\n# big www.x a@b.c :smile: notes.jpg: text").replace(_JOINER, "^"))
    hip\-hop \# big www^\.x a@^b\.c \:^smile\: notes\.jpg\: text
    """
    plain = " ".join(str(text).split())
    return _SPECIAL.sub(r"\\\1", _FOUND_LATER.sub(lambda m: (m.group(1) or "") + _JOINER, plain))


def code_span(text) -> str:
    """``text`` as an inline code span (monospace, nothing inside interpreted), fenced
    with more backticks than any run inside it, so a backtick in a name cannot close it.

    >>> code_span("covers/metal"), code_span("a`b"), code_span("`x")
    ('`covers/metal`', '``a`b``', '`` `x ``')
    """
    text = " ".join(str(text).split())
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def unescape(markdown: str) -> str:
    """What :func:`escape` made, read back: the text a reader sees (for tests).

    >>> unescape(escape("a_b [c](https://d.e) www.f"))
    'a_b [c](https://d.e) www.f'
    """
    return re.sub(r"\\(.)", r"\1", markdown.replace(_JOINER, ""))
