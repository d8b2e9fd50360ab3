"""Progress callbacks: throttled, always reporting the end, written atomically."""
from cover_model.files import read_json
from cover_model.progress import progress_file_writer, progress_reporter


def test_reporter_throttles_but_always_reports_the_last_item():
    seen = []
    report = progress_reporter(seen.append, every_s=3600)
    for done in range(1, 101):
        report(done, 100)
    assert [s["done"] for s in seen] == [100]
    assert seen[0]["eta_s"] == 0 and seen[0]["rate"] > 0


def test_file_writer_leaves_a_readable_status(tmp_path):
    path = tmp_path / "progress.json"
    report = progress_file_writer(path, every_s=0)
    report(3, 10)
    assert read_json(path)["done"] == 3
    report(10, 10)
    assert read_json(path)["done"] == 10 and not list(tmp_path.glob(".progress*"))


def test_missing_or_damaged_files_read_as_none(tmp_path):
    assert read_json(tmp_path / "nope.json") is None
    (tmp_path / "bad.json").write_text("{half")
    assert read_json(tmp_path / "bad.json") is None
