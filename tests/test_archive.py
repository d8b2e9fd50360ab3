"""Zip members no folder can hold (issue #15): refused with the member and the cause,
before anything is written; an unpacked dataset is readable by the server's other users.

The same zips go through the CLI and the dashboard's uploader in tests/test_bad_inputs.py.
"""
import os
import shutil
import subprocess
import zipfile

import pytest

from cover_model.atomic_files import FILE_MODE, FOLDER_MODE
from cover_model.data.archive import ArchiveError, extract_zip
from cover_model.data.dataset import DatasetError, load_dataset

from .helpers import jpeg_bytes

COVER = jpeg_bytes((9, 9, 9))


def make_zip(path, names) -> "os.PathLike":
    with zipfile.ZipFile(path, "w") as archive:
        for name in names:
            archive.writestr(name, COVER)
    return path


def refused(path, tmp_path) -> str:
    """The message ``load_dataset`` refuses the zip with; nothing may have been unpacked."""
    extract_to = tmp_path / "imports"
    with pytest.raises(DatasetError) as refusal:
        load_dataset(path, extract_to=extract_to)
    assert not extract_to.exists() or not any(extract_to.iterdir())
    return str(refusal.value)


@pytest.mark.parametrize("names", [["rock/x.jpg", "rock/x.jpg/y.jpg"], ["rock/x.jpg/y.jpg", "rock/x.jpg"],
                                   ["rock\\x.jpg", "rock/x.jpg/y.jpg"]])
def test_a_member_that_is_both_a_file_and_a_folder_is_refused(names, tmp_path):
    message = refused(make_zip(tmp_path / "both.zip", ["jazz/a.jpg", *names]), tmp_path)
    file_member = next(name for name in names if not name.endswith("y.jpg"))
    assert message == (f"both.zip: {file_member!r} is both a file and a folder "
                       "('rock/x.jpg/y.jpg' is inside it)")


@pytest.mark.parametrize("member, cause", [
    ("rock/" + "a" * 296 + ".jpg", "has a name of 300 bytes, over the limit of 255 for a file or folder "
                                   "(name too long)"),
    ("rock/" + "é" * 130 + ".jpg", "has a name of 264 bytes"),                   # bytes, not characters
    ("/".join(["d" * 200] * 6) + "/a.jpg", "has a path of 1,211 bytes, over the limit of 1,024 (name too long)"),
    ("rock/a\nb.jpg", "has a control character in its name"),
    ("rock/a\x1b[31mb.jpg", "has a control character in its name"),
])
def test_names_no_folder_can_hold_are_refused_by_name(member, cause, tmp_path):
    message = refused(make_zip(tmp_path / "names.zip", ["jazz/a.jpg", member]), tmp_path)
    assert message.startswith(f"names.zip: {member[:60]!r}") and cause in message
    assert "\n" not in message


def test_a_zip_holding_only_a_zip_says_so_without_a_server_path(tmp_path):
    inner = make_zip(tmp_path / "inner.zip", ["rock/a.jpg"])
    with zipfile.ZipFile(tmp_path / "x.zip", "w") as archive:
        archive.write(inner, "inner.zip")
    assert refused(tmp_path / "x.zip", tmp_path) == (
        "x.zip: holds no covers; skipped nested archive inner.zip (nested archives are not opened)")


def test_an_empty_zip_holds_no_covers(tmp_path):
    zipfile.ZipFile(tmp_path / "empty.zip", "w").close()
    assert refused(tmp_path / "empty.zip", tmp_path) == "empty.zip: holds no covers"


def test_a_zip_without_genre_folders_is_named_not_its_extraction_folder(tmp_path):
    with pytest.raises(DatasetError) as refusal:              # unpacked, then refused
        load_dataset(make_zip(tmp_path / "flat.zip", ["readme.txt"]), extract_to=tmp_path / "imports")
    assert str(refusal.value) == "flat.zip: no genre folders (expected <genre>/<image files> inside it)"


def test_what_unpacking_could_not_foresee_is_an_archive_error_naming_the_member(tmp_path, monkeypatch):
    import builtins

    import cover_model.data.archive as archive_module

    def full_disk(path, mode="r", *args, **kwargs):
        if "w" in mode:
            raise OSError(28, "No space left on device")
        return builtins.open(path, mode, *args, **kwargs)
    archive = make_zip(tmp_path / "ok.zip", ["rock/a.jpg"])
    monkeypatch.setattr(archive_module, "open", full_disk, raising=False)
    with pytest.raises(ArchiveError, match=r"^ok.zip: cannot unpack 'rock/a.jpg' \(No space left on device\)$"):
        extract_zip(archive, extract_to=tmp_path / "imports")


def test_an_unpacked_dataset_has_the_modes_mkdir_and_open_give(tmp_path):
    archive = make_zip(tmp_path / "covers.zip", ["covers/rock/a.jpg", "covers/jazz/b.jpg"])
    root, _ = extract_zip(archive, extract_to=tmp_path / "imports")
    unpacked = root.parent                            # the folder the zip was unpacked into
    assert unpacked.parent == tmp_path / "imports"
    for folder in (unpacked, root, root / "rock"):
        assert folder.stat().st_mode & 0o777 == FOLDER_MODE, folder
    assert (root / "rock" / "a.jpg").stat().st_mode & 0o777 == FILE_MODE


def test_a_zip_whose_covers_need_a_password_is_refused_naming_the_member(tmp_path):
    from .bad_inputs import encrypted_zip
    # A plain cover first: refused before it is written, not half-way through the zip.
    archive = encrypted_zip(tmp_path / "locked.zip", {"rock/a.jpg": COVER, "rock/b.jpg": COVER})
    with zipfile.ZipFile(archive) as check:         # as a reader sees it: password required
        assert [info.flag_bits & 0x1 for info in check.infolist()] == [1, 1]
    assert refused(archive, tmp_path) == (
        "locked.zip: 'rock/a.jpg' is encrypted; upload a zip without a password")


@pytest.mark.skipif(not shutil.which("zip"), reason="Info-ZIP's zip is not installed")
def test_a_zip_made_by_zip_with_a_password_is_refused(tmp_path):
    covers = tmp_path / "covers" / "jazz"
    covers.mkdir(parents=True)
    (covers / "a.jpg").write_bytes(COVER)
    subprocess.run(["zip", "-q", "-r", "-P", "secret", str(tmp_path / "real.zip"), "covers"],
                   cwd=tmp_path, check=True)
    assert refused(tmp_path / "real.zip", tmp_path) == (
        "real.zip: 'covers/jazz/a.jpg' is encrypted; upload a zip without a password")


def test_a_member_compressed_by_a_method_zipfile_cannot_read_is_refused(tmp_path):
    archive = make_zip(tmp_path / "deflate64.zip", ["rock/a.jpg"])
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as check:
        local, central = check.infolist()[0].header_offset, check.start_dir
    data[local + 8] = data[central + 10] = 9        # Deflate64, which Windows writes for big files
    archive.write_bytes(bytes(data))
    assert refused(archive, tmp_path) == (
        "deflate64.zip: 'rock/a.jpg' is compressed with method 9 (Deflate64), which cannot be "
        "read here; zip it again with the usual compression (Deflate)")
