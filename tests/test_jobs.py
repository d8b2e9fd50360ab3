"""Background jobs with real processes: start, progress, crash. A duplicate start and a cancel
are tested through the Train page (tests/test_train_page.py), which calls the same queue."""

from cover_model.networks import jobs
from cover_model.networks.config import TrainConfig

from .helpers import wait_for as poll


def wait_for(predicate, timeout_s=180):
    return poll(predicate, timeout_s=timeout_s)


def test_a_job_runs_to_done_and_reports_progress(folder_dataset):
    run_dir = jobs.start_job(TrainConfig(data=str(folder_dataset), epochs=2, batch_size=4))
    status = wait_for(lambda: (s := jobs.job_status(run_dir))["state"] in ("done", "failed") and s)
    assert status["state"] == "done", status
    assert status["progress"]["epoch"] == 2 and status["progress"]["step"] == status["progress"]["steps"]
    assert (run_dir / "best.safetensors").is_file()


def test_a_crashing_job_is_marked_failed_with_its_error(tmp_path):
    run_dir = jobs.start_job(TrainConfig(data=str(tmp_path / "nowhere"), epochs=1))
    status = wait_for(lambda: (s := jobs.job_status(run_dir))["state"] != "running" and s)
    assert status["state"] == "failed"
    assert "no such file or folder" in (status.get("error") or "") + status.get("log_tail", "")
