"""Every page on datasets that load but can do little (issue 25): three covers per genre and
no split column, a single genre, two covers per genre. Each page says what it needs, or
works; none ends in the error boundary's "Something went wrong". The same through the CLI."""
import io
import zipfile

import pytest
from streamlit.testing.v1 import AppTest

from cover_model.cli import main
from cover_model.markdown_text import unescape
from cover_model.paths import PROJECT_ROOT
from ui import ON_SERVER, UPLOADED

from .helpers import jpeg_bytes, make_folder_dataset

APP = str(PROJECT_ROOT / "app.py")
# Genres the shipped model knows, so "You vs the model" gets as far as the dataset's own limits.
KINDS = {"three": {"metal": 3, "jazz": 3, "rock": 3},
         "single": {"metal": 10},
         "two": {"metal": 2, "jazz": 2, "rock": 2}}
NO_TEST = "this dataset has no test split; it needs 4 covers per genre to split it (its genres have {})"
ONE_GENRE = "this dataset has a single genre (metal); telling genres apart needs at least 2"
PROBLEM = {"three": NO_TEST.format(3), "single": ONE_GENRE, "two": NO_TEST.format(2)}


@pytest.fixture(params=list(KINDS))
def small(request, tmp_path, app_main):
    """(kind, an AppTest on that dataset, picked as a server folder in the sidebar)."""
    root = make_folder_dataset(tmp_path / request.param, KINDS[request.param])
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["dataset_kind"] = ON_SERVER
    at.session_state["dataset_path"] = str(root)
    return request.param, at


def open_page(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not any("Something went wrong" in e.value for e in at.error)
    return at


def texts(elements) -> list[str]:
    """What a reader sees: data text reaches Markdown escaped (cover_model.markdown_text)."""
    return [unescape(e.value) for e in elements]


def test_dataset_page_says_what_the_dataset_cannot_do(small):
    kind, at = small
    open_page(at, "dataset")
    stopped = ("The baselines, training, the colour analysis and You vs the model" if kind == "single"
               else "The baselines, training and You vs the model")
    assert f"{stopped} need more: {PROBLEM[kind]}." in texts(at.info)


def test_baselines_page_says_what_it_needs(small):
    kind, at = small
    open_page(at, "baselines")
    assert texts(at.warning) == [f"Cannot fit the baselines: {PROBLEM[kind]}."]
    assert not [b for b in at.button if b.key == "baselines_fit"]


def test_baselines_page_on_an_uploaded_zip_of_three_covers_per_genre(tmp_path, app_main):
    root = make_folder_dataset(tmp_path / "covers", KINDS["three"])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for path in sorted(root.rglob("*.jpg")):
            archive.write(path, path.relative_to(tmp_path))
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["dataset_kind"] = UPLOADED
    open_page(at, "baselines")
    at.sidebar.file_uploader(key="dataset_zip").set_value(("small.zip", buf.getvalue(), "application/zip"))
    at.run()
    assert not at.exception
    assert texts(at.warning) == [f"Cannot fit the baselines: {NO_TEST.format(3)}."]


def test_train_page_says_what_it_needs_and_starts_nothing(small):
    kind, at = small
    open_page(at, "train")
    assert f"Cannot train on this dataset: {PROBLEM[kind]}." in texts(at.warning)
    assert at.button(key="train_start").disabled


def test_challenge_page_says_what_it_needs(small):
    kind, at = small
    open_page(at, "challenge")
    assert texts(at.warning) == [f"Cannot play a round on this dataset: {PROBLEM[kind]}."]
    assert not [b for b in at.button if b.key == "challenge_start"]


def test_colour_page_runs_on_small_genres_and_needs_two_genres(small):
    kind, at = small
    open_page(at, "color")
    if kind == "single":
        assert texts(at.warning) == [f"Cannot run the colour analysis: {ONE_GENRE}."]
        assert not at.dataframe
    else:
        n = KINDS[kind]["metal"]
        assert f"metal: only {n} covers, so two disjoint samples of 1 (not 50)" in texts(at.warning)
        assert at.dataframe[0].value["per sample"].eq(1).all()


def test_style_map_page_says_how_many_covers_the_perplexity_needs(small):
    kind, at = small
    open_page(at, "style_map")
    n = sum(KINDS[kind].values())
    assert texts(at.error) == [f"Cannot draw the map: perplexity 30 needs more covers than that; "
                               f"this dataset has {n}: lower the perplexity below {n}"]


@pytest.mark.parametrize("page", ["overview", "results"])
def test_pages_that_do_not_use_the_dataset_work(small, page):
    open_page(small[1], page)


def test_predict_page_answers_a_cover(small):
    at = open_page(small[1], "predict")
    at.file_uploader(key="predict_uploads").set_value(
        [("cover.jpg", jpeg_bytes((200, 30, 30), (64, 64)), "image/jpeg")]).run()
    assert not at.exception
    assert [m for m in texts(at.markdown) if m.startswith("**Most likely:")]


# --- the command line -------------------------------------------------------------

@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("command", ["baselines", "color"])
def test_cli_says_what_the_dataset_lacks_in_one_line(kind, command, tmp_path, capsys):
    root = make_folder_dataset(tmp_path / kind, KINDS[kind])
    quick = ["--no-png"] if command == "color" else []
    code = main([command, str(root), "--out", str(tmp_path / "out"), *quick])
    err = capsys.readouterr().err
    if command == "color" and kind != "single":          # small samples: it runs, with notes
        assert code == 0
        return
    assert code == 2 and err == f"error: {PROBLEM[kind]}\n"
    assert not (tmp_path / "out").exists()


def test_cli_baselines_counts_with_its_own_split_flags(tmp_path, capsys):
    root = make_folder_dataset(tmp_path / "two", KINDS["two"])
    assert main(["baselines", str(root), "--test-frac", "0.05"]) == 2
    assert capsys.readouterr().err == (
        "error: this dataset has no test split; it needs 11 covers per genre to split it "
        "(its genres have 2)\n")


@pytest.mark.parametrize("kind", list(KINDS))
def test_cli_train_says_what_the_dataset_lacks_and_trains_nothing(kind, tmp_path, capsys):
    """Without a test split (or with one genre) a run would report a meaningless score."""
    from cover_model.networks.runs import list_runs
    root = make_folder_dataset(tmp_path / kind, KINDS[kind])
    before = list_runs()
    assert main(["train", "--preset", "smoke", "--data", str(root)]) == 2
    assert capsys.readouterr().err.endswith(f"error: {PROBLEM[kind]}\n")
    assert list_runs() == before
