"""The job queue with real training processes: a cap on jobs running at once (the rest
queue and start on their own when one ends, with no page polling), a kill -9 freeing its
slot, cancelling from the queue, per-session caps and public mode's limits on work and
weights paths, resume through the queue, and a read-only checkpoints folder."""
import os
import signal
import subprocess
import sys

import pytest

from cover_model.atomic_files import read_json
from cover_model.networks import jobs, runs
from cover_model.networks.config import TrainConfig
from cover_model.networks.training import main
from cover_model.paths import PROJECT_ROOT, checkpoints_dir
from cover_model.runtime import tuned_env

from .helpers import wait_for

pytestmark = pytest.mark.slow           # scheduled first (tests/conftest.py)

OWNER, OTHER = "0123456789ab", "ba9876543210"


@pytest.fixture(autouse=True)
def no_job_left_behind():
    yield
    for run_dir in jobs.queued_jobs() + jobs.running_jobs():
        jobs.cancel_job(run_dir)
    wait_for(lambda: not jobs.running_jobs(), timeout_s=60)


@pytest.fixture
def one_at_a_time(monkeypatch):
    monkeypatch.setenv("COVER_LAB_MAX_RUNNING_JOBS", "1")


def quick(data, **settings) -> TrainConfig:
    """A job of a few seconds: one epoch of the tiny dataset."""
    return TrainConfig(data=str(data), epochs=1, batch_size=8, **settings)


def slow(data, **settings) -> TrainConfig:
    """A job that runs until it is stopped."""
    return TrainConfig(data=str(data), epochs=300, batch_size=2, **settings)


def state(run_dir) -> str:
    """The state on disk, read without moving the queue (job_status would move it)."""
    return runs.Run(run_dir).status()["state"]


def until_stopped(run_dir, timeout_s=180) -> dict:
    return wait_for(lambda: (s := runs.Run(run_dir).status())["state"] not in jobs.ACTIVE and s,
                    timeout_s=timeout_s)


def test_jobs_beyond_the_cap_queue_and_each_end_starts_the_next_with_no_polling(
        folder_dataset, one_at_a_time):
    first = jobs.start_job(quick(folder_dataset), owner=OWNER)
    second = jobs.start_job(quick(folder_dataset, seed=1), owner=OTHER)
    third = jobs.start_job(quick(folder_dataset, seed=2))
    assert state(first) == "running" and state(second) == state(third) == "queued"
    assert jobs.queued_jobs() == [second, third]
    status = jobs.job_status(third)
    assert (status["queue_position"], status["queue_length"]) == (2, 2)
    assert jobs.start_job(quick(folder_dataset, seed=2)) == third          # the same settings
    assert jobs.request_of(second)["owner"] == OTHER

    for run_dir in (first, second, third):      # only the jobs' own ends move the queue here
        assert until_stopped(run_dir)["state"] == "done"
    started = [runs.Run(r).status()["started"] for r in (first, second, third)]
    assert started == sorted(started)                                       # oldest first
    assert len(runs.Run(third).metrics()["history"]) == 1


def test_a_kill_9_frees_its_slot_on_the_next_poll(folder_dataset, one_at_a_time):
    killed = jobs.start_job(slow(folder_dataset))
    waiting = jobs.start_job(quick(folder_dataset))
    assert state(waiting) == "queued"
    os.kill(runs.Run(killed).status()["pid"], signal.SIGKILL)        # its own end never runs
    status = wait_for(lambda: (s := jobs.job_status(killed))["state"] == "failed" and s,
                      timeout_s=30)
    assert "the training process died" in status["error"]
    jobs.running_jobs()                                             # the next poll
    assert state(waiting) in ("running", "done")
    assert until_stopped(waiting)["state"] == "done"


