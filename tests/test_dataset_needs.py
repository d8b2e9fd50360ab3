"""What each analysis needs of a dataset (cover_model.data.dataset_needs): a single genre, two
or three covers per genre and no split column load, and each analysis says what it lacks."""
import pytest

from cover_model.data.dataset import load_dataset
from cover_model.data.dataset_needs import (
    NotEnoughData,
    baselines_problem,
    challenge_problem,
    colour_problem,
    dataset_limits,
    require,
    split_problem,
    training_problem,
)
from cover_model.data.splits import assign_splits, covers_needed_per_genre

from .helpers import make_folder_dataset

NO_TEST = "this dataset has no test split; it needs 4 covers per genre to split it (its genres have 3)"
ONE_GENRE = "this dataset has a single genre (metal); telling genres apart needs at least 2"


def split(tmp_path, counts, **settings):
    """``counts`` covers per genre, loaded and split as the dashboard does (or with ``settings``)."""
    return assign_splits(load_dataset(make_folder_dataset(tmp_path / "covers", counts)), **settings)


@pytest.mark.parametrize("settings, needed", [
    ({}, 4), ({"test_frac": 0.3}, 2), ({"test_frac": 0.05}, 11), ({"scheme": "paper"}, 2),
    ({"test_frac": 0.0}, None), ({"scheme": "manifest"}, None)])
def test_covers_needed_per_genre_is_the_smallest_genre_a_split_gets_a_cover_of(settings, needed):
    assert covers_needed_per_genre("test", **settings) == needed


@pytest.mark.parametrize("n, settings", [(3, {}), (4, {}), (10, {"test_frac": 0.05}),
                                         (11, {"test_frac": 0.05}), (1, {"scheme": "paper"}),
                                         (2, {"scheme": "paper"})])
def test_the_answer_matches_what_assign_splits_does(tmp_path, n, settings):
    dataset = split(tmp_path, {"metal": n, "jazz": n}, **settings)
    has_test = bool((dataset.items["split"] == "test").any())
    assert has_test == (n >= covers_needed_per_genre("test", **settings))
    assert (split_problem(dataset, **settings) is None) == has_test


def test_three_covers_per_genre_and_no_split_column(tmp_path):
    dataset = split(tmp_path, {"metal": 3, "jazz": 3, "rock": 2})
    no_test = NO_TEST.replace("have 3", "have 2 to 3")
    assert split_problem(dataset) == no_test
    assert baselines_problem(dataset) == no_test
    assert training_problem(dataset) == no_test
    assert challenge_problem(dataset) == no_test
    assert colour_problem(dataset) is None            # samples of one cover: it runs, with notes
    assert dataset_limits(dataset) == [
        f"the baselines, training and You vs the model need more: {no_test}"]
    with pytest.raises(NotEnoughData, match="^this dataset has no test split; it needs 4"):
        require(baselines_problem(dataset))


def test_a_single_genre(tmp_path):
    dataset = split(tmp_path, {"metal": 10})
    for problem in (baselines_problem, training_problem, colour_problem, challenge_problem):
        assert problem(dataset) == ONE_GENRE, problem.__name__
    assert dataset_limits(dataset) == [
        f"the baselines, training, the colour analysis and You vs the model need more: {ONE_GENRE}"]


def test_two_covers_per_genre(tmp_path):
    dataset = split(tmp_path, {"metal": 2, "jazz": 2})
    assert baselines_problem(dataset) == NO_TEST.replace("have 3", "have 2")
    assert colour_problem(dataset) is None


def test_the_colour_analysis_needs_two_genres_of_two_covers(tmp_path):
    assert colour_problem(split(tmp_path / "a", {"metal": 1, "jazz": 1, "rock": 1})) == (
        "no genre has 2 covers or more; the colour analysis compares two disjoint samples of "
        "each genre, so it needs at least 2 such genres")
    assert colour_problem(split(tmp_path / "b", {"metal": 5, "jazz": 1})).startswith("only metal has 2")


def test_a_split_the_user_chose_or_a_manifest_without_test_rows(tmp_path):
    dataset = split(tmp_path, {"metal": 6, "jazz": 6}, scheme="stratified", test_frac=0.0)
    assert split_problem(dataset) == (
        "this dataset's split has no test covers (a manifest's split column without 'test' rows, "
        "or a test fraction of 0)")
    assert split_problem(dataset, test_frac=0.0) == split_problem(dataset)


def test_groups_too_few_to_spread(tmp_path):
    root = make_folder_dataset(tmp_path / "covers", {"metal": 6, "jazz": 6})
    rows = [f"{p.relative_to(root)},{p.parent.name},{'a' if i % 2 else 'b'}"
            for i, p in enumerate(sorted(root.rglob("*.jpg")))]
    (root / "manifest.csv").write_text("path,genre,group\n" + "\n".join(rows) + "\n")
    dataset = assign_splits(load_dataset(root))                  # auto: group-aware
    assert split_problem(dataset) == (
        "this dataset has no test split: its covers are in 2 group(s) (e.g. artists), and a "
        "group stays in one split, so it needs more groups")
    assert training_problem(dataset, split_scheme="stratified") is None


def test_training_checks_the_scheme_it_will_split_by(tmp_path):
    dataset = split(tmp_path, {"metal": 3, "jazz": 3})
    assert training_problem(dataset) == NO_TEST
    assert training_problem(dataset, split_scheme="paper") is None        # half a genre for test
    folder = load_dataset(tmp_path / "covers")
    assert training_problem(folder, split_scheme="group") == (
        "the dataset has no group column; use scheme 'stratified'")


def test_a_dataset_that_can_do_everything_has_no_limits(tmp_path):
    assert dataset_limits(split(tmp_path, {"metal": 4, "jazz": 4})) == []
