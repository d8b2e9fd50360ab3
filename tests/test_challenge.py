"""You vs the model: seeded rounds from the test split, scoring beside a model, kept rounds,
and a whole round played on the page (AppTest)."""
import numpy as np
import pytest

from cover_model.data.dataset import load_dataset
from cover_model.data.splits import assign_splits
from cover_model.service import challenge

from .helpers import make_folder_dataset, open_page


@pytest.fixture
def split_dataset(tmp_path):
    """Three genres of 20 covers; a stratified split leaves 3 of each for the test."""
    root = make_folder_dataset(tmp_path / "covers", {"metal": 20, "ambient": 20, "jazz": 20}, size=(16, 16))
    return assign_splits(load_dataset(root), scheme="stratified")


def test_a_round_is_seeded_balanced_and_from_the_test_split_only(split_dataset):
    test_paths = set(split_dataset.items.loc[split_dataset.items["split"] == "test", "path"])
    first = challenge.draw_round(split_dataset, 6, seed=4)
    assert first.equals(challenge.draw_round(split_dataset, 6, seed=4))
    assert set(first["path"]) <= test_paths and first["path"].is_unique
    assert first["genre"].value_counts().to_dict() == {"metal": 2, "ambient": 2, "jazz": 2}
    others = [challenge.draw_round(split_dataset, 6, seed=s) for s in range(5, 10)]
    assert any(list(o["path"]) != list(first["path"]) for o in others)
    everything = challenge.draw_round(split_dataset, len(test_paths), seed=0)
    assert set(everything["path"]) == test_paths
    with pytest.raises(challenge.ChallengeError, match="test split"):
        challenge.draw_round(split_dataset.subset("train"), 3, seed=0)


def test_public_mode_caps_the_round(split_dataset, monkeypatch):
    monkeypatch.setenv("COVER_LAB_PUBLIC", "1")
    assert max(challenge.round_sizes()) == 50
    with pytest.raises(challenge.ChallengeError, match="1 to 50"):
        challenge.draw_round(split_dataset, 51, seed=0)


def test_scoring_against_known_answers():
    truth = ["jazz", "jazz", "jazz", "metal", "ambient"]
    player = ["jazz", "metal", "jazz", "metal", "jazz"]
    model = ["jazz", "jazz", "pop", "metal", "ambient"]      # pop: a genre the dataset lacks
    score = challenge.score_round(truth, player, model, class_names=["ambient", "jazz", "metal"],
                                  paths=list("abcde"))
    table = score.table
    assert list(table.index) == ["overall", "balanced", "ambient", "jazz", "metal"]
    assert table["covers"].tolist() == [5, 5, 1, 3, 1]
    assert table["player"].tolist() == pytest.approx([3 / 5, (0 + 2 / 3 + 1) / 3, 0, 2 / 3, 1])
    assert table["model"].tolist() == pytest.approx([4 / 5, (1 + 2 / 3 + 1) / 3, 1, 2 / 3, 1])
    assert score.disagreements.to_dict("list") == {
        "path": ["b", "c", "e"], "genre": ["jazz", "jazz", "ambient"],
        "player": ["metal", "jazz", "jazz"], "model": ["jazz", "pop", "ambient"]}
    record = score.record(seed=7)
    assert (record["covers"], record["player"], record["model"]) == (5, 0.6, 0.8)
    assert record["per_genre"]["jazz"] == [3, pytest.approx(2 / 3), pytest.approx(2 / 3)]


def test_the_model_answers_each_cover_and_an_unreadable_one_counts_as_no_answer(tmp_path):
    class Fixed:
        class_names = ("jazz", "metal")

        def probabilities(self, image):
            if image == "broken":                       # as the Predictor's decode raises
                raise challenge.ImageDecodeError("broken: not an image")
            return np.array([0.2, 0.8])

    assert challenge.model_answers(Fixed(), ["a", "broken"]) == ["metal", ""]