def test_a_queued_job_can_be_cancelled_and_the_queue_closes_up(folder_dataset, one_at_a_time):
    running = jobs.start_job(slow(folder_dataset))
    first, second = (jobs.start_job(quick(folder_dataset, seed=s)) for s in (1, 2))
    assert jobs.cancel_job(first)
    status = jobs.job_status(first)
    assert status["state"] == "cancelled" and not status.get("pid")
    assert "queue_position" not in status
    assert jobs.queued_jobs() == [second]
    assert jobs.job_status(second)["queue_position"] == 1
    assert not jobs.cancel_job(first)                          # nothing left to cancel
    assert jobs.start_job(quick(folder_dataset, seed=1)) != first   # may be asked for again
    wait_for(lambda: (running / "progress.json").is_file(), timeout_s=60)   # training by now
    assert jobs.cancel_job(running)
    assert until_stopped(running, timeout_s=60)["state"] == "cancelled"
    wait_for(lambda: state(second) != "queued", timeout_s=30)        # its end moved the queue


def test_locally_two_run_at_once_and_a_session_has_no_cap(folder_dataset):
    started = [jobs.start_job(slow(folder_dataset, seed=s), owner=OWNER) for s in range(3)]
    assert [state(r) for r in started] == ["running", "running", "queued"]
    assert sorted(jobs.running_jobs()) == sorted(started[:2])
    assert jobs.cancel_job(started[0])           # at once, maybe before it handles SIGTERM
    assert until_stopped(started[0], timeout_s=60)["state"] == "cancelled"


def test_in_public_mode_a_session_has_one_job_and_the_server_runs_one(folder_dataset, monkeypatch):
    monkeypatch.setenv("COVER_LAB_PUBLIC", "1")
    mine = jobs.start_job(slow(folder_dataset), owner=OWNER)
    with pytest.raises(jobs.JobLimitError, match="You already have a job running or queued; "
                                                 "wait for it or cancel it"):
        jobs.start_job(slow(folder_dataset, seed=1), owner=OWNER)
    assert jobs.start_job(slow(folder_dataset), owner=OWNER) == mine        # the same settings
    theirs = jobs.start_job(slow(folder_dataset, seed=1), owner=OTHER)
    assert state(theirs) == "queued"                                       # one runs at once
    with pytest.raises(jobs.JobLimitError):                          # queued counts too
        jobs.start_job(slow(folder_dataset, seed=2), owner=OTHER)
    jobs.cancel_job(theirs)
    assert jobs.start_job(slow(folder_dataset, seed=2), owner=OTHER) != theirs


def test_public_mode_refuses_too_much_work_before_queueing_and_names_the_knob(folder_dataset,
                                                                               monkeypatch):
    huge = TrainConfig(data=str(folder_dataset), epochs=1_000_000)
    jobs.check_job(huge)                                          # locally: the user's machine
    monkeypatch.setenv("COVER_LAB_PUBLIC", "1")
    with pytest.raises(jobs.JobError, match="fewer epochs") as refused:
        jobs.start_job(huge, owner=OWNER)
    assert "1,000,000 epoch(s)" in str(refused.value)
    assert list(checkpoints_dir().glob("*/status.json")) == []              # nothing queued
    big = TrainConfig(data=str(folder_dataset), epochs=1000, size_px=512)
    with pytest.raises(jobs.JobError, match=r"fewer epochs \(at most \d+ at 512 px\) or a "
                                            r"smaller size \(Size \(px\) at most \d+"):
        jobs.check_job(big)

    # A logistic head counts as one epoch; with no epochs to drop, only the size is named.
    logistic = TrainConfig(data=str(folder_dataset), arch="efficientnet_lite0", mode="linear",
                           head="logistic", size_px=512)
    n_train = jobs._n_train(logistic, None)
    assert jobs.job_work(logistic, n_train) == n_train * 512 ** 2
    jobs.check_job(logistic)
    monkeypatch.setenv("COVER_LAB_MAX_JOB_WORK", str(n_train * 512 ** 2 - 1))
    with pytest.raises(jobs.JobError, match="smaller size") as refused:
        jobs.check_job(logistic)
    assert "epochs (" not in str(refused.value)


