"""The bad-input corpus (tests/bad_inputs.py) through every entry point that takes it.

The Python API, the CLI as real processes (``predict``, ``dataset``, ``train``) and
the dashboard's uploaders (AppTest). Each case gets one clear, specific message;
there is no traceback and no hang, nothing is written outside its folder, and a
bomb is refused before any pixel or byte of it is unpacked.
"""
import io
import re
import shutil
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import simplejpeg
from PIL import Image
from streamlit.testing.v1 import AppTest

from cover_model import config
from cover_model.data.dataset import DatasetError, load_dataset
from cover_model.data.images import ImageDecodeError, decode_image
from cover_model.data.preprocess import preprocess_dataset
from cover_model.markdown_text import unescape
from cover_model.networks import runs, training
from cover_model.networks.config import TrainConfig
from cover_model.networks.predict import Predictor
from cover_model.paths import PROJECT_ROOT, checkpoints_dir, data_dir
from cover_model.runtime import tuned_env
from ui import ON_SERVER, UPLOADED

from .bad_inputs import DECODE_BUDGET_BYTES, EXPLOIT_MARKER, image_cases, write_run_data, write_run_folder
from .helpers import jpeg_bytes

pytestmark = pytest.mark.slow           # scheduled first (tests/conftest.py)

APP = str(PROJECT_ROOT / "app.py")
BUDGET_ENV = {"COVER_LAB_MAX_DECODE_BYTES": str(DECODE_BUDGET_BYTES)}


@pytest.fixture(autouse=True)
def public_decoding_budget(monkeypatch):
    """Every entry point here decodes under the corpus's budget (public mode's)."""
    for name, value in BUDGET_ENV.items():
        monkeypatch.setenv(name, value)


def files_under(*roots: Path) -> dict[Path, tuple[int, int]]:
    """Every file under ``roots`` with its size and mtime: to see what a command wrote."""
    return {p: (p.stat().st_size, p.stat().st_mtime_ns)
            for root in roots for p in Path(root).rglob("*") if p.is_file()}


def assert_refused(exc: Exception, name: str, fragment: str) -> None:
    text = str(exc)
    assert fragment in text, text
    assert text.startswith(name), f"{text!r} does not name {name}"
    assert "\n" not in text, f"more than one line: {text!r}"


# --- the Python API ----------------------------------------------------------

def test_every_image_is_decoded_or_refused_with_its_cause(bad_inputs):
    cases = image_cases(bad_inputs)
    # an empty or one-sided corpus would pass the loop below without checking anything
    assert len(image_cases(bad_inputs, accepted=True)) >= 5, "too few accepted images"
    assert len(image_cases(bad_inputs, accepted=False)) >= 10, "too few refused images"
    for case in cases:
        for source, name in ((case.path, str(case.path)), (case.path.read_bytes(), "image")):
            for draft_px in (None, 32):                    # full scale, and the Predictor's way
                if case.accepted:
                    rgb = decode_image(source, draft_px=draft_px)
                    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3, case.name
                    if draft_px is None:
                        assert rgb.shape == case.decoded_shape, case.name
                else:
                    with pytest.raises(ImageDecodeError) as refused:
                        decode_image(source, draft_px=draft_px)
                    assert_refused(refused.value, name, case.message)


def test_accepted_oddities_decode_to_what_a_viewer_shows(bad_inputs):
    portrait = decode_image(bad_inputs["exif_rotated"].path)
    assert portrait.shape[:2] == (96, 48)                             # EXIF rotation applied
    assert decode_image(bad_inputs["exif_rotated"].path, draft_px=16).shape[0] > \
        decode_image(bad_inputs["exif_rotated"].path, draft_px=16).shape[1]
    assert (decode_image(bad_inputs["animated_gif"].path) == 30).all()     # the first frame
    ramp = decode_image(bad_inputs["png_16bit"].path)
    assert ramp.min() == 0 and ramp.max() == 255                     # rescaled, not clipped
    palette = decode_image(bad_inputs["palette_transparent"].path)
    assert (palette == 255).all(axis=2).any()                        # transparent -> white
    cmyk = decode_image(bad_inputs["cmyk_jpeg"].path)
    assert 40 < cmyk.mean() < 215                                    # not inverted to black


