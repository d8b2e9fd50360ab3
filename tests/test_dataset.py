"""Datasets from a folder, a manifest and a zip; skipped files; fingerprints; zip safety."""
import os
import zipfile
from pathlib import Path

import pytest

from cover_model.dataset import DatasetError, load_dataset
from cover_model.genres import PAPER_GENRES, folder_name

from .helpers import jpeg_bytes, make_folder_dataset


def test_folder_dataset_loads_with_class_names_from_the_data(folder_dataset):
    ds = load_dataset(folder_dataset)
    assert len(ds) == 30
    assert ds.class_names == ("ambient", "jazz", "metal")        # paper order
    assert ds.items.groupby("genre")["label"].first().to_dict() == {"ambient": 0, "jazz": 1, "metal": 2}
    assert not ds.skipped


def test_all_paper_genres_keep_the_paper_ids(tmp_path):
    root = make_folder_dataset(tmp_path, {folder_name(g): 1 for g in reversed(PAPER_GENRES)})
    ds = load_dataset(root)
    assert ds.class_names == PAPER_GENRES
    hiphop = ds.items[ds.items["genre"] == "hiphop/rap"]
    assert hiphop["label"].tolist() == [3]


def test_non_paper_genres_are_sorted(tmp_path):
    ds = load_dataset(make_folder_dataset(tmp_path, {"reggae": 2, "Country": 2}))
    assert ds.class_names == ("country", "reggae")


def test_unreadable_files_are_skipped_and_reported(folder_dataset):
    (folder_dataset / "metal" / "notes.txt").write_text("not a cover")
    (folder_dataset / "metal" / "empty.jpg").write_bytes(b"")
    (folder_dataset / "jazz" / "tiny.jpg").write_bytes(jpeg_bytes((1, 2, 3), size=(4, 4)))
    (folder_dataset / "jazz" / ".DS_Store").write_bytes(b"\x00junk")
    ds = load_dataset(folder_dataset)
    assert len(ds) == 30
    reasons = {Path(s.path).name: s.reason for s in ds.skipped}
    assert reasons == {"notes.txt": "not an image (unrecognised file format); "
                                    "use JPEG, PNG, WebP, BMP or GIF",
                       "empty.jpg": "empty file",
                       "tiny.jpg": "4x4 is too small (sides must be at least 16 px)"}


def test_manifest_with_groups_splits_and_extra_columns(folder_dataset):
    lines = ["path,genre,group,split,source"]
    for i, path in enumerate(sorted(folder_dataset.rglob("*.jpg"))):
        split = ("train", "val", "test")[i % 3]
        lines.append(f"{path.relative_to(folder_dataset)},{path.parent.name},artist{i // 2},{split},disk")
    (folder_dataset / "manifest.csv").write_text("\n".join(lines))
    ds = load_dataset(folder_dataset / "manifest.csv")
    assert len(ds) == 30 and ds.has_groups
    assert set(ds.items["split"]) == {"train", "val", "test"}
    assert (ds.items["source"] == "disk").all()
    assert load_dataset(folder_dataset).fingerprint == ds.fingerprint   # folder with manifest.csv


def test_manifest_rows_outside_the_folder_or_missing_are_skipped(tmp_path, folder_dataset):
    outside = tmp_path / "elsewhere.jpg"
    outside.write_bytes(jpeg_bytes((0, 0, 0)))
    (folder_dataset / "m.csv").write_text(
        "path,genre\nmetal/000.jpg,metal\n../elsewhere.jpg,metal\nmetal/missing.jpg,metal\n"
        f"{outside},jazz\nmetal/001.jpg,\n")
    ds = load_dataset(folder_dataset / "m.csv")
    assert len(ds) == 1
    reasons = sorted(s.reason.split(" ")[0] for s in ds.skipped)
    assert reasons == ["no", "no", "outside", "outside"]


@pytest.mark.parametrize("text, match", [
    ("file,label\na.jpg,metal\n", "missing column"),
    ("path,genre\n", "no usable images"),
    ("path,genre,split\nmetal/000.jpg,metal,holdout\n", "unknown split"),
])
def test_bad_manifests_say_what_is_wrong(folder_dataset, text, match):
    (folder_dataset / "bad.csv").write_text(text)
    with pytest.raises(DatasetError, match=match):
        load_dataset(folder_dataset / "bad.csv")


@pytest.mark.parametrize("make, match", [
    (lambda p: p / "nope", "no such file or folder"),
    (lambda p: (p / "x.txt").write_text("hi") and p / "x.txt", "expected a folder"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "no genre folders"),
    (lambda p: (p / "broken.zip").write_bytes(b"PK\x03\x04garbage") and p / "broken.zip",
     "not a valid zip"),
])
def test_wrong_sources_get_clear_errors(tmp_path, make, match):
    with pytest.raises(DatasetError, match=match):
        load_dataset(make(tmp_path))