def test_public_mode_refuses_a_weights_path_alike_whether_it_exists_or_not(folder_dataset,
                                                                            tmp_path, monkeypatch):
    existing = tmp_path / "resnet18.pth"
    existing.write_bytes(b"\0" * 64)
    local = TrainConfig(data=str(folder_dataset), arch="resnet18", mode="linear",
                        weights=str(existing))
    jobs.check_job(local)                                          # locally any file
    monkeypatch.setenv("COVER_LAB_PUBLIC", "1")
    messages = []
    for path in (existing, tmp_path / "missing.pth", "../../etc/passwd"):
        cfg = TrainConfig(data=str(folder_dataset), arch="resnet18", mode="linear", weights=str(path))
        with pytest.raises(jobs.JobError) as refused:
            jobs.start_job(cfg, owner=OWNER)
        messages.append(str(refused.value))
    assert len(set(messages)) == 1 and str(tmp_path) not in messages[0] and "etc" not in messages[0]
    assert messages[0].startswith("Weights: ")
    assert list(checkpoints_dir().glob("*")) == []
    # Inside an allowed folder it is allowed, and the job reads the very file checked.
    monkeypatch.setenv("COVER_LAB_ALLOWED_ROOTS", str(tmp_path))
    relative = TrainConfig(data=str(folder_dataset), arch="resnet18", mode="linear",
                           weights="resnet18.pth")
    assert jobs.check_job(relative).weights == str(existing.resolve())


def stopped_after_one_epoch(data, epochs=2) -> object:
    """A run cancelled once its first epoch is saved, trained in this process (quick)."""
    run_dir = checkpoints_dir() / "20990101-000000-custom-scratch-stopped"
    with pytest.raises(KeyboardInterrupt):
        main(TrainConfig(data=str(data), epochs=epochs, batch_size=8), run_dir=run_dir,
             should_stop=lambda: (run_dir / "last_state.pt").is_file())
    return run_dir


def test_resume_goes_through_the_queue_and_finishes_the_run(folder_dataset):
    run_dir = stopped_after_one_epoch(folder_dataset)
    assert state(run_dir) == "cancelled" and jobs.resumable(run_dir)
    with pytest.raises(jobs.JobError, match="no saved epoch"):
        jobs.resume_job(checkpoints_dir() / "20990101-000000-nothing-here")
    assert jobs.resume_job(run_dir, owner=OWNER) == run_dir
    assert jobs.resume_job(run_dir, owner=OWNER) == run_dir                # a second click
    assert jobs.latest_job(OWNER) == run_dir
    assert until_stopped(run_dir)["state"] == "done"
    history = runs.Run(run_dir).metrics()["history"]
    assert [h["epoch"] for h in history] == [1, 2]                   # continued, not restarted
    assert jobs.request_of(run_dir)["resume"] is True
    assert not jobs.resumable(run_dir)
    with pytest.raises(jobs.JobError):
        jobs.resume_job(run_dir)


def test_resume_waits_its_turn_and_counts_against_the_session(folder_dataset, monkeypatch):
    run_dir = stopped_after_one_epoch(folder_dataset)
    monkeypatch.setenv("COVER_LAB_PUBLIC", "1")
    running = jobs.start_job(slow(folder_dataset), owner=OTHER)
    assert jobs.resume_job(run_dir, owner=OWNER) == run_dir
    assert jobs.job_status(run_dir)["queue_position"] == 1
    with pytest.raises(jobs.JobLimitError):
        jobs.start_job(slow(folder_dataset, seed=1), owner=OWNER)
    assert jobs.cancel_job(run_dir) and state(run_dir) == "cancelled"
    assert jobs.resumable(run_dir)                              # its saved epoch is still there
    assert jobs.cancel_job(running)


