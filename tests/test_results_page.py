"""The Results page (AppTest): runs table, per-genre accuracy beside the paper, confusion
heatmap, misclassified covers, runs side by side, downloads, failed runs."""
import dataclasses
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from cover_model.atomic_files import write_json
from cover_model.networks import runs, training
from cover_model.networks.config import TrainConfig
from cover_model.paths import PROJECT_ROOT, checkpoints_dir
from cover_model.shipped import shipped_run

from .helpers import open_page

PAGE = "app_pages/results.py"


@pytest.fixture(autouse=True)
def without_the_shipped_model(request, monkeypatch):
    """These tests read their own runs; the one that looks for the shipped model asks for it."""
    if "with_shipped" not in request.fixturenames:
        monkeypatch.setattr("cover_model.shipped.shipped_run", lambda: None)


@pytest.fixture
def with_shipped():
    from cover_model.shipped import shipped_run
    assert shipped_run() is not None, "the shipped model is missing"


def test_the_shipped_model_is_listed_with_its_figures_before_any_training(with_shipped,
                                                                         embedded_data, app_main):
    at = open_page(PAGE)
    assert not at.exception
    table = at.dataframe[0].value
    assert table.loc[0, "run"] == "real-covers" and table.loc[0, "model"].startswith("shipped")
    assert table.loc[0, "balanced_acc"] > 0.3
    per_genre = at.dataframe[1].value
    assert "metal" in per_genre.index and "reggae" in per_genre.index
    assert len(at.get("plotly_chart")) >= 2          # per-genre bars, confusion matrix
    assert "best epoch" not in texts(at, "caption")   # a head fitted in one go has no epochs


class StillGenerating:
    """The first launch's generation, halfway: what the pages see of it (a real one is a child
    process of about 17 CPU-s that would outlive the test)."""
    running = True

    def progress(self) -> tuple[int, int]:
        return 120, 450


def test_on_first_launch_the_runs_show_while_the_embedded_covers_are_generated(
        with_shipped, embedded_data, app_main, monkeypatch):
    """Results answers with the shipped model at once; only the label review at its end
    waits for the embedded covers (it stopped the whole page before the runs, once)."""
    monkeypatch.setattr("ui.default_dataset_ready", lambda **_: False)
    monkeypatch.setattr("ui_first_launch.default_dataset_ready", lambda **_: False)
    monkeypatch.setattr("ui_first_launch.covers_generation", StillGenerating)
    at = open_page(PAGE)
    assert at.multiselect(key="results_runs").value == [str(shipped_run())]
    assert at.get("plotly_chart") and "best epoch" not in texts(at, "caption")
    waiting = [bar.proto.text for bar in at.get("progress")]     # the label review, at the end
    assert waiting == ["First launch: generating the embedded synthetic covers (120/450)"]


@pytest.fixture(scope="module")
def trained_run(synth_data_dir, tmp_path_factory):
    """One small CNN trained on the embedded covers for this file (not one per test)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COVER_LAB_DATA", str(synth_data_dir))
        mp.setenv("COVER_LAB_CHECKPOINTS", str(tmp_path_factory.mktemp("results-checkpoints")))
        return training.main(TrainConfig(epochs=1, batch_size=32))


@pytest.fixture
def finished_run(trained_run, embedded_data, app_main):
    """That run, copied into this test's checkpoints folder: a test may change it."""
    return Path(shutil.copytree(trained_run, checkpoints_dir() / trained_run.name))


def texts(at: AppTest, kind: str) -> str:
    return " ".join(e.value for e in at.get(kind))


def test_without_runs_it_points_to_train(embedded_data, app_main):
    at = open_page(PAGE)
    assert "No runs yet" in texts(at, "info")