def zip_folder(folder: Path, zip_path: Path, prefix="") -> Path:
    with zipfile.ZipFile(zip_path, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, prefix + str(path.relative_to(folder)))
    return zip_path


def test_zip_of_a_folder_dataset_with_a_wrapper_folder(tmp_path, folder_dataset):
    archive = zip_folder(folder_dataset, tmp_path / "covers.zip", prefix="covers/")
    ds = load_dataset(archive)
    assert len(ds) == 30 and ds.class_names == ("ambient", "jazz", "metal")
    assert ds.fingerprint == load_dataset(folder_dataset).fingerprint
    assert load_dataset(archive).root == ds.root                # second import reuses the first


def test_zip_holding_a_manifest(tmp_path, folder_dataset):
    (folder_dataset / "manifest.csv").write_text("path,genre\nmetal/000.jpg,metal\njazz/000.jpg,jazz\n")
    ds = load_dataset(zip_folder(folder_dataset, tmp_path / "m.zip"))
    assert len(ds) == 2


def test_zip_with_one_genre_folder_is_a_one_genre_dataset(tmp_path):
    folder = make_folder_dataset(tmp_path / "one", {"rock": 3})
    assert load_dataset(zip_folder(folder, tmp_path / "one.zip")).class_names == ("rock",)


def test_nested_zips_are_reported_not_opened(tmp_path, folder_dataset):
    inner = zip_folder(folder_dataset, tmp_path / "inner.zip")
    os.replace(inner, folder_dataset / "metal" / "inner.zip")
    ds = load_dataset(zip_folder(folder_dataset, tmp_path / "outer.zip"))
    assert len(ds) == 30
    assert [(Path(s.path).name, s.reason) for s in ds.skipped] == [
        ("inner.zip", "nested archive, not extracted")]


@pytest.mark.parametrize("member", ["../escape.jpg", "/etc/evil.jpg", "a/../../escape.jpg"])
def test_zip_path_traversal_is_refused_and_nothing_is_written(tmp_path, member):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("metal/ok.jpg", jpeg_bytes((9, 9, 9)))
        z.writestr(member, jpeg_bytes((9, 9, 9)))
    with pytest.raises(DatasetError, match="unsafe"):
        load_dataset(archive, extract_to=tmp_path / "imports")
    assert not (tmp_path / "escape.jpg").exists()
    assert not (tmp_path / "imports").exists()


def test_zip_symlinks_are_refused(tmp_path):
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as z:
        info = zipfile.ZipInfo("metal/link.jpg")
        info.external_attr = (0o120777 << 16)
        z.writestr(info, "/etc/passwd")
    with pytest.raises(DatasetError, match="symbolic link"):
        load_dataset(archive)


def test_zip_bomb_is_refused_before_extraction(tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("metal/bomb.jpg", b"\x00" * (50 * 1024 * 1024))     # 50 MB of zeros, ~50 KB packed
    assert archive.stat().st_size < 1_000_000
    with pytest.raises(DatasetError, match="zip bomb"):
        load_dataset(archive, extract_to=tmp_path / "imports")
    assert not (tmp_path / "imports").exists()


def test_zip_file_count_and_total_size_limits(tmp_path):
    from cover_model.archive import ArchiveError, extract_zip
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for i in range(5):
            z.writestr(f"metal/{i}.jpg", jpeg_bytes((i, i, i)))
    with pytest.raises(ArchiveError, match="over the limit of 4"):
        extract_zip(archive, extract_to=tmp_path / "a", max_files=4)
    with pytest.raises(ArchiveError, match="zip bomb"):
        extract_zip(archive, extract_to=tmp_path / "b", max_total_bytes=1000)


def test_fingerprint_is_stable_and_sensitive(tmp_path, folder_dataset):
    first = load_dataset(folder_dataset).fingerprint
    assert load_dataset(folder_dataset).fingerprint == first
    (folder_dataset / "metal" / "000.jpg").write_bytes(jpeg_bytes((1, 1, 1), size=(64, 64)))
    assert load_dataset(folder_dataset).fingerprint != first
    os.replace(folder_dataset / "metal" / "001.jpg", folder_dataset / "jazz" / "001b.jpg")
    assert load_dataset(folder_dataset).fingerprint != first


def test_counts_table(folder_dataset):
    counts = load_dataset(folder_dataset).counts()
    assert counts.loc["metal", "total"] == 12 and counts.loc["total", "total"] == 30


def test_real_covers_manifest(real_covers):
    ds = load_dataset(real_covers)
    assert len(ds) > 4500 and not ds.skipped
    assert set(ds.items["split"]) == {"train", "val", "test"} and ds.has_groups
    assert "source" in ds.items.columns
