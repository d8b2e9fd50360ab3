"""Scoring a finished run (issue 14): covers streamed a batch at a time, bad covers skipped,
other data scored whole and never re-split, genres matched by name, progress on the CLI."""
import io
import threading

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from cover_model.atomic_files import read_json
from cover_model.cli import main as cli
from cover_model.data.dataset import load_dataset
from cover_model.networks import runs, training
from cover_model.networks.config import TrainConfig
from cover_model.networks.evaluation import score_covers, stream_batch_size
from cover_model.networks.models import build_model
from cover_model.networks.predict import Predictor
from cover_model.networks.training import evaluate_run

from .helpers import jpeg_bytes, make_folder_dataset


class CountingPredictor(Predictor):
    """Counts the prepared images alive (made, not yet through the network) at once."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.alive = self.most_alive = 0
        self.batches = []
        self._count = threading.Lock()
        self.model.register_forward_pre_hook(self._consumed)

    def prepare(self, image):
        x = super().prepare(image)
        with self._count:
            self.alive += 1
            self.most_alive = max(self.most_alive, self.alive)
        return x

    def _consumed(self, module, inputs):
        self.batches.append(len(inputs[0]))
        self.alive -= len(inputs[0])


@pytest.fixture
def predictor():
    torch.manual_seed(0)
    return CountingPredictor(build_model("custom", 3, input_px=32), class_names=("a", "b", "c"),
                             input_px=32, method="area")


def test_covers_stream_one_batch_at_a_time_and_bad_ones_are_skipped(folder_dataset, predictor):
    paths = sorted(str(p) for p in folder_dataset.rglob("*.jpg"))
    (folder_dataset / "broken.jpg").write_text("not a cover")
    paths.insert(5, str(folder_dataset / "broken.jpg"))
    seen = []
    scores = score_covers(predictor, paths, batch_size=4, progress=lambda *s: seen.append(s))
    assert predictor.most_alive <= 4 and max(predictor.batches) <= 4     # never more than a batch
    assert scores.probs.shape == (30, 3) and np.allclose(scores.probs.sum(1), 1, atol=1e-5)
    assert 5 not in scores.index and len(scores.index) == 30
    assert [s.path for s in scores.skipped] == [paths[5]] and "not an image" in scores.skipped[0].reason
    assert seen[-1] == (31, 31) and len(seen) == 8                       # one report per batch
    one = predictor.probabilities(paths[0])                             # as predict answers
    assert np.allclose(scores.probs[0], one, atol=1e-6)


def test_batches_shrink_as_the_input_side_grows():
    assert stream_batch_size(224) == 32
    assert stream_batch_size(384) < stream_batch_size(320) < stream_batch_size(224)
    assert stream_batch_size(384) * 384 ** 2 <= 32 * 224 ** 2
    assert stream_batch_size(512) >= 1 and stream_batch_size(16) == 256


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A run of the paper's CNN on covers of folk, jazz and metal."""
    root = tmp_path_factory.mktemp("evaluate")
    data = make_folder_dataset(root / "covers", {"folk": 10, "jazz": 10, "metal": 10})
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COVER_LAB_DATA", str(root / "data"))
        mp.setenv("COVER_LAB_CHECKPOINTS", str(root / "ckpt"))
        return training.main(TrainConfig(data=str(data), epochs=1, batch_size=5)), data


def write_manifest(folder, genres: dict, splits=None):
    """``folder/manifest.csv`` over new covers: {genre: count}; ``splits`` a list, one per row."""
    rows = []
    for genre, n in genres.items():
        for i in range(n):
            path = folder / genre / f"{i}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(jpeg_bytes((20 * i, 100, 200)))
            rows.append({"path": f"{genre}/{i}.jpg", "genre": genre})
    table = pd.DataFrame(rows)
    if splits is not None:
        table["split"] = splits
    table.to_csv(folder / "manifest.csv", index=False)
    return folder


def test_own_data_scores_its_test_split_without_loading_it_whole(trained_run, monkeypatch):
    run_dir, _ = trained_run
    monkeypatch.setattr(training, "load_tensors", lambda *a, **k: pytest.fail("loaded every cover"))
    summary = evaluate_run(run_dir)
    test = runs.Run(run_dir).metrics()["test"]
    assert summary["split"] == "test" and summary["n"] == test["n"] == 6
    assert summary["accuracy"] == test["accuracy"]
    saved = read_json(run_dir / f"evaluation-{summary['dataset_fingerprint']}.json")
    assert saved["split"] == "test" and saved["n"] == 6 and saved["n_skipped"] == 0


def test_other_data_without_splits_is_scored_whole_not_resplit(trained_run, tmp_path):
    run_dir, _ = trained_run
    other = write_manifest(tmp_path / "other", {"folk": 7, "metal": 9})
    summary = evaluate_run(run_dir, data=str(other))
    assert summary["n"] == 16 and summary["split"] == "all"
    assert summary["class_names"] == ["folk", "jazz", "metal"]       # the run's, by name
    assert sum(map(sum, summary["confusion"])) == 16
    assert np.array(summary["confusion"])[1].sum() == 0               # no jazz cover in it


def test_other_data_of_test_rows_only_or_a_holdout_split_is_scored(trained_run, tmp_path):
    run_dir, _ = trained_run
    all_test = write_manifest(tmp_path / "all-test", {"folk": 4, "jazz": 4}, splits=["test"] * 8)
    assert evaluate_run(run_dir, data=str(all_test))["n"] == 8
    holdout = write_manifest(tmp_path / "holdout", {"jazz": 6, "metal": 6},
                             splits=["holdout", "train"] * 6)
    assert evaluate_run(run_dir, data=str(holdout))["n"] == 12
    summary = evaluate_run(run_dir, data=str(holdout), split="holdout")
    assert summary["n"] == 6 and summary["split"] == "holdout"
    with pytest.raises(ValueError, match="no cover has split 'val'"):
        evaluate_run(run_dir, data=str(holdout), split="val")


def test_genres_the_run_does_not_know_are_left_out_and_named(trained_run, tmp_path):
    run_dir, _ = trained_run
    other = write_manifest(tmp_path / "other", {"jazz": 5, "reggae": 3, "blues": 2})
    summary = evaluate_run(run_dir, data=str(other))
    assert summary["n"] == 5 and summary["unknown_genres"] == {"blues": 2, "reggae": 3}
    none_known = write_manifest(tmp_path / "none", {"reggae": 3})
    with pytest.raises(ValueError, match="none of its 3 covers is of a genre the run knows"):
        evaluate_run(run_dir, data=str(none_known))


def test_cli_evaluate_prints_progress_and_what_it_scored(trained_run, tmp_path, capsys):
    run_dir, _ = trained_run
    other = write_manifest(tmp_path / "other", {"folk": 6, "reggae": 2})
    noise = np.random.default_rng(0).integers(0, 256, (96, 96, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, "JPEG")
    (other / "folk" / "0.jpg").write_bytes(buffer.getvalue()[:700])   # cut off part-way
    assert load_dataset(other).items["path"].str.endswith("folk/0.jpg").any()   # header fine
    assert cli(["evaluate", str(run_dir), "--data", str(other)]) == 0
    out, err = capsys.readouterr()
    assert "scoring covers: 6/6" in err
    assert "scored 5 covers of" in out and "(every cover)" in out
    assert "skipped 1 cover(s) that could not be decoded" in out and "folk/0.jpg" in out
    assert "left out 2 cover(s) of genres the run does not know: reggae (2)" in out
