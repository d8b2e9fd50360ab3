"""atomic_write and make_temp_dir give what open() and mkdir() would: 0666 and 0777
less the umask, not tempfile's private 0600 and 0700 (issue #15: reports, downloaded
covers and unpacked datasets were left unreadable to the server's other users)."""
import os

from cover_model.atomic_files import FILE_MODE, FOLDER_MODE, UMASK, atomic_write, make_temp_dir


def test_the_umask_is_read_without_changing_it():
    current = os.umask(UMASK)
    os.umask(current)
    assert current == UMASK


def test_atomic_write_gives_the_mode_open_gives(tmp_path):
    with open(tmp_path / "plain.txt", "w") as fh:
        fh.write("x")
    with atomic_write(tmp_path / "atomic.txt", "w") as fh:
        fh.write("x")
    plain = (tmp_path / "plain.txt").stat().st_mode & 0o777
    assert (tmp_path / "atomic.txt").stat().st_mode & 0o777 == plain == FILE_MODE


def test_a_temp_folder_gets_the_mode_mkdir_gives(tmp_path):
    (tmp_path / "plain").mkdir()
    made = make_temp_dir(tmp_path, prefix=".tmp-")
    assert made.parent == tmp_path and made.name.startswith(".tmp-") and not any(made.iterdir())
    assert made.stat().st_mode & 0o777 == (tmp_path / "plain").stat().st_mode & 0o777 == FOLDER_MODE
