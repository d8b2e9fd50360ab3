"""Datasets from a folder, a manifest and a zip; skipped files; fingerprints; zip safety;
the Dataset page."""
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from cover_model.data.dataset import DatasetError, load_dataset
from cover_model.genres import PAPER_GENRES, folder_name
from cover_model.paths import PROJECT_ROOT, data_dir
from cover_model.runtime import tuned_env

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
    from cover_model.data.archive import ArchiveError, extract_zip
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


# --- what a stranger may send (issue #15) ------------------------------------------

def test_manifest_paths_with_a_nul_byte_or_too_long_are_skipped_rows(folder_dataset):
    (folder_dataset / "m.csv").write_text(
        "path,genre\nmetal/000.jpg,metal\nmetal/a\x00b.jpg,metal\n"
        f"metal/{'x' * 300}.jpg,jazz\n{'/'.join(['d' * 250] * 20)}/a.jpg,jazz\n")
    ds = load_dataset(folder_dataset / "m.csv")
    assert len(ds) == 1
    assert [s.reason for s in ds.skipped] == ["path holds a NUL byte", "cannot be read (File name too long)",
                                              "cannot be read (File name too long)"]


def test_a_manifest_over_the_row_limit_is_refused_before_any_image_is_read(folder_dataset, monkeypatch):
    from cover_model.data import images
    rows = "".join(f"metal/{i:03d}.jpg,metal\n" for i in range(12))
    (folder_dataset / "m.csv").write_text("path,genre\n" + rows)
    monkeypatch.setenv("COVER_LAB_MAX_MANIFEST_ROWS", "10")
    monkeypatch.setattr(images.Image, "open", lambda *a, **k: pytest.fail("an image was read"))
    with pytest.raises(DatasetError) as refused:
        load_dataset(folder_dataset / "m.csv")
    assert str(refused.value) == f"{folder_dataset / 'm.csv'}: more than 10 rows, over the limit of 10 per manifest"


def test_public_mode_caps_manifests_at_20_000_rows(tmp_path, monkeypatch):
    (tmp_path / "m.csv").write_text("path,genre\n" + "a.jpg,metal\n" * 20_001)
    monkeypatch.setenv("COVER_LAB_PUBLIC", "1")
    with pytest.raises(DatasetError, match="more than 20,000 rows, over the limit of 20,000 per manifest"):
        load_dataset(tmp_path / "m.csv")


def test_a_folder_with_more_files_than_the_limit_is_refused_while_walking(folder_dataset, monkeypatch):
    monkeypatch.setenv("COVER_LAB_MAX_MANIFEST_ROWS", "20")               # the folder holds 30
    with pytest.raises(DatasetError) as refused:
        load_dataset(folder_dataset)
    assert str(refused.value) == f"{folder_dataset}: more than 20 files, over the limit of 20 per dataset"
    monkeypatch.setenv("COVER_LAB_MAX_MANIFEST_ROWS", "30")
    assert len(load_dataset(folder_dataset)) == 30


def test_a_zip_dataset_with_no_usable_image_names_the_zip_not_the_server(tmp_path):
    with zipfile.ZipFile(tmp_path / "junk.zip", "w") as archive:
        archive.writestr("covers/metal/notes.txt", "not a cover")
    with pytest.raises(DatasetError) as refused:
        load_dataset(tmp_path / "junk.zip", extract_to=tmp_path / "imports")
    assert str(refused.value) == ("junk.zip: no usable images (1 skipped; e.g. metal/notes.txt: not an image "
                                  "(unrecognised file format); use JPEG, PNG, WebP, BMP or GIF)")


@pytest.mark.parametrize("args, message", [
    (["m.csv"], "error: m.csv: more than 5 rows, over the limit of 5 per manifest"),
    (["nul.csv"], "  metal/a\\x00b.jpg: path holds a NUL byte"),        # escaped: one line
])
def test_cli_dataset_says_it_in_one_line(folder_dataset, args, message):
    (folder_dataset / "m.csv").write_text("path,genre\n" + "metal/000.jpg,metal\n" * 6)
    (folder_dataset / "nul.csv").write_text("path,genre\nmetal/000.jpg,metal\nmetal/a\x00b.jpg,metal\n")
    done = subprocess.run([sys.executable, "-m", "cover_model", "dataset", *args], cwd=folder_dataset,
                          env=tuned_env() | {"PYTHONPATH": str(PROJECT_ROOT), "COVER_LAB_MAX_MANIFEST_ROWS": "5"},
                          capture_output=True, text=True, timeout=120)
    assert "Traceback" not in done.stderr
    assert message in (done.stderr + done.stdout).replace(str(folder_dataset) + "/", "")