def test_a_decompression_bomb_is_refused_before_any_pixel_is_decoded(bad_inputs, monkeypatch):
    def no_decoding(*args, **kwargs):
        raise AssertionError("a bomb reached the decoder")
    monkeypatch.setattr(Image.Image, "load", no_decoding)
    monkeypatch.setattr(simplejpeg, "decode_jpeg", no_decoding)
    bomb = bad_inputs["decompression_bomb"]
    assert bomb.path.stat().st_size < 1024
    with pytest.raises(ImageDecodeError, match="possible decompression bomb"):
        decode_image(bomb.path)
    with pytest.raises(ImageDecodeError, match="40000x40000 pixels is over the limit"):
        decode_image(bomb.path.read_bytes(), draft_px=32)


def test_bad_covers_inside_a_dataset_are_skipped_and_reported(bad_inputs, tmp_path):
    root = write_run_data(tmp_path / "covers", n_per_genre=4)
    for case in image_cases(bad_inputs):
        shutil.copy(case.path, root / "metal" / case.path.name)
    dataset = load_dataset(root)
    arrays = preprocess_dataset(dataset, size_px=16, use_cache=False)
    reasons = {Path(s.path).name: s.reason for s in (*dataset.skipped, *arrays.skipped)}
    for case in image_cases(bad_inputs):
        if case.accepted:
            assert case.path.name not in reasons, reasons[case.path.name]
        else:
            assert case.message in reasons[case.path.name], (case.name, reasons)
    n_good = 12 + len(image_cases(bad_inputs, accepted=True))
    assert len(arrays) == n_good and arrays.images.shape[1:] == (16, 16, 3)


UNSAFE_ZIPS = ("zip_traversal", "zip_bomb", "zip_file_and_folder", "zip_long_name", "zip_only_nested",
               "zip_encrypted")


def test_unsafe_zips_are_refused_before_anything_is_written(bad_inputs, tmp_path):
    extract_to = tmp_path / "imports"
    for name in UNSAFE_ZIPS:
        case = bad_inputs[name]
        with pytest.raises(DatasetError) as refused:
            load_dataset(case.path, extract_to=extract_to)
        assert_refused(refused.value, case.path.name, case.message)
        assert not extract_to.exists() or not any(extract_to.iterdir()), name
    assert not list(tmp_path.rglob("escaped.txt"))
    assert not list(bad_inputs["zip_traversal"].path.parents[1].rglob("escaped.txt"))


def test_nested_zips_and_a_manifest_pointing_outside_load_what_is_safe(bad_inputs, tmp_path):
    nested = load_dataset(bad_inputs["zip_nested"].path, extract_to=tmp_path / "imports")
    assert len(nested) == 6
    assert [(s.path, s.reason) for s in nested.skipped] == [
        ("covers/more-covers.zip", "nested archive, not extracted")]
    assert not list((tmp_path / "imports").rglob("deep.jpg"))          # never opened

    manifest = load_dataset(bad_inputs["manifest_outside_and_missing"].path)
    assert len(manifest) == 6
    reasons = {Path(s.path).name: s.reason for s in manifest.skipped}
    assert reasons.keys() == {"outside.jpg", "hostname", "missing.jpg"}
    assert reasons["outside.jpg"].startswith("outside the dataset folder")
    assert reasons["hostname"].startswith("outside the dataset folder")
    assert reasons["missing.jpg"] == "no such file"


def test_a_manifest_listing_a_cover_under_two_genres_is_refused(bad_inputs):
    case = bad_inputs["manifest_two_genres"]
    with pytest.raises(DatasetError) as refused:
        load_dataset(case.path)
    assert_refused(refused.value, str(case.path), case.message)