def test_only_models_that_know_every_genre_are_offered_and_a_damaged_run_is_left_out(tmp_path):
    from cover_model.networks import runs
    from cover_model.networks.config import TrainConfig
    folders = {}
    for name, classes in (("wide", ["ambient", "jazz", "metal"]), ("narrow", ["metal"]),
                          ("damaged", None)):
        folders[name] = tmp_path / name
        folders[name].mkdir()
        if classes:
            runs.Run(folders[name]).write_config({}, runs.ModelArgs.of(TrainConfig(), classes))
        else:
            (folders[name] / "config.json").write_text("{not json")
    fitting = challenge.models_that_fit(list(folders.values()), ["jazz", "metal"])
    assert fitting == [folders["wide"]]


def test_rounds_are_appended_and_the_table_reads_them(monkeypatch):
    path = challenge.attempts_file("0123abcd", "../my run")
    assert path.name == "_my_run.jsonl" and path.parent.name == "0123abcd"
    assert challenge.attempts_table(path).empty
    for player, model in ((0.5, 0.3), (0.7, 0.3)):
        challenge.record_attempt(path, {"time": "t", "seed": 1, "covers": 10, "player": player,
                                        "model": model, "player_balanced": player,
                                        "model_balanced": model, "per_genre": {}})
    with path.open("a") as fh:
        fh.write("{half a line\n")                    # a damaged line is skipped, not fatal
    table = challenge.attempts_table(path)
    assert list(table.index) == ["1", "2", "mean"]
    assert table.loc["mean", "player"] == pytest.approx(0.6)
    assert table.loc["mean", "model"] == pytest.approx(0.3)
    assert table.loc["mean", "covers"] == 20 and table.loc["mean", "time"] == "2 rounds"

    monkeypatch.setenv("COVER_LAB_MAX_ATTEMPTS_BYTES", str(path.stat().st_size + 10))
    with pytest.raises(challenge.ChallengeError, match="full"):
        challenge.record_attempt(path, challenge.read_attempts(path)[0])
    assert len(challenge.read_attempts(path)) == 2
    monkeypatch.setenv("COVER_LAB_MAX_CHALLENGE_COVERS", "5")
    with pytest.raises(challenge.ChallengeError, match="at most 5"):
        challenge.record_attempt(path, {**challenge.read_attempts(path)[0], "covers": 6})
    with pytest.raises(challenge.ChallengeError, match="fingerprint"):
        challenge.attempts_file("../../etc", "x")


def test_a_whole_round_on_the_embedded_covers(embedded_data, app_main, monkeypatch):
    from cover_model.networks import training
    from cover_model.networks.config import TrainConfig
    monkeypatch.setattr("cover_model.shipped.shipped_run", lambda: None)
    run_dir = training.main(TrainConfig(epochs=1, batch_size=32))
    at = open_page("app_pages/challenge.py")
    assert at.selectbox(key="challenge_run").value == str(run_dir)
    at.button(key="challenge_start").click().run()
    for i in range(10):
        assert not at.exception
        assert any(p.proto.text == f"{i + 1} of 10" for p in at.get("progress"))
        assert any("synthetic" in info.value for info in at.info)
        at.button(key="challenge_answer_metal").click().run()
    assert not at.exception
    you, model = at.metric
    assert you.label == "You" and model.label == "The model"
    table = at.dataframe[0].value
    # whole percents (Streamlit's own "percent" format showed 33.33%)
    assert table.loc["overall", "player"] == round(100 * table.loc["metal", "covers"] / 10)
    assert (table[["player", "model"]] % 1 == 0).all().all()
    assert table.loc["overall", "covers"] == 10 and len(table) == 2 + 10   # one of each genre
    kept = at.dataframe[1].value
    assert list(kept.index) == ["1", "mean"]
    assert kept.loc["1", "player"] == table.loc["overall", "player"]
    at.run()                                           # a rerun keeps no second line
    assert list(at.dataframe[1].value.index) == ["1", "mean"]
    at.button(key="challenge_again").click().run()
    assert any(p.proto.text == "1 of 10" for p in at.get("progress"))
