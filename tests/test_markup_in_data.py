"""Names from uploaded data are text, never Markdown (issue 25): a genre, a file or a zip
member named like a link, bold or a Streamlit colour directive renders as those characters
on every page, not as a live link or markup."""
import io
import re
import zipfile

import pytest
from streamlit.testing.v1 import AppTest

from cover_model.markdown_text import code_span, escape, unescape
from cover_model.paths import PROJECT_ROOT
from ui import ON_SERVER, UPLOADED

from .helpers import jpeg_bytes, make_folder_dataset

APP = str(PROJECT_ROOT / "app.py")
LINKS = "see https://evil.example/x [click](https://evil.example)"
MARKUP = "**loud** :red[x] $y$ www.evil.example"
GENRES = (LINKS, MARKUP, "jazz")
# Markup that would render: a link's '](' or a bare URL's '://' or 'www.', bold, a
# directive, LaTeX; each not escaped by a backslash before it.
LIVE = re.compile(r"(?<!\\)\]\(|https?://|www\.\w|(?<!\\)\*\*|(?<!\\):red\[|(?<!\\)\$")
# The names above as they appear in Markdown that would render them: unescaped. (The pages'
# own text has links and bold of its own, e.g. the model card; only the data's are looked for.)
LIVE_DATA = re.compile(r"evil\.example|\*\*(loud|good|x)\*\*|__x__|:red\[x\]|\$y\$")


def test_the_escape_breaks_every_kind_of_markup_and_reads_back():
    for text in (LINKS, MARKUP, "a_b_c `x` <b>y</b> # z | 1. &amp;", "mail a@evil.example :smile:"):
        assert not LIVE.search(escape(text)), escape(text)
        assert unescape(escape(text)) == text
    # Found in the parsed text, after backslashes are gone (a browser showed 'https\://' as a
    # live link): broken by an invisible word joiner instead.
    for found_later in ("https://", "www.evil", "a@evil", ":smile:"):
        assert found_later not in escape(found_later).replace("\\", "")
    assert LIVE.search(LINKS) and LIVE.search(MARKUP)                      # the check can fail
    assert all(LIVE_DATA.search(name) for name in (LINKS, MARKUP, "**x**.zip", "**good**"))
    assert code_span("a``b") == "```a``b```"


def rendered_markdown(at: AppTest) -> list[str]:
    """Every string on the page that Streamlit renders as Markdown."""
    texts = [e.value for kind in ("markdown", "caption", "info", "warning", "error", "success",
                                  "title", "header", "subheader") for e in at.get(kind)]
    texts += [e.label for kind in ("button", "metric", "expander", "radio", "tab") for e in at.get(kind)]
    texts += [o for radio in at.get("radio") for o in radio.options]
    texts += [c for image in at.get("image") for c in image.captions]
    return texts


def assert_no_live_markup(at: AppTest, *names) -> None:
    assert not at.exception, [e.value for e in at.exception]
    texts = rendered_markdown(at)
    live = [t for t in texts if LIVE_DATA.search(t)]
    assert not live, live
    for name in names:                 # shown, escaped: else this test would pass on a blank page
        assert any(escape(name) in t for t in texts), (name, texts)


@pytest.fixture
def marked_up(tmp_path, app_main) -> AppTest:
    """The app on a manifest whose genres hold a link and markup (4 covers each)."""
    rows = []
    for k, genre in enumerate(GENRES):
        for i in range(4):
            (tmp_path / f"{k}-{i}.jpg").write_bytes(jpeg_bytes((60 * k, 40 * i, 90), (48, 48)))
            rows.append(f'{k}-{i}.jpg,"{genre}"')
    (tmp_path / "manifest.csv").write_text("path,genre\n" + "\n".join(rows) + "\n")
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["dataset_kind"] = ON_SERVER
    at.session_state["dataset_path"] = str(tmp_path / "manifest.csv")
    return at


def test_dataset_page_shows_genre_names_as_text(marked_up):
    marked_up.switch_page("app_pages/dataset.py").run()
    assert_no_live_markup(marked_up, LINKS, MARKUP)


def test_colour_page_shows_genre_names_as_text(marked_up):
    marked_up.switch_page("app_pages/color.py").run()
    assert_no_live_markup(marked_up, LINKS, MARKUP)                # in its notes: samples of 2


def test_a_one_genre_dataset_names_its_genre_as_text(tmp_path, app_main):
    for i in range(3):
        (tmp_path / f"{i}.jpg").write_bytes(jpeg_bytes((9, 90, 9 * i)))
    (tmp_path / "manifest.csv").write_text("path,genre\n" + "".join(f'{i}.jpg,"{LINKS}"\n' for i in range(3)))
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["dataset_kind"] = ON_SERVER
    at.session_state["dataset_path"] = str(tmp_path / "manifest.csv")
    for page in ("dataset", "baselines", "color", "train", "challenge"):
        at.switch_page(f"app_pages/{page}.py").run()
        assert_no_live_markup(at, LINKS)                # "this dataset has a single genre (...)"


def test_a_refused_zip_names_its_members_as_text(app_main):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("[click](https://evil.example).zip", b"PK\x05\x06" + bytes(18))
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["dataset_kind"] = UPLOADED
    at.switch_page("app_pages/dataset.py").run()
    at.sidebar.file_uploader(key="dataset_zip").set_value(("**x**.zip", buf.getvalue(), "application/zip")).run()
    assert_no_live_markup(at, "[click](https://evil.example).zip")
    assert unescape(at.error[0].value) == (          # the upload's name is kept safe: '*' -> '_'
        "Cannot load this dataset: __x__.zip: holds no covers; skipped nested archive "
        "[click](https://evil.example).zip (nested archives are not opened)")


def test_predict_names_an_uploaded_file_as_text(tmp_path, app_main):
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["dataset_kind"] = ON_SERVER           # not the embedded covers: no generating
    at.session_state["dataset_path"] = str(make_folder_dataset(tmp_path / "covers", {"metal": 4, "jazz": 4}))
    at.switch_page("app_pages/predict.py").run()
    bad, good = "[bad](https://evil.example).jpg", "**good** https://evil.example.jpg"
    at.file_uploader(key="predict_uploads").set_value(
        [(bad, b"not an image", "image/jpeg"), (good, jpeg_bytes((200, 30, 30), (64, 64)), "image/jpeg")]).run()
    assert_no_live_markup(at, bad, good)
