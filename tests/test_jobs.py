"""Background jobs with real processes: a crash. A job run to the end with its progress, a
duplicate start and a cancel are tested through the Train page (tests/test_train_page.py),
which calls the same queue; the queue itself in tests/test_job_queue.py."""

from cover_model.networks import jobs
from cover_model.networks.config import TrainConfig

from .helpers import wait_for as poll


def wait_for(predicate, timeout_s=180):
    return poll(predicate, timeout_s=timeout_s)


def test_a_crashing_job_is_marked_failed_with_its_error(tmp_path):
    run_dir = jobs.start_job(TrainConfig(data=str(tmp_path / "nowhere"), epochs=1))
    status = wait_for(lambda: (s := jobs.job_status(run_dir))["state"] != "running" and s)
    assert status["state"] == "failed"
    assert "no such file or folder" in (status.get("error") or "") + status.get("log_tail", "")