def test_one_finished_run_tables_confusion_gallery_and_downloads(finished_run):
    at = open_page(PAGE)
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["run"]) == [finished_run.name] and table.loc[0, "state"] == "done"

    per_genre = at.dataframe[1].value
    assert list(per_genre.columns) == ["custom scratch 32px", "paper Table 3: custom CNN"]
    assert per_genre.loc["metal", "paper Table 3: custom CNN"] == 44
    assert per_genre.loc["overall", "paper Table 3: custom CNN"] == 17.6

    assert len(at.get("plotly_chart")) == 3          # per-genre bars, curves, confusion
    assert at.metric[0].label == "Test accuracy"
    # the table's overall figure is the run's test accuracy, as the metric beside it says
    shown = float(at.metric[0].value.rstrip("%"))
    assert per_genre.loc["overall", "custom scratch 32px"] == pytest.approx(shown, abs=0.05)
    assert len(at.get("download_button")) == 3
    assert "best epoch 1 of 1" in texts(at, "caption")
    assert "synthetic" in texts(at, "info")
    gallery = at.get("image")
    assert gallery and "→" in str(gallery[0].proto)   # captions: true -> predicted

    at.get("button_group")[0].set_value("Row-normalised").run()
    assert not at.exception
    at.selectbox(key="results_gallery_genre").set_value("metal").run()
    assert not at.exception


def test_two_runs_side_by_side(finished_run):
    second = training.main(dataclasses.replace(TrainConfig(epochs=1, batch_size=32), lr=0.02))
    at = open_page(PAGE)
    picker = at.multiselect(key="results_runs")
    picker.set_value([str(second), str(finished_run)]).run()
    assert not at.exception
    per_genre = at.dataframe[1].value
    assert len(per_genre.columns) == 3                # two runs (told apart) and the paper once
    assert per_genre.columns[0] != per_genre.columns[2]
    assert "side by side" in texts(at, "subheader")
    at.selectbox(key="results_detail_run").set_value(str(finished_run)).run()
    assert finished_run.name in texts(at, "caption")


def test_a_failed_run_is_shown_with_its_error(embedded_data, app_main):
    run_dir = runs.Run.create({"arch": "custom", "mode": "scratch"}).path
    write_json(run_dir / "config.json", dataclasses.asdict(TrainConfig()))
    runs.Run(run_dir).write_status("failed", error="DatasetError: /data/covers: no such file or folder")
    at = open_page(PAGE)
    assert not at.exception
    assert "no such file or folder" in texts(at, "error")
    assert "No run has finished yet" in texts(at, "info")


def test_run_labels_tell_apart_runs_of_one_model_even_in_the_same_second(tmp_path):
    from cover_model.networks.figures import run_labels
    names = ["20261125-054123-custom-scratch-aaaa", "20261125-054123-custom-scratch-bbbb",
             "20261125-054124-custom-scratch-cccc", "20261125-054125-alexnet-scratch-dddd"]
    for name in names:
        arch = name.split("-")[2]
        write_json(tmp_path / name / "config.json", {"arch": arch, "mode": "scratch", "input_px": 32})
    labels = run_labels([tmp_path / n for n in names])
    assert len(set(labels.values())) == 4
    assert labels[tmp_path / names[2]] == "custom scratch 32px · 11-25 05:41:24"
    assert labels[tmp_path / names[3]] == "alexnet scratch 32px"


def test_public_mode_shows_a_visitor_only_embedded_runs_and_their_own(embedded_data, app_main,
                                                                     monkeypatch):
    """A hosted demo: a stranger's run on their uploaded covers (its data path, its
    scores, its misclassified covers) stays theirs."""
    monkeypatch.setenv("COVER_LAB_PUBLIC", "1")
    for name, data, owner in [("embedded", "synth", None), ("strangers", "/srv/x/uploads/a.zip", "0123456789ab"),
                              ("mine", "/srv/x/uploads/b.zip", "aaaaaaaaaaaa")]:
        run_dir = runs.Run.create({"arch": "custom", "mode": "scratch"}, name=name).path
        write_json(run_dir / "config.json", dataclasses.asdict(TrainConfig(data=data)))
        write_json(run_dir / "request.json", {"config": {"data": data}, "owner": owner})
        runs.Run(run_dir).write_status("failed", error=f"DatasetError: {data}: no usable images")
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    at.query_params["visitor"] = "aaaaaaaaaaaa"
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception
    shown = " ".join(at.dataframe[0].value["run"])
    assert "embedded" in shown and "mine" in shown and "strangers" not in shown
    assert "/srv/x" not in texts(at, "error") + " ".join(at.dataframe[0].value["data"])