def _cut_jpeg() -> bytes:
    """A JPEG of noise cut in half: its header is fine, so the dataset keeps it."""
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()[: len(buf.getvalue()) // 2]


def _dataset_page(**state) -> AppTest:
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    for key, value in state.items():
        at.session_state[key] = value
    at.switch_page("app_pages/dataset.py").run()
    assert not at.exception
    return at


def test_dataset_page_shows_a_cover_it_cannot_decode_as_a_placeholder_with_its_reason(tmp_path, app_main):
    from ui import ON_SERVER
    root = make_folder_dataset(tmp_path / "covers", {"metal": 3, "jazz": 3})
    (root / "metal" / "cut.jpg").write_bytes(_cut_jpeg())
    at = _dataset_page(dataset_kind=ON_SERVER, dataset_path=str(root))
    assert at.metric[0].value == "7"                                  # headers only: kept
    captions = [caption for image in at.get("image") for caption in image.captions]
    assert captions.count("truncated or corrupt image data (Premature end of JPEG file)") == 1
    assert captions.count("") == 6


def test_dataset_page_names_no_server_path_in_public_mode(tmp_path, app_main, monkeypatch):
    from ui import UPLOADED
    root = make_folder_dataset(tmp_path / "covers", {"metal": 3, "jazz": 3})
    (root / "metal" / "notes.txt").write_text("not a cover")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for path in sorted(root.rglob("*")):
            archive.write(path, path.relative_to(tmp_path))
    monkeypatch.setenv("COVER_LAB_PUBLIC", "1")
    at = _dataset_page(dataset_kind=UPLOADED)
    at.sidebar.file_uploader(key="dataset_zip").set_value(("mine.zip", buf.getvalue(), "application/zip")).run()
    assert not at.exception and at.metric[0].value == "6"
    caption = at.caption[0].value
    assert caption.startswith("From `imports/mine-") and caption.split("`")[1].endswith("/covers")
    skipped = at.dataframe[-1].value
    assert skipped.to_dict("records") == [{"file": "metal/notes.txt", "reason": "not an image (unrecognised file "
                                           "format); use JPEG, PNG, WebP, BMP or GIF"}]
    texts = [element.value for element in (*at.caption, *at.markdown) if isinstance(element.value, str)]
    assert not any(str(data_dir()) in text or str(tmp_path) in text for text in texts)


# --- a file listed on two rows (issue 25) --------------------------------------

def _manifest(folder, rows) -> Path:
    (folder / "m.csv").write_text("\n".join(["path,genre,split", *rows]) + "\n")
    return folder / "m.csv"


def test_a_file_under_two_genres_is_refused_with_its_rows(folder_dataset):
    rows = [f"metal/{i:03d}.jpg,metal," for i in range(6)] + [
        "metal/000.jpg,jazz,", "./metal/001.jpg,Ambient,", "jazz/000.jpg,jazz,",
        *(f"metal/{i:03d}.jpg,jazz," for i in range(2, 6))]
    with pytest.raises(DatasetError) as refused:
        load_dataset(_manifest(folder_dataset, rows))
    assert str(refused.value) == (
        f"{folder_dataset}/m.csv: 6 files are listed on more than one row with different genres "
        "(a cover has one genre and one split; keep one row per file): 'metal/000.jpg' on row 2 (metal) "
        "and row 8 (jazz); 'metal/001.jpg' on row 3 (metal) and row 9 (ambient); 'metal/002.jpg' "
        "on row 4 (metal) and row 11 (jazz); and 3 more")


def test_a_file_in_two_splits_is_refused_and_an_exact_repeat_is_dropped_with_a_note(folder_dataset):
    with pytest.raises(DatasetError, match=r"1 file is listed on more than one row with different splits "
                                           r".*'metal/000.jpg' on row 2 \(train\) and row 4 \(test\)$"):
        load_dataset(_manifest(folder_dataset, ["metal/000.jpg,metal,train", "jazz/000.jpg,jazz,test",
                                                "metal/000.jpg,metal,test"]))
    ds = load_dataset(_manifest(folder_dataset, ["metal/000.jpg,metal,", "jazz/000.jpg,jazz,",
                                                 "metal/000.jpg,Metal,"]))
    assert len(ds) == 2 and list(ds.items["genre"]) == ["metal", "jazz"]
    assert [(ds.relative(s.path), s.reason) for s in ds.skipped] == [
        ("metal/000.jpg", "listed again on row 4, the same as row 2; kept once")]
