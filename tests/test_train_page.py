"""The Train page (AppTest): the paper's defaults in the sidebar, a real job started, watched,
found again after a refresh, cancelled; a failed job shown with its error."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from cover_model import jobs, runs
from cover_model.paths import checkpoints_dir

from .helpers import open_page, wait_for as poll

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
    return " ".join(e.value for e in at.get(kind))


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


def test_an_out_of_range_setting_is_an_error_and_nothing_starts(page):
    set_settings(page, lr=0.0)
    assert "lr must be in (0, 10]" in texts(page, "error")
    assert page.button(key="train_start").disabled
    assert not page.exception


def test_start_watch_and_finish_a_job(page):
    set_settings(page, epochs=1, batch_size=32)
    page.button(key="train_start").click().run()
    assert not page.exception
    run_dir = Path(page.session_state["train_run"])
    assert run_dir.parent == checkpoints_dir()                          # the test's own folder
    assert "**Training** custom scratch" in texts(page, "markdown")      # the live panel

    status = wait_until_stopped(run_dir)
    assert status["state"] == "done", status
    assert runs.list_runs() == [run_dir]
    page.run()
    assert not page.exception
    assert "Finished custom scratch 32px" in texts(page, "success")
    assert "Results page" in texts(page, "success")
    assert len(page.get("plotly_chart")) == 1                           # the curves


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
    fresh.run()
    assert "Cancelled" in texts(fresh, "warning")
    assert not fresh.exception


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

    from cover_model.files import write_json
    sleeper = subprocess.Popen(["sleep", "120"])          # stands in for the job's process
    try:
        run_dir = runs.new_run_dir({"arch": "custom"}, root=checkpoints_dir())
        runs.write_status(run_dir, "running", pid=sleeper.pid)
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


def test_a_job_from_a_preset_is_named_after_it(page):
    page.sidebar.selectbox(key="train_preset").set_value("best").run()
    assert "exact logistic head (C 0.001)" in texts(page, "caption")      # the recipe's own C
    assert "epoch" not in texts(page, "caption")              # the loop's settings do not apply
    page.sidebar.selectbox(key="train_preset").set_value("smoke").run()
    page.button(key="train_start").click().run()
    run_dir = Path(page.session_state["train_run"])
    assert run_dir.name.split("-")[2] == "smoke"
    assert wait_until_stopped(run_dir)["state"] == "done"
    from cover_model.files import read_json
    assert read_json(run_dir / "config.json")["preset"] == "smoke"