def test_foreign_run_folders_are_refused_and_no_pickled_code_runs(bad_inputs, tmp_path):
    pickled, other = bad_inputs["malicious_pickle"], bad_inputs["wrong_class_count"]
    marker = pickled.path.parent / EXPLOIT_MARKER
    with pytest.raises(runs.RunError) as refused:
        Predictor.from_run(pickled.path)
    assert_refused(refused.value, str(pickled.path), "it is a pickle")
    with pytest.raises(runs.RunError) as refused:
        Predictor.from_run(other.path)
    assert_refused(refused.value, str(other.path), "weights do not fit custom with 3 classes "
                   "(size mismatch for head.weight: copying a param with shape [5, 84]")

    for case, message in ((pickled, "refused, not a tensors-only checkpoint"),
                          (other, "weights do not fit this network")):
        run_dir = shutil.copytree(case.path, tmp_path / case.path.name)
        cfg = config.from_dict(TrainConfig, {
            k: v for k, v in runs.Run(run_dir).config().items()
            if k in TrainConfig.__dataclass_fields__})
        with pytest.raises(runs.RunError, match=message) as refused:
            training.main(cfg, run_dir=run_dir, resume=True)
        assert "\n" not in str(refused.value)
        assert runs.Run(run_dir).status()["state"] == "failed"
    assert not marker.exists(), "unpickling ran the exploit"


def test_out_of_range_settings_are_all_named_at_once(bad_inputs):
    import json
    settings = json.loads(bad_inputs["config_out_of_range"].path.read_text())["config"]
    with pytest.raises(ValueError) as refused:
        config.from_dict(TrainConfig, settings)
    message = str(refused.value)
    for part in ("lr must be in (0, 10], got -0.1", "batch_size must be 1-4096, got 0",
                 "size_px must be 0 (auto) or 16-512, got 1"):
        assert part in message


# --- the command line, as real processes -------------------------------------

@pytest.fixture(scope="module")
def cli(bad_inputs, tmp_path_factory):
    """Run every CLI case at once (4 processes at a time); {name: (rc, stdout, stderr)}.

    Each runs in an empty working folder with its own data and checkpoints
    folders, and the test checks nothing else on disk changed.
    """
    root = tmp_path_factory.mktemp("cli")
    run_data = write_run_data(root / "run-covers")
    good_run = write_run_folder(root / "good-run", data=run_data)
    images_data = write_run_data(root / "images-covers", n_per_genre=4)
    for case in image_cases(bad_inputs):
        shutil.copy(case.path, images_data / "metal" / case.path.name)
    copies = {name: shutil.copytree(bad_inputs[name].path, root / "copies" / name)
              for name in ("malicious_pickle", "wrong_class_count")}
    all_images = [str(c.path) for c in image_cases(bad_inputs)]
    cover = root / "cover.jpg"
    cover.write_bytes(jpeg_bytes((200, 30, 30), size=(64, 64)))
    commands = {
        "predict_all": ["predict", str(good_run), *all_images],
        "predict_pickle": ["predict", str(bad_inputs["malicious_pickle"].path), str(cover)],
        "predict_wrong_classes": ["predict", str(bad_inputs["wrong_class_count"].path), str(cover)],
        "dataset_traversal": ["dataset", str(bad_inputs["zip_traversal"].path)],
        "dataset_zip_bomb": ["dataset", str(bad_inputs["zip_bomb"].path)],
        "dataset_nested": ["dataset", str(bad_inputs["zip_nested"].path)],
        **{f"dataset_{name}": ["dataset", str(bad_inputs[name].path)] for name in UNSAFE_ZIPS[2:]},
        "dataset_manifest": ["dataset", str(bad_inputs["manifest_outside_and_missing"].path)],
        "dataset_two_genres": ["dataset", str(bad_inputs["manifest_two_genres"].path)],
        "dataset_images": ["dataset", str(images_data)],
        "train_out_of_range": ["train", "--data", str(run_data), "--lr", "-0.1", "--batch-size", "0",
                               "--size-px", "1"],
        "train_resume_pickle": ["train", "--resume", str(copies["malicious_pickle"])],
        "train_resume_wrong_classes": ["train", "--resume", str(copies["wrong_class_count"])],
    }
    corpus_root = bad_inputs["empty"].path.parents[1]
    before = files_under(root, corpus_root)

    def run(name):
        work = root / "work" / name
        work.mkdir(parents=True)
        env = tuned_env() | BUDGET_ENV | {"PYTHONPATH": str(PROJECT_ROOT),
                             "COVER_LAB_DATA": str(root / "data" / name),
                             "COVER_LAB_CHECKPOINTS": str(root / "checkpoints" / name)}
        done = subprocess.run([sys.executable, "-m", "cover_model", *commands[name]], cwd=work,
                              env=env, capture_output=True, text=True, timeout=180)
        return name, (done.returncode, done.stdout, done.stderr)

    with ThreadPoolExecutor(4) as pool:
        results = dict(pool.map(run, commands))
    after = files_under(root, corpus_root)
    allowed = (root / "data", root / "checkpoints", *copies.values())    # resume writes its status
    outside = [p for p in after if before.get(p) != after[p]
               and not any(p.is_relative_to(folder) for folder in allowed)]
    return {"results": results, "written_outside": outside, "root": root, "corpus": corpus_root}


