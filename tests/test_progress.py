"""Progress callbacks: throttled, always reporting the end, written atomically."""
from cover_model.atomic_files import read_json
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


# ---- what a terminal and a log show (issue 16: the hand-written "\r" line's three bugs) ----
import io  # noqa: E402
import re  # noqa: E402

import pytest  # noqa: E402

from cover_model import progress  # noqa: E402
from cover_model.progress import StatusPrinter, stage_progress  # noqa: E402


def terminal_screen(written: str) -> str:
    """The last line a terminal shows after ``written``: each "\\r" returns to column 0 and
    overwrites only as many characters as the new text has."""
    screen = ""
    for line in written.split("\n"):
        for part in line.split("\r"):
            screen = part + screen[len(part):]
        if line is not written.split("\n")[-1]:
            screen = "" if not line.endswith("\r") else screen
    return screen.rstrip()


def embedding(step: int, rate: float, eta_s: float) -> dict:
    return {"stage": "embedding covers", "step": step, "steps": 60, "rate": rate, "eta_s": eta_s}


def test_a_shorter_line_leaves_no_stale_characters_on_a_terminal(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    out = io.StringIO()
    show = StatusPrinter(file=out, tty=True, unit="covers")
    clock[0] += 1
    show({"stage": "a long stage name that fills the line", "step": 1, "steps": 60,
          "rate": 123456.0, "eta_s": 12345.0})
    clock[0] += 1
    show({"stage": "short", "step": 1, "steps": 60, "rate": 1.0, "eta_s": 1.0})
    written = out.getvalue()
    last = written.rsplit("\r", 1)[-1]
    assert "short" in last and "fills the line" not in last
    assert "line" not in terminal_screen(written.rsplit("\n", 1)[-1])   # nothing left over


def test_a_slow_rate_is_not_printed_as_zero(capsys):
    show = StatusPrinter(tty=False)
    show(embedding(30, 0.5, 60.0))
    show(embedding(60, 0.5, 0.0))
    line = capsys.readouterr().err.splitlines()[-1]
    assert "(0.5 covers/s)" in line and "(0 covers/s)" not in line


def test_a_step_done_at_once_shows_no_absurd_rate(monkeypatch, capsys):
    clock = [0.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    report = stage_progress(StatusPrinter(tty=False), "downsizing covers")
    clock[0] += 1e-9                               # a cached step: its count at once
    report(50_000, 50_000)
    line = capsys.readouterr().err.strip()
    assert line == "downsizing covers: 50000/50000 ETA 0 s"


@pytest.mark.parametrize("tty", [True, False])
def test_a_cached_step_on_a_terminal_or_in_a_log_never_shows_its_count_over_nanoseconds(
        monkeypatch, tty):
    clock = [0.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    out = io.StringIO()
    report = stage_progress(StatusPrinter(file=out, tty=tty), "downsizing covers")
    clock[0] += 1e-9
    report(30, 30)
    assert "30/30" in out.getvalue()
    rates = re.findall(r"([\d,]+(?:\.\d+)?) ?[a-z]*/s", out.getvalue())
    assert all(float(rate.replace(",", "")) < 1e6 for rate in rates), out.getvalue()