def test_a_train_process_that_stops_before_training_marks_itself_and_moves_the_queue(
        folder_dataset, one_at_a_time):
    """The CLI side: a job whose ``train --resume`` fails at once (no run to resume) records
    why, and its end starts the next queued job, with no page polling."""
    broken = checkpoints_dir() / "20990101-000000-broken"
    broken.mkdir(parents=True)
    runs.Run(broken).write_request({"resume": True, "submitted": 0})
    runs.Run(broken).write_status("queued")
    sleeper = subprocess.Popen(["sleep", "60"])           # holds the only slot meanwhile
    try:
        holder = checkpoints_dir() / "20990101-000000-holder"
        holder.mkdir()
        runs.Run(holder).write_status("running", pid=sleeper.pid)
        after = jobs.start_job(quick(folder_dataset))
        assert [state(broken), state(after)] == ["queued", "queued"]
    finally:
        sleeper.kill()
        sleeper.wait()
    assert jobs.dispatch() == [broken]                       # a poll starts the oldest only
    status = until_stopped(broken, timeout_s=60)
    assert read_json(broken / "status.json")["state"] == "failed"         # written, not inferred
    assert "RunError" in status["error"] and "not a run folder" in status["error"]
    assert until_stopped(after)["state"] == "done"


def test_the_end_of_a_plain_cli_train_starts_a_queued_job(folder_dataset, one_at_a_time):
    sleeper = subprocess.Popen(["sleep", "60"])
    holder = checkpoints_dir() / "20990101-000000-holder"
    holder.mkdir(parents=True)
    runs.Run(holder).write_status("running", pid=sleeper.pid)
    waiting = jobs.start_job(quick(folder_dataset))
    sleeper.kill()
    sleeper.wait()
    done = subprocess.run([sys.executable, "-m", "cover_model", "train", "--data",
                           str(folder_dataset / "nowhere"), "--epochs", "1"],
                          cwd=PROJECT_ROOT, env=tuned_env(), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert state(waiting) in ("running", "done")


def test_the_predict_pages_demo_model_waits_in_the_queue_too(embedded_data, app_main, one_at_a_time):
    import ui_first_launch

    from .helpers import open_page
    ui_first_launch._demo_model_job.clear()          # cached per server: another test's job may be in it
    sleeper = subprocess.Popen(["sleep", "60"])              # holds the only slot meanwhile
    try:
        holder = checkpoints_dir() / "20990101-000000-holder"
        holder.mkdir(parents=True)
        runs.Run(holder).write_status("running", pid=sleeper.pid)
        predict = open_page("app_pages/predict.py")
        predict.button(key="train_demo_model").click().run()
        assert not predict.exception and not predict.error
        assert [p.proto.text for p in predict.get("progress")] == ["Queued: place 1 of 1"]
        assert jobs.owner_of(jobs.queued_jobs()[0]) is None          # the server's, no visitor's
    finally:
        sleeper.kill()
        sleeper.wait()
        ui_first_launch._demo_model_job.clear()          # a later test starts anew


def test_a_run_whose_config_is_damaged_is_not_resumed_with_a_traceback(folder_dataset):
    run_dir = stopped_after_one_epoch(folder_dataset)
    (run_dir / "config.json").write_text("{not json")
    with pytest.raises(jobs.JobError, match="cannot resume .*not a run folder"):
        jobs.resume_job(run_dir)
    assert state(run_dir) == "cancelled"


def test_a_job_runs_below_the_dashboard(folder_dataset):
    """Jobs are niced, so the server's pages come first on a small machine."""
    run_dir = jobs.start_job(slow(folder_dataset))
    pid = runs.Run(run_dir).status()["pid"]
    assert os.getpriority(os.PRIO_PROCESS, pid) >= os.getpriority(os.PRIO_PROCESS, 0) + jobs.JOB_NICENESS \
        or os.getpriority(os.PRIO_PROCESS, pid) == 19
    jobs.cancel_job(run_dir)
    assert until_stopped(run_dir, timeout_s=60)["state"] == "cancelled"