def cli_result(cli, name):
    rc, out, err = cli["results"][name]
    assert "Traceback" not in out + err, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    return rc, out, err, errors


def test_cli_writes_nothing_outside_its_data_and_run_folders(cli):
    assert cli["written_outside"] == []
    assert not list(cli["root"].rglob("escaped.txt")) and not list(cli["corpus"].rglob("escaped.txt"))
    assert not (cli["corpus"] / "runs" / EXPLOIT_MARKER).exists()


def test_cli_predict_answers_each_cover_or_says_why_not(cli, bad_inputs):
    rc, out, err, errors = cli_result(cli, "predict_all")
    assert rc == 0                                          # some covers could be read
    for case in image_cases(bad_inputs):
        if case.accepted:
            assert any(line.startswith(f"{case.path}: ") and "%" in line for line in out.splitlines())
        else:
            mine = [e for e in errors if e.startswith(f"error: {case.path}: ")]
            assert len(mine) == 1 and case.message in mine[0], (case.name, errors)
    assert len(errors) == len(image_cases(bad_inputs, accepted=False)) == len(err.splitlines())


@pytest.mark.parametrize("name, message", [
    ("predict_pickle", "it is a pickle (a torch .pt file), which can run code"),
    ("predict_wrong_classes", "weights do not fit custom with 3 classes (size mismatch"),
    ("dataset_traversal", "traversal.zip: unsafe path 'covers/../../escaped.txt' points outside"),
    ("dataset_zip_bomb", "zip_bomb.zip: covers/metal/huge.jpg compresses"),
    ("dataset_zip_file_and_folder", "error: file_and_folder.zip: 'covers/metal/x.jpg' is both a file "
                                    "and a folder ('covers/metal/x.jpg/y.jpg' is inside it)"),
    ("dataset_zip_long_name", "error: long_name.zip: 'covers/metal/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                              "'... has a name of 300 bytes, over the limit of 255"),
    ("dataset_zip_only_nested", "error: only_nested.zip: holds no covers; skipped nested archive inner.zip "
                                "(nested archives are not opened)"),
    ("dataset_zip_encrypted", "error: encrypted.zip: 'covers/metal/0.jpg' is encrypted; upload a zip "
                              "without a password"),
    ("dataset_two_genres", "manifest.csv: 1 file is listed on more than one row with different genres "
                           "(a cover has one genre and one split; keep one row per file): 'metal/0.jpg' "
                           "on row 2 (metal) and row 8 (jazz)"),
    ("train_out_of_range", "lr must be in (0, 10], got -0.1; size_px must be 0 (auto) or 16-512"),
    ("train_resume_pickle", "last_state.pt: refused, not a tensors-only checkpoint (it calls "
                            "io.open, which a tensors-only file never does); it was not unpickled"),
    ("train_resume_wrong_classes", "weights do not fit this network (size mismatch for head.weight"),
])
def test_cli_refusals_are_one_error_line(cli, name, message):
    rc, out, err, errors = cli_result(cli, name)
    assert rc == 2
    # A resumed run downsizes its covers before it finds the bad checkpoint; its progress
    # lines ("downsizing covers: 24/24 ...") may come first, nothing else may.
    others = [line for line in err.strip().splitlines() if not re.match(r"[a-z ]+: \d+/\d+ ", line)]
    assert errors == others and len(errors) == 1, err
    assert message in errors[0]


# Their headers are fine: only decoding (preprocess, predict) finds them out.
_CAUGHT_ON_DECODING = ("truncated_jpeg", "truncated_jpeg_with_end", "jpeg_header_lies", "png_bad_crc",
                       "memory_bomb")


def test_cli_dataset_import_reports_what_it_skipped(cli, bad_inputs):
    rc, out, err, _ = cli_result(cli, "dataset_nested")
    assert rc == 0 and "6 covers, 2 genres" in out
    assert "covers/more-covers.zip: nested archive, not extracted" in out

    rc, out, err, _ = cli_result(cli, "dataset_manifest")
    assert rc == 0 and "6 covers, 2 genres" in out and "3 file(s) skipped" in out
    assert "/etc/hostname: outside the dataset folder" in out and "missing.jpg: no such file" in out

    rc, out, err, _ = cli_result(cli, "dataset_images")
    assert rc == 0
    for case in image_cases(bad_inputs, accepted=False):
        if case.name not in _CAUGHT_ON_DECODING:
            assert any(case.path.name in line and case.message in line for line in out.splitlines()), \
                case.name


# --- the dashboard's uploaders (AppTest) ---------------------------------------

@pytest.fixture
def app(monkeypatch, tmp_path):
    """The app on a small folder dataset with one finished run: no first-launch work."""
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])   # see test_app.py
    data = write_run_data(tmp_path / "covers", n_per_genre=6)
    write_run_folder(checkpoints_dir() / "20990101-000000-custom-scratch-good", data=data)
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["dataset_kind"] = ON_SERVER
    at.session_state["dataset_path"] = str(data)
    return at


