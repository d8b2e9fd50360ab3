"""Colour analysis: histograms, OpenCV-equal metrics, the paper's protocol, reports, CLI."""
import json

import cv2
import numpy as np
import pandas as pd
import pytest

from cover_model.cli import main
from cover_model.color import (
    METRIC_NAMES,
    METRICS,
    ColorConfig,
    build_reference,
    compare_all_pairs,
    compare_pairs_cv2,
    compute_gradient_histograms,
    compute_histograms,
    draw_disjoint_samples,
    mean_covers,
    mean_similarity,
    profile_cover,
    rank_self_similarity,
    run_color_analysis,
    run_trials,
    similarity_matrix,
    write_color_report,
)
from cover_model.color.figures import paper_table1, rank_table, similarity_heatmap
from cover_model.data.dataset import load_dataset
from cover_model.genres import PAPER_GENRES


def random_covers(n, *, size=32, seed=0, levels=4):
    """Covers with a few colours each, so histograms are sparse like real ones."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, levels, (n, size, size, 3)) * (255 // (levels - 1))
    return (images + rng.integers(0, 30, (n, 1, 1, 3))).clip(0, 255).astype(np.uint8)


def one_colour_covers(n_genres, n_per_genre):
    """Every cover one flat colour of its own: a histogram with a single, unique bin."""
    bins = np.arange(n_genres * n_per_genre)
    rgb = np.stack([bins // 64, bins // 8 % 8, bins % 8], axis=1) * 32 + 16
    images = np.broadcast_to(rgb[:, None, None, :], (len(bins), 8, 8, 3)).astype(np.uint8)
    return images, np.repeat(np.arange(n_genres), n_per_genre)


# -- histograms --------------------------------------------------------------

@pytest.mark.parametrize("bins", [8, 4, 16])
def test_colour_histograms_equal_opencv_calchist(bins):
    images = random_covers(5, levels=7)
    ours = compute_histograms(images, bins=bins)
    assert ours.shape == (5, bins ** 3) and ours.dtype == np.float32
    for image, row in zip(images, ours):
        ref = cv2.calcHist([image], [0, 1, 2], None, [bins] * 3, [0, 256] * 3).ravel()
        np.testing.assert_allclose(row, ref / ref.sum(), atol=1e-7)


@pytest.mark.parametrize("space", ["rgb", "hsv", "lab"])
def test_histograms_sum_to_one_in_every_space(space):
    hist = compute_histograms(random_covers(4), space=space)
    np.testing.assert_allclose(hist.sum(axis=1), 1, atol=1e-6)


def test_hsv_bins_follow_hue():
    red, green = np.zeros((2, 4, 4, 3), np.uint8), np.zeros((1, 4, 4, 3), np.uint8)
    red[..., 0], green[..., 1] = 255, 255
    assert compute_histograms(red, space="hsv").argmax(axis=1)[0] != \
        compute_histograms(green, space="hsv").argmax(axis=1)[0]


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="colour space"):
        compute_histograms(random_covers(1), space="cmyk")
    with pytest.raises(ValueError, match="uint8"):
        compute_histograms(np.zeros((1, 8, 8, 3), np.float32))


def test_gradient_histograms_see_edge_orientation():
    horizontal = np.zeros((1, 32, 32, 3), np.uint8)
    horizontal[:, ::4] = 255                        # rows: vertical gradients (90 degrees)
    vertical = np.ascontiguousarray(horizontal.transpose(0, 2, 1, 3))
    h = compute_gradient_histograms(np.concatenate([horizontal, vertical]), bins=9, grid=1)
    assert h.shape == (2, 9)
    np.testing.assert_allclose(h.sum(axis=1), 1, atol=1e-6)
    assert h[0].argmax() == 4                       # the 80-100 degree bin
    assert h[1, [0, 8]].sum() > 0.99                # 0 / 180 degrees, split across the wrap


def test_gradient_histograms_have_a_cell_per_grid_square_and_flat_covers_are_uniform():
    covers = random_covers(3)
    covers[2] = 128
    h = compute_gradient_histograms(covers, bins=9, grid=4)
    assert h.shape == (3, 4 * 4 * 9) and h.dtype == np.float32
    np.testing.assert_allclose(h[2], 1 / h.shape[1])


# -- metrics -----------------------------------------------------------------

def test_metric_directions():
    assert METRICS["correlation"].higher_is_similar and METRICS["intersection"].higher_is_similar
    assert not METRICS["chi_square"].higher_is_similar and not METRICS["hellinger"].higher_is_similar
    assert set(METRIC_NAMES) == {"correlation", "chi_square", "intersection", "hellinger"}


@pytest.mark.parametrize("metric", METRIC_NAMES)
def test_all_pairs_equal_opencv_comparehist(metric):
    rng = np.random.default_rng(1)
    covers = compute_histograms(random_covers(30, seed=2))
    dense = rng.dirichlet(np.full(512, 0.3), 12).astype(np.float32)
    for h1, h2 in ((covers[:15], covers[15:]), (dense[:6], dense[6:]), (covers[:8], dense)):
        ours, ref = compare_all_pairs(h1, h2, metric=metric), compare_pairs_cv2(h1, h2, metric=metric)
        assert ours.shape == (len(h1), len(h2))
        # 1e-6 absolute; chi-square is unbounded, so relative to its size there
        np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-6)
    one = (covers[0], covers[1])
    assert abs(compare_all_pairs(one[0][None], one[1][None], metric=metric)[0, 0]
               - cv2.compareHist(*one, METRICS[metric].cv2_method)) < 1e-6


@pytest.mark.parametrize("metric", METRIC_NAMES)
def test_mean_similarity_is_the_mean_of_every_pair(metric):
    sparse = compute_histograms(random_covers(40, seed=3))
    dense = np.random.default_rng(4).dirichlet(np.full(64, 2.0), 40).astype(np.float32)
    for h in (sparse, dense):          # both code paths: sparse and dense products
        ref = compare_pairs_cv2(h[:25], h[25:], metric=metric).mean()
        assert mean_similarity(h[:25], h[25:], metric=metric) == pytest.approx(ref, rel=1e-9, abs=1e-9)


def test_degenerate_histograms_follow_opencv():
    flat = np.full((2, 8), 1 / 8, np.float32)              # zero variance: OpenCV says 1
    empty = np.zeros((1, 8), np.float32)
    signed = np.random.default_rng(5).normal(size=(3, 8)).astype(np.float32)   # not histograms
    for metric in METRIC_NAMES:
        cases = [(flat, flat), (empty, flat), (flat, empty)]
        if metric != "hellinger":          # square roots: Hellinger is for non-negative histograms
            cases.append((signed, signed[::-1]))
        for h1, h2 in cases:
            np.testing.assert_allclose(compare_all_pairs(h1, h2, metric=metric),
                                       compare_pairs_cv2(h1, h2, metric=metric), atol=1e-9)
            assert mean_similarity(h1, h2, metric=metric) == pytest.approx(
                compare_pairs_cv2(h1, h2, metric=metric).mean(), abs=1e-9)


# -- the protocol ------------------------------------------------------------

def test_samples_are_disjoint_and_small_genres_get_half_their_covers():
    labels = np.repeat([0, 1, 2], [120, 44, 1])
    samples = draw_disjoint_samples(labels, n_classes=3, n_per_genre=50, rng=np.random.default_rng(0))
    assert samples.n_per_genre.tolist() == [50, 22, 0]
    for genre, (a, b) in enumerate(zip(samples.a, samples.b)):
        assert not set(a) & set(b)
        assert (labels[a] == genre).all() and (labels[b] == genre).all()


@pytest.mark.parametrize("metric", METRIC_NAMES)
def test_matrix_is_symmetric_and_mirrors_the_upper_triangle(metric):
    images = random_covers(120, seed=4)
    h, labels = compute_histograms(images), np.repeat(np.arange(4), 30)
    samples = draw_disjoint_samples(labels, n_classes=4, n_per_genre=10, rng=np.random.default_rng(1))
    matrix = similarity_matrix(h, samples, metric=metric)
    np.testing.assert_array_equal(matrix, matrix.T)
    for i in range(4):
        for j in range(i, 4):            # entry (i, j), i <= j: sample A of i against sample B of j
            ref = compare_pairs_cv2(h[samples.a[i]], h[samples.b[j]], metric=metric).mean()
            assert matrix[i, j] == pytest.approx(ref, rel=1e-9, abs=1e-9)


def test_no_cover_is_compared_with_itself_on_the_diagonal():
    images, labels = one_colour_covers(3, 20)
    h = compute_histograms(images)
    samples = draw_disjoint_samples(labels, n_classes=3, n_per_genre=10, rng=np.random.default_rng(0))
    matrix = similarity_matrix(h, samples, metric="intersection")
    # Every cover has a bin no other cover has: only a self-comparison could score above 0.
    np.testing.assert_array_equal(np.diag(matrix), 0)
    assert compare_all_pairs(h, h, metric="intersection").diagonal().min() == 1


def test_rank_honours_each_metrics_direction():
    matrix = np.array([[0.2, 0.5, 0.1],
                       [0.5, 0.9, 0.3],
                       [0.1, 0.3, 0.0]])
    for name in ("correlation", "intersection"):          # higher is more similar
        assert rank_self_similarity(matrix, metric=name).tolist() == [2, 1, 3]
    for name in ("chi_square", "hellinger"):              # lower is more similar
        assert rank_self_similarity(matrix, metric=name).tolist() == [2, 3, 1]


def test_rank_ignores_genres_without_a_sample():
    matrix = np.array([[0.5, np.nan, 0.1], [np.nan, np.nan, np.nan], [0.1, np.nan, 0.4]])
    ranks = rank_self_similarity(matrix, metric="intersection")
    assert ranks[0] == 1 and ranks[2] == 1 and np.isnan(ranks[1])


def test_trials_are_deterministic_by_seed():
    h, labels = compute_histograms(random_covers(200, seed=5)), np.repeat(np.arange(5), 40)
    first = run_trials(h, labels, n_classes=5, n_per_genre=10, n_trials=4, seed=7)
    again = run_trials(h, labels, n_classes=5, n_per_genre=10, n_trials=4, seed=7)
    other = run_trials(h, labels, n_classes=5, n_per_genre=10, n_trials=4, seed=8)
    np.testing.assert_array_equal(first.matrices, again.matrices)
    np.testing.assert_array_equal(first.ranks, again.ranks)
    assert not np.array_equal(first.matrices, other.matrices)
    # A trial's draw does not depend on how many trials run.
    single = run_trials(h, labels, n_classes=5, n_per_genre=10, n_trials=1, seed=7)
    np.testing.assert_array_equal(single.matrices[0], first.matrices[0])
    assert first.matrices.shape == (4, 4, 5, 5) and first.ranks.shape == (4, 4, 5)


def test_mean_covers_average_a_sample_per_genre():
    images = np.stack([np.full((4, 4, 3), v, np.uint8) for v in (10, 30, 200, 255)])
    covers = mean_covers(images, np.array([0, 0, 1, 2]), n_classes=4, n_per_genre=None)
    assert covers.shape == (4, 4, 4, 3)
    assert covers[:, 0, 0, 0].tolist() == [20, 200, 255, 0]


# -- the whole analysis, the profile, the report, the CLI -----------------------

@pytest.fixture
def small_genres(tmp_path):
    from .helpers import make_folder_dataset
    return load_dataset(make_folder_dataset(tmp_path / "covers", {"metal": 12, "ambient": 9, "jazz": 1}))


def test_analysis_reduces_small_genres_and_says_so(small_genres):
    cfg = ColorConfig(n_per_genre=5, trials=3, mean_cover_px=16, mean_cover_n=0)
    analysis = run_color_analysis(small_genres, cfg)
    assert analysis.class_names == ("ambient", "jazz", "metal")
    assert analysis.trials.n_per_genre.tolist() == [4, 0, 5]
    assert any("ambient: only 9 covers" in n for n in analysis.notes)
    assert any(n.startswith("jazz: 1 cover(s), too few") for n in analysis.notes)
    assert np.isnan(analysis.matrix(trial=0)[1]).all()
    assert analysis.mean_covers.shape == (3, 16, 16, 3)
    table = rank_table(analysis)
    assert table.loc["metal", "per sample"] == 5 and np.isnan(table.loc["jazz", "mean rank"])
    assert table.loc["metal", "paper Table 1"] == 1 and pd.isna(table.loc["jazz", "rank (trial 1)"])


def test_gradient_feature_goes_through_the_same_protocol(small_genres):
    analysis = run_color_analysis(small_genres, ColorConfig(feature="gradient", n_per_genre=3, trials=2))
    assert analysis.genre_means.shape == (3, 4 * 4 * 9)
    assert analysis.trials.matrices.shape == (2, 4, 3, 3)


def test_config_refuses_bad_values():
    with pytest.raises(ValueError, match="unknown metric"):
        ColorConfig(metric="cosine")
    with pytest.raises(ValueError, match="n_per_genre"):
        ColorConfig(n_per_genre=0)


def test_profile_finds_the_cover_itself_and_the_closest_genre(folder_dataset):
    dataset = load_dataset(folder_dataset)
    reference = build_reference(dataset)
    path = dataset.items["path"].iloc[3]
    profile = profile_cover(path, reference, k=3)
    assert profile.neighbours["path"].iloc[0] == path
    assert profile.neighbours["score"].iloc[0] == pytest.approx(1.0)
    assert list(profile.similarity.columns) == list(METRIC_NAMES)
    assert set(profile.closest) == set(METRIC_NAMES)
    assert profile.closest["intersection"] in dataset.class_names
    assert profile.histogram.shape == (512,)


def test_report_writes_tables_figures_and_mean_covers(small_genres, tmp_path):
    analysis = run_color_analysis(small_genres, ColorConfig(n_per_genre=3, trials=2))
    report = write_color_report(analysis, tmp_path / "out", png=False)
    names = {p.name for p in report.files}
    assert {"similarity_intersection.csv", "table1_hellinger.csv", "ranks_per_trial.csv",
            "heatmap_intersection.html", "mean_covers.png", "config.json"} <= names
    matrix = pd.read_csv(tmp_path / "out" / "similarity_intersection.csv", index_col=0)
    assert list(matrix.index) == ["ambient", "jazz", "metal"]
    per_trial = pd.read_csv(tmp_path / "out" / "ranks_per_trial.csv")
    assert len(per_trial) == 2 * 4 * 3
    assert json.loads((tmp_path / "out" / "config.json").read_text())["config"]["n_per_genre"] == 3


def test_heatmap_is_red_where_similar_for_both_directions(small_genres):
    analysis = run_color_analysis(small_genres, ColorConfig(n_per_genre=3, trials=1))
    up = similarity_heatmap(analysis, metric="intersection").data[0]
    down = similarity_heatmap(analysis, metric="hellinger").data[0]
    assert up.colorscale != down.colorscale           # reversed, so red means similar in both


def test_paper_table1_is_in_the_papers_genre_order():
    table = paper_table1()
    assert tuple(table.index) == PAPER_GENRES and table["metal"] == 1 and table["ambient"] == 9


def test_color_command_writes_a_report(folder_dataset, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["color", str(folder_dataset), "--out", str(out), "--n-per-genre", "3",
                 "--trials", "2", "--no-png"]) == 0
    printed = capsys.readouterr().out
    assert "paper Table 1" in printed and f"written to {out}" in printed
    assert (out / "table1_intersection.csv").is_file() and (out / "mean_covers.png").is_file()


def test_color_command_rejects_a_bad_setting(folder_dataset, capsys):
    assert main(["color", str(folder_dataset), "--n-per-genre", "0"]) == 2
    assert "n_per_genre must be" in capsys.readouterr().err


def test_png_export_is_skipped_with_a_message_when_no_browser(small_genres, tmp_path, monkeypatch):
    from cover_model.color import export
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    monkeypatch.setattr(export, "_find_chromium", lambda: None)
    analysis = run_color_analysis(small_genres, ColorConfig(n_per_genre=3, trials=1))
    report = write_color_report(analysis, tmp_path / "out", png=True)
    assert any("PNG figures skipped" in m for m in report.messages)
    assert (tmp_path / "out" / "mean_covers.png").is_file()          # drawn with Pillow, always
    assert not (tmp_path / "out" / "heatmap_intersection.png").exists()


@pytest.mark.parametrize("feature", ["color", "gradient"])
def test_profile_figures_for_the_predict_page(folder_dataset, feature):
    from cover_model.color.figures import histogram_figure, profile_similarity_figure
    cfg = ColorConfig(feature=feature)
    reference = build_reference(load_dataset(folder_dataset), cfg)
    profile = profile_cover(random_covers(1, size=64)[0], reference, k=2, metric="hellinger")
    assert len(profile.neighbours) == 2 and profile.neighbour_metric == "hellinger"
    assert profile.neighbours["score"].is_monotonic_increasing          # lower is more similar
    assert len(histogram_figure(profile.histogram, cfg).data[0].y) > 0
    bars = profile_similarity_figure(profile, metric="chi_square").data[0]
    assert list(bars.x) == list(reference.class_names)
