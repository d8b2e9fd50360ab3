"""The Train page (AppTest): the paper's defaults in the sidebar, a real job started, watched,
found again after a refresh, cancelled; a failed job shown with its error."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from cover_model.markdown_text import unescape
from cover_model.networks import jobs, runs
from cover_model.paths import PROJECT_ROOT, checkpoints_dir

from .helpers import open_page
from .helpers import wait_for as poll

pytestmark = pytest.mark.slow           # scheduled first (tests/conftest.py)

PAGE = "app_pages/train.py"


@pytest.fixture
def page(embedded_data, app_main) -> AppTest:
    yield open_page(PAGE)
    for run_dir in jobs.running_jobs():      # never leave a training process behind
        jobs.cancel_job(run_dir)


def wait_for(predicate, timeout_s=240):
    return poll(predicate, timeout_s=timeout_s)


def wait_until_stopped(run_dir: Path, timeout_s=240) -> dict:
    return wait_for(lambda: (s := jobs.job_status(run_dir))["state"] != "running" and s, timeout_s)


def set_settings(at: AppTest, **values) -> None:
    for name, value in values.items():
        widget = next(w for w in at.sidebar.get(_kind(value)) if w.key == f"train_{name}")
        widget.set_value(value)
    at.run()


def _kind(value) -> str:
    return {bool: "checkbox", int: "number_input", float: "number_input"}.get(type(value), "text_input")


def texts(at: AppTest, kind: str) -> str:
    """As a reader sees them: data text reaches Markdown escaped."""
    return " ".join(unescape(e.value) for e in at.get(kind))


def test_sidebar_starts_at_the_papers_settings_with_help_everywhere(page):
    sidebar = page.sidebar
    assert sidebar.selectbox(key="train_arch").value == "custom"
    assert sidebar.selectbox(key="train_optimizer").value == "sgd"
    assert sidebar.number_input(key="train_lr").value == 0.01
    assert sidebar.number_input(key="train_momentum").value == 0.9
    assert sidebar.number_input(key="train_batch_size").value == 10
    widgets = [w for kind in ("number_input", "selectbox", "checkbox", "text_input")
               for w in sidebar.get(kind) if w.key and w.key.startswith("train_")]
    assert len(widgets) >= 21 and all(w.help for w in widgets)
    assert "No job yet" in texts(page, "info")


def test_a_preset_fills_the_settings(page):
    page.sidebar.selectbox(key="train_preset").set_value("lite0-linear").run()
    assert page.sidebar.selectbox(key="train_arch").value == "efficientnet_lite0"
    assert page.sidebar.selectbox(key="train_mode").value == "linear"
    assert page.sidebar.number_input(key="train_lr").value == 0.001
    assert not page.exception
    page.sidebar.selectbox(key="train_preset").set_value("best").run()
    assert "exact logistic head (C 0.001)" in texts(page, "caption")      # the recipe's own C
    assert "epoch" not in texts(page, "caption")              # the loop's settings do not apply


def test_an_out_of_range_setting_is_an_error_and_nothing_starts(page):
    set_settings(page, lr=0.0)
    assert "lr must be in (0, 10]" in texts(page, "error")
    assert page.button(key="train_start").disabled
    assert not page.exception


def test_start_watch_and_finish_a_job_named_after_its_preset(page):
    page.sidebar.selectbox(key="train_preset").set_value("smoke").run()    # 1 epoch, batch 32
    page.button(key="train_start").click().run()
    assert not page.exception
    run_dir = Path(page.session_state["train_run"])
    assert run_dir.parent == checkpoints_dir()                          # the test's own folder
    assert run_dir.name.split("-")[2] == "smoke"
    assert "**Training** custom scratch" in texts(page, "markdown")      # the live panel

    status = wait_until_stopped(run_dir)
    assert status["state"] == "done", status
    assert status["progress"]["epoch"] == 1 and status["progress"]["step"] == status["progress"]["steps"]
    assert (run_dir / "best.safetensors").is_file()
    assert runs.list_runs() == [run_dir]
    page.run()
    assert not page.exception
    assert "Finished custom scratch 32px" in texts(page, "success")
    assert "Results page" in texts(page, "success")
    assert len(page.get("plotly_chart")) == 1                           # the curves
    assert runs.Run(run_dir).config()["preset"] == "smoke"


def test_a_second_click_and_a_refresh_find_the_running_job_then_cancel(page):
    set_settings(page, epochs=300, batch_size=2)
    page.button(key="train_start").click().run()
    run_dir = page.session_state["train_run"]
    page.button(key="train_start").click().run()
    assert page.session_state["train_run"] == run_dir
    assert "already running" in texts(page, "info")
    assert len(jobs.running_jobs()) == 1

    fresh = open_page(PAGE)                                   # a page refresh: a new session
    assert Path(run_dir).name in texts(fresh, "markdown")
    wait_for(lambda: (jobs.job_status(Path(run_dir))["progress"] or {}).get("epoch", 0) >= 2)
    fresh.run()
    assert "epoch" in fresh.get("progress")[0].proto.text
    fresh.button(key="train_cancel").click().run()
    assert wait_until_stopped(Path(run_dir), timeout_s=60)["state"] == "cancelled"
    assert (Path(run_dir) / "last.safetensors").is_file()          # finished epochs are kept
    fresh.run()
    assert "Cancelled" in texts(fresh, "warning")
    assert not fresh.exception
    page.button(key="train_start").click().run()              # stopped: the same settings
    assert page.session_state["train_run"] != run_dir           # start a new run


def test_a_failed_job_shows_its_error_not_a_traceback(page, tmp_path):
    missing = tmp_path / "nowhere" / "resnet18.pth"
    page.sidebar.selectbox(key="train_arch").set_value("resnet18")
    page.sidebar.selectbox(key="train_mode").set_value("linear")
    set_settings(page, epochs=1, size_px=32, weights=str(missing))
    page.button(key="train_start").click().run()
    status = wait_until_stopped(Path(page.session_state["train_run"]))
    assert status["state"] == "failed"
    page.run()
    assert not page.exception
    error = texts(page, "error")
    assert "failed" in error and str(missing) in error
    assert "Traceback" not in error


def _widgets_script():
    import dataclasses

    import streamlit as st

    from cover_model.config import option
    from ui_widgets import config_widgets

    @dataclasses.dataclass
    class Job:
        flip: bool = option(True, "flip covers")
        method: str = option("cubic", "how to downsize", choices=("area", "cubic"))
        size_px: int = option(32, "side in pixels")
        lr: float = option(0.01, "learning rate")
        note: str = option("", "free text")

    st.session_state.values = config_widgets(Job, key_prefix="job", container=st.container())


def test_config_widgets_makes_one_keyed_widget_per_field_with_defaults_and_help():
    at = AppTest.from_function(_widgets_script).run()
    assert not at.exception
    assert at.session_state["values"] == {"flip": True, "method": "cubic", "size_px": 32, "lr": 0.01,
                                          "note": ""}
    assert at.checkbox(key="job_flip").help == "flip covers"
    assert at.selectbox(key="job_method").options == ["area", "cubic"]
    assert at.number_input(key="job_size_px").label == "Size (px)"
    assert at.number_input(key="job_lr").label == "LR"
    assert at.text_input(key="job_note").help == "free text"
    at.number_input(key="job_size_px").set_value(64).run()
    assert at.session_state["values"]["size_px"] == 64


def test_a_job_downsizing_or_embedding_shows_its_stage_and_fraction(page):
    import subprocess

    from cover_model.atomic_files import write_json
    sleeper = subprocess.Popen(["sleep", "120"])          # stands in for the job's process
    try:
        run_dir = runs.Run.create({"arch": "custom"}, root=checkpoints_dir()).path
        runs.Run(run_dir).write_status("running", pid=sleeper.pid)
        write_json(run_dir / "progress.json", {"stage": "embedding covers", "step": 0, "steps": 40,
                                               "rate": 0.0, "eta_s": None})
        page.run()
        assert not page.exception
        assert page.get("progress")[0].proto.text == "embedding covers · 0/40 (0%)"
        write_json(run_dir / "progress.json", {"stage": "embedding covers", "step": 12, "steps": 40,
                                               "rate": 6.0, "eta_s": 4.7})
        page.run()
        assert page.get("progress")[0].proto.text == "embedding covers · 12/40 (30%) · 5 s left"
        assert page.get("progress")[0].proto.value == 30
    finally:
        sleeper.kill()
        sleeper.wait()


# --- the queue, limits and resume (issue 15) -----------------------------------------

VISITOR = "0123456789ab"


def reload(*, visitor: str | None = None, run: str | None = None) -> AppTest:
    """The Train page opened anew (a reload) with this URL: ``?visitor=...&run=...``."""
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    for name, value in (("visitor", visitor), ("run", run)):
        if value:
            at.query_params[name] = value
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception
    return at


def holding_the_only_slot(monkeypatch):
    """One job may run, and a sleeping process stands in for it: a queue without training."""
    import subprocess
    monkeypatch.setenv("COVER_LAB_MAX_RUNNING_JOBS", "1")
    sleeper = subprocess.Popen(["sleep", "120"])
    holder = runs.Run.create({"arch": "custom"}, name="holder", root=checkpoints_dir()).path
    runs.Run(holder).write_status("running", pid=sleeper.pid)
    return sleeper


def test_a_queued_job_shows_its_place_and_cancel_takes_it_off_the_queue(page, monkeypatch):
    sleeper = holding_the_only_slot(monkeypatch)
    try:
        set_settings(page, epochs=1, batch_size=32)
        page.button(key="train_start").click().run()
        assert not page.exception
        run_dir = Path(page.session_state["train_run"])
        assert page.query_params["run"] == run_dir.name               # found again after a reload
        assert "Queued: place 1 of 1" in texts(page, "info")
        assert f"**Queued** custom scratch 32px · `{run_dir.name}`" in texts(page, "markdown")
        page.button(key="train_start").click().run()                  # a second click
        assert "already queued: here it is" in texts(page, "info")
        assert jobs.queued_jobs() == [run_dir]
        page.button(key="train_cancel").click().run()
        assert not page.exception
        assert jobs.queued_jobs() == [] and runs.Run(run_dir).status()["state"] == "cancelled"
        assert f"Cancelled `{run_dir.name}` while it was queued." in texts(page, "warning")
        assert not [b for b in page.button if b.key == "train_resume"]    # no epoch to resume
    finally:
        sleeper.kill()
        sleeper.wait()


def test_after_a_reload_the_visitors_killed_job_is_shown_and_resumes(page):
    import os
    import signal
    page = reload(visitor=VISITOR)
    set_settings(page, epochs=300, batch_size=32)
    page.button(key="train_start").click().run()
    run_dir = Path(page.session_state["train_run"])
    assert jobs.owner_of(run_dir) == VISITOR
    wait_for(lambda: (jobs.job_status(run_dir)["progress"] or {}).get("epoch", 0) >= 2)
    os.kill(runs.Run(run_dir).status()["pid"], signal.SIGKILL)
    wait_for(lambda: jobs.job_status(run_dir)["state"] == "failed")

    for fresh in (reload(visitor=VISITOR), reload(run=run_dir.name)):    # newest of theirs; URL
        assert "No job yet" not in texts(fresh, "info")
        assert f"Training `{run_dir.name}` failed: the training process died" in texts(fresh, "error")
    fresh.button(key="train_resume").click().run()
    assert not fresh.exception
    assert jobs.job_status(run_dir)["state"] in ("queued", "running")
    assert run_dir.name in texts(fresh, "markdown")                     # the live panel again
    saved = len(runs.Run(run_dir).metrics()["history"])
    wait_for(lambda: len((runs.Run(run_dir).metrics() or {}).get("history", [])) > saved)
    fresh.run()
    fresh.button(key="train_cancel").click().run()
    assert wait_until_stopped(run_dir, timeout_s=60)["state"] == "cancelled"
    fresh.run()
    assert "finished epoch(s) are saved" in texts(fresh, "warning")
    assert fresh.button(key="train_resume")                             # again resumable


def test_public_mode_refuses_a_million_epochs_and_a_second_job_of_a_visitor(page, monkeypatch):
    """The 1,000,000-epoch job whose page said 'Time left 769,373 s' is refused before it is
    queued; one visitor has one job; a stranger may look at it but not cancel it."""
    monkeypatch.setenv("COVER_LAB_PUBLIC", "1")
    page = reload(visitor=VISITOR)
    set_settings(page, epochs=1_000_000)
    page.button(key="train_start").click().run()
    assert not page.exception
    assert "1,000,000 epoch(s)" in texts(page, "error") and "fewer epochs" in texts(page, "error")
    assert jobs.running_jobs() == [] and jobs.queued_jobs() == []
    assert "No job yet" in texts(page, "info")

    set_settings(page, epochs=300, batch_size=32)
    page.button(key="train_start").click().run()
    run_dir = Path(page.session_state["train_run"])
    set_settings(page, batch_size=31)
    page.button(key="train_start").click().run()
    assert "You already have a job running or queued; wait for it or cancel it." in texts(page, "error")
    assert jobs.running_jobs() + jobs.queued_jobs() == [run_dir]

    stranger = reload(run=run_dir.name)
    assert run_dir.name in texts(stranger, "markdown")
    assert not [b for b in stranger.button if b.key == "train_cancel"]
    assert "No job yet" in texts(reload(), "info")             # theirs is not shown unasked
    page.button(key="train_cancel").click().run()
    assert wait_until_stopped(run_dir, timeout_s=60)["state"] == "cancelled"


def test_time_left_adds_the_epochs_to_come_at_the_pace_so_far(page):
    import subprocess

    from cover_model.atomic_files import write_json
    sleeper = subprocess.Popen(["sleep", "120"])          # stands in for the job's process
    try:
        run_dir = runs.Run.create({"arch": "custom"}, root=checkpoints_dir()).path
        runs.Run(run_dir).write_status("running", pid=sleeper.pid)
        step = {"epoch": 1, "epochs": 3, "step": 5, "steps": 10, "loss": 1.0, "acc1": 0.5,
                "img_per_s": 100.0, "eta_s": 5.0}
        write_json(run_dir / "progress.json", step)
        page.run()
        # Before an epoch ends: 5 s for this one, 2 more at this one's pace (10 s each).
        assert [m.value for m in page.metric if m.label == "Time left"] == ["25 s"]
        write_json(run_dir / "metrics.json", {"history": [{"epoch": 1, "seconds": 8.0}]})
        write_json(run_dir / "progress.json", step | {"epoch": 2})
        page.run()
        assert [m.value for m in page.metric if m.label == "Time left"] == ["13 s"]   # 5 + 1 x 8
    finally:
        sleeper.kill()
        sleeper.wait()


def test_public_mode_shows_no_strangers_run_named_in_the_url(embedded_data, app_main, monkeypatch):
    """A run folder's name in ?run= is no key: on a public demo a stranger's run on their
    own covers stays theirs, as on Results."""
    monkeypatch.setenv("COVER_LAB_PUBLIC", "1")
    run_dir = runs.Run.create({"arch": "custom"}, name="strangers").path
    (run_dir / "request.json").write_text('{"config": {"data": "/srv/u/a.zip"}, "owner": "ffffffffffff"}')
    runs.Run(run_dir).write_status("failed", error="DatasetError: /srv/u/a.zip: no usable images")
    page = reload(run=run_dir.name, visitor=VISITOR)
    assert "No job yet" in texts(page, "info")
    assert "strangers" not in texts(page, "error") + texts(page, "markdown")
    monkeypatch.delenv("COVER_LAB_PUBLIC")
    assert "strangers" in texts(reload(run=run_dir.name), "error")          # locally, any run