def test_a_confusion_cell_shows_its_test_covers_most_confident_first(finished_run):
    predictions = runs.Run(finished_run).predictions()
    true, predicted = predictions.groupby(["genre", "predicted"]).size().idxmax()
    expected = predictions[(predictions["genre"] == true) & (predictions["predicted"] == predicted)]
    at = open_page(PAGE)
    assert "Click a cell" in texts(at, "caption")
    for scale in ("Counts", "Row-normalised"):
        at.get("button_group")[0].set_value(scale).run()
        at.selectbox(key="results_cell_true").set_value(true)
        at.selectbox(key="results_cell_predicted").set_value(predicted).run()
        assert not at.exception
        cell = [image.caption for image in at.get("image")[0].proto.imgs]   # before the mistakes
        assert len(cell) == min(30, len(expected)), scale
        assert all(c.startswith(f"{true} → {predicted} (") for c in cell)
        confidences = [int(c.rsplit("(", 1)[1].rstrip("%)")) for c in cell]
        assert confidences == sorted(confidences, reverse=True)
        assert f"{len(expected)} test cover(s) of {true} predicted as {predicted}" in texts(at, "caption")


def test_a_run_without_kept_predictions_scores_its_test_covers_on_request(finished_run):
    """As the shipped model, whose checkpoint keeps no per-cover predictions: the page
    offers to score the test split of the dataset it was tested on, then fills the cell."""
    kept = runs.Run(finished_run).predictions()
    (finished_run / "predictions.csv").unlink()
    true, predicted = kept.groupby(["genre", "predicted"]).size().idxmax()
    at = open_page(PAGE)
    assert not at.exception and "Click a cell" in texts(at, "caption")
    at.selectbox(key="results_cell_true").set_value(true)
    at.selectbox(key="results_cell_predicted").set_value(predicted).run()
    assert not at.get("image") and "No test covers to show" in texts(at, "caption")
    assert f"Score its {len(kept)} test covers" in at.button(key="results_score").label
    at.button(key="results_score").click().run()
    assert not at.exception
    cell = [image.caption for image in at.get("image")[0].proto.imgs]
    assert cell and all(c.startswith(f"{true} → {predicted} (") for c in cell)
    at.run()                                            # a rerun keeps the scores, no new click
    assert at.get("image") and not at.exception


def test_a_click_on_a_cell_names_that_cell():
    """The figure's click layer carries each cell's genres to selected_cell, as the
    browser's selection reports them."""
    from cover_model.networks.figures import confusion_figure, selected_cell
    names = ["jazz", "metal", "pop"]
    fig = confusion_figure([[3, 1, 0], [2, 5, 0], [0, 0, 4]], names, normalize=True)
    picker = fig.data[1]
    i = list(zip(picker.y, picker.x)).index(("metal", "jazz"))
    point = {"x": picker.x[i], "y": picker.y[i], "curve_number": 1, "point_index": i,
             "customdata": list(picker.customdata[i])}
    assert selected_cell({"selection": {"points": [point]}}) == ("metal", "jazz")
    assert picker.customdata[i][2] == "29%"                 # 2 of metal's 7 covers


def test_label_review_ranks_the_covers_and_offers_the_reviewed_manifest(finished_run):
    at = open_page(PAGE)
    assert "Label review" in texts(at, "subheader")
    at.multiselect(key="review_splits").set_value(["test"]).run()
    at.button(key="review_start").click().run()
    assert not at.exception
    fixes = [s for s in at.get("selectbox") if s.key and s.key.startswith("review_fix_")]
    assert len(fixes) == 20 and fixes[0].options[:2] == ["keep", "remove"]
    fixes[0].set_value("remove")
    fixes[1].set_value(fixes[1].options[2]).run()
    assert not at.exception
    assert "1 relabelled, 1 removed." in texts(at, "caption")
    # the embedded covers are generated: offered as a download, never written on the server
    assert [b for b in at.get("download_button") if "reviewed" in b.proto.label]
    assert not [b for b in at.button if b.key == "review_write"]