def test_predict_uploader_answers_good_covers_and_names_each_bad_one(app, bad_inputs):
    app.switch_page("app_pages/predict.py").run()
    assert not app.exception
    cases = image_cases(bad_inputs)
    app.file_uploader(key="predict_uploads").set_value(
        [(c.path.name, c.path.read_bytes(), "application/octet-stream") for c in cases]).run()
    assert not app.exception
    errors = [unescape(e.value) for e in app.error]          # as a reader sees them
    for case in image_cases(bad_inputs, accepted=False):
        mine = [e for e in errors if e.startswith(f"{case.path.name}: ")]
        assert len(mine) == 1 and case.message in mine[0], (case.name, errors)
    assert len(errors) == len(image_cases(bad_inputs, accepted=False))
    answers = [md.value for md in app.markdown if md.value.startswith("**Most likely:")]
    assert len(answers) == len(image_cases(bad_inputs, accepted=True))


def test_predict_page_with_a_tampered_model_says_so(app, bad_inputs):
    tampered = checkpoints_dir() / "20991231-000000-custom-scratch-tampered"
    shutil.copytree(bad_inputs["malicious_pickle"].path, tampered)
    app.switch_page("app_pages/predict.py").run()
    assert not app.exception                             # the shipped model comes first
    app.selectbox(key="predict_run").set_value(str(tampered)).run()
    assert not app.exception
    assert "Cannot load this model" in app.error[0].value and "it is a pickle" in app.error[0].value
    assert not (bad_inputs["malicious_pickle"].path.parent / EXPLOIT_MARKER).exists()


