"""The leak check: planted near-duplicates are found, distinct covers are not, the fix holds."""
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cover_model.cli import main
from cover_model.curation import leaks
from cover_model.data.dataset import load_dataset
from cover_model.data.splits import assign_splits

from .helpers import open_page

KINDS = ("rescaled", "recompressed", "trimmed", "recoloured")


def textured(seed: int, size: int = 160) -> np.ndarray:
    """A cover with structure (blurred random blocks): what a hash can tell apart."""
    blocks = np.random.default_rng(seed).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(blocks).resize((size, size), Image.BICUBIC))


def copy_of(rgb: np.ndarray, kind: str) -> tuple[np.ndarray, int]:
    if kind == "rescaled":
        return np.asarray(Image.fromarray(rgb).resize((96, 96), Image.LANCZOS)), 90
    if kind == "recompressed":
        return rgb, 25
    if kind == "trimmed":
        return rgb[4:-4, 4:-4], 90
    return (rgb.astype(float) * [0.8, 1.0, 1.15]).clip(0, 255).astype(np.uint8), 90


@pytest.fixture
def planted(tmp_path):
    """12 distinct covers in two genres; cover 0 copied 4 ways into its genre, cover 6's
    copy filed under the other genre: ``(root, {copy file: original file})``."""
    root, originals = tmp_path / "covers", {}
    for i in range(12):
        genre = "metal" if i < 6 else "jazz"
        (root / genre).mkdir(parents=True, exist_ok=True)
        originals[i] = root / genre / f"{i:02d}.jpg"
        Image.fromarray(textured(i)).save(originals[i], quality=90)
    copies = {}
    for kind in KINDS:
        rgb, quality = copy_of(textured(0), kind)
        Image.fromarray(rgb).save(root / "metal" / f"00-{kind}.jpg", quality=quality)
        copies[f"metal/00-{kind}.jpg"] = "metal/00.jpg"
    Image.fromarray(textured(6)).save(root / "metal" / "06-copy.jpg", quality=70)
    copies["metal/06-copy.jpg"] = "jazz/06.jpg"
    return root, copies


def pairs_by_name(dataset, report) -> set[frozenset]:
    paths = dataset.relative_paths()
    return {frozenset((paths[a], paths[b])) for a, b in zip(report.pairs["a"], report.pairs["b"])}


def test_every_kind_of_planted_copy_is_found_and_distinct_covers_are_not_paired(planted):
    root, copies = planted
    dataset = load_dataset(root)
    report = leaks.check_leaks(dataset, use_cache=False)
    found = pairs_by_name(dataset, report)
    for copy, original in copies.items():
        assert frozenset((copy, original)) in found, copy
    originals = [p for p in dataset.relative_paths() if len(p.split("/")[1]) == 6]   # "00.jpg"
    assert len(originals) == 12
    assert not any(len(pair & set(originals)) == 2 for pair in found)   # no two distinct covers
    assert report.n_groups == 2 and report.summary()["cross_genre_groups"] == 1


def test_pairs_are_the_same_whatever_the_block_size_no_n_by_n_array(planted, monkeypatch):
    dataset = load_dataset(planted[0])
    whole = leaks.check_leaks(dataset, use_cache=False).pairs
    shapes = []
    real_count = np.bitwise_count
    monkeypatch.setattr(leaks.np, "bitwise_count", lambda x: shapes.append(x.shape) or real_count(x))
    monkeypatch.setattr(leaks, "BLOCK_ROWS", 3)
    blocked = leaks.check_leaks(dataset, use_cache=False).pairs
    pd.testing.assert_frame_equal(whole, blocked)
    assert shapes and max(rows for rows, _ in shapes) == 3


def test_plain_covers_are_never_paired(folder_dataset):
    report = leaks.check_leaks(load_dataset(folder_dataset), use_cache=False)
    assert report.pairs.empty and report.n_plain == 30          # flat colours: no structure


def test_groups_across_splits_are_reported_and_the_fix_keeps_each_on_one_side(planted):
    dataset = load_dataset(planted[0])
    items = dataset.items.assign(split=["train", "test"] * (len(dataset) // 2) + ["train"] * (len(dataset) % 2),
                                 group=[f"artist-{i % 5}" for i in range(len(dataset))])
    dataset = type(dataset)(items, dataset.class_names, dataset.root)
    report = leaks.check_leaks(dataset)
    assert report.summary()["cross_split_groups"] >= 1
    assert report.groups(dataset)["cross_split"].any()
    fixed = leaks.fixed_dataset(dataset, report)
    assert (fixed.items["split"] == "").all()
    for seed in range(5):
        split = assign_splits(fixed, scheme="group", seed=seed).items
        for group in report.group_of[report.group_of >= 0]:
            assert split["split"][report.group_of == group].nunique() == 1
        for artist in dataset.items["group"].unique():       # the artists stay whole too
            assert split["split"][dataset.items["group"] == artist].nunique() == 1


def test_the_fix_can_drop_cross_genre_copies(planted):
    dataset = load_dataset(planted[0])
    report = leaks.check_leaks(dataset)
    kept = leaks.fixed_dataset(dataset, report, drop_cross_genre=True).relative_paths()
    assert "jazz/06.jpg" not in kept and "metal/06-copy.jpg" not in kept
    assert "metal/00.jpg" in kept and len(kept) == len(dataset) - 2


def test_the_cli_prints_the_report_and_writes_the_fix_beside_never_over(planted, tmp_path, capsys):
    root = planted[0]
    out = tmp_path / "fixed.csv"
    assert main(["leaks", str(root), "--write-manifest", str(out), "--drop-cross-genre"]) == 0
    printed = capsys.readouterr().out
    assert "11 near-duplicate pair(s) in 2 group(s) of 7 covers" in printed and "CROSS-GENRE" in printed
    fixed = load_dataset(out)
    assert len(fixed) == 17 - 2 and fixed.has_groups
    assert set(fixed.items["path"]) < set(load_dataset(root).items["path"])   # the same files


def test_the_cli_refuses_to_overwrite_the_datasets_own_manifest(planted, tmp_path, capsys):
    root = planted[0]
    main(["dataset", str(root), "--write-manifest", str(root / "manifest.csv")])
    before = (root / "manifest.csv").read_text()
    assert main(["leaks", str(root), "--write-manifest", str(root / "manifest.csv")]) == 2
    assert "not over the dataset's own manifest" in capsys.readouterr().err
    assert (root / "manifest.csv").read_text() == before


def test_the_dataset_page_shows_the_leak_check(planted, embedded_data):
    from ui import ON_SERVER
    at = open_page("app_pages/dataset.py")
    at.sidebar.radio(key="dataset_kind").set_value(ON_SERVER).run()
    at.sidebar.text_input(key="dataset_path").input(str(planted[0])).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Near-duplicate pairs"] == "11" and metrics["Across genres"] == "1"
    captions = [c for image in at.get("image") for c in image.captions]
    assert any("pHash" in c for c in captions)
    assert at.get("download_button")