def zip_of(folder: Path, *, arcroot: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(arcroot))
    return buf.getvalue()


def test_sidebar_zip_uploader_refuses_unsafe_zips_with_their_name(app, bad_inputs, tmp_path):
    uploads = [  # (file name, bytes, what the page says)
        ("traversal.zip", bad_inputs["zip_traversal"].path.read_bytes(),
         "Cannot load this dataset: traversal.zip: unsafe path 'covers/../../escaped.txt'"),
        ("zip_bomb.zip", bad_inputs["zip_bomb"].path.read_bytes(),
         "Cannot load this dataset: zip_bomb.zip: covers/metal/huge.jpg compresses"),
        ("notes.zip", b"PK? no, just text", "Cannot load this dataset: notes.zip: not a valid zip"),
        *((bad_inputs[name].path.name, bad_inputs[name].path.read_bytes(), bad_inputs[name].message)
          for name in UNSAFE_ZIPS[2:]),
    ]
    app.session_state["dataset_kind"] = UPLOADED
    app.switch_page("app_pages/dataset.py").run()
    for name, data, message in uploads:
        app.sidebar.file_uploader(key="dataset_zip").set_value((name, data, "application/zip")).run()
        assert not app.exception, name
        shown = unescape(app.error[0].value) if app.error else ""       # as a reader sees it
        assert message in shown, (name, app.error)
        assert shown.startswith(f"Cannot load this dataset: {name}: ")
    assert not list(tmp_path.rglob("escaped.txt")) and not list(data_dir().parent.rglob("escaped.txt"))
    assert not list(data_dir().rglob("huge.jpg"))                        # the bomb never unpacked

    # a manifest zip listing a cover under two genres, as uploaded: covers/manifest.csv + images
    two_genres = bad_inputs["manifest_two_genres"].path.parent
    uploader = app.sidebar.file_uploader(key="dataset_zip")
    uploader.set_value(("two.zip", zip_of(two_genres, arcroot=two_genres.parent), "application/zip")).run()
    assert not app.exception
    assert [unescape(e.value) for e in app.error] == [
        "Cannot load this dataset: two.zip/manifest.csv: " + bad_inputs["manifest_two_genres"].message]

    # a manifest zip whose rows point outside it, as uploaded: covers/manifest.csv + images
    manifest_dir = bad_inputs["manifest_outside_and_missing"].path.parent
    for data, n_covers, n_skipped in (
            (bad_inputs["zip_nested"].path.read_bytes(), "6", "1"),
            (zip_of(manifest_dir, arcroot=manifest_dir.parent), "6", "3")):
        uploader = app.sidebar.file_uploader(key="dataset_zip")
        uploader.set_value(("mine.zip", data, "application/zip")).run()
        assert not app.exception and not app.error
        shown = {m.label: m.value for m in app.metric}
        assert [shown["Covers"], shown["Genres"], shown["Skipped files"]] == [n_covers, "2", n_skipped]


def test_train_page_names_every_out_of_range_setting(app):
    app.switch_page("app_pages/train.py").run()
    for key, value in (("train_lr", -0.1), ("train_batch_size", 0), ("train_size_px", 1)):
        app.sidebar.number_input(key=key).set_value(value)
    app.run()
    assert not app.exception
    error = app.error[0].value
    assert "lr must be in (0, 10], got -0.1" in error and "batch_size must be 1-4096, got 0" in error
    assert "size_px must be 0 (auto) or 16-512, got 1" in error
    assert app.button(key="train_start").disabled
