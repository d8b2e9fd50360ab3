"""Faults in training jobs, with real processes: kill -9, cancel during a checkpoint
write, a full disk, and a dashboard server that dies while its job runs.

Faults are injected by a small runner (``RUNNER``) that patches one function of
cover_model, then runs the real ``python -m cover_model train`` entry point in
its own process.
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from cover_model.atomic_files import read_json, write_json
from cover_model.networks import jobs, runs, training
from cover_model.networks.config import TrainConfig
from cover_model.networks.predict import Predictor
from cover_model.paths import PROJECT_ROOT
from cover_model.runtime import tuned_env
from ui import ON_SERVER

from .helpers import wait_for

pytestmark = pytest.mark.slow           # scheduled first (tests/conftest.py)

RUNNER = '''
import errno, os, signal, sys, time
from contextlib import contextmanager
from pathlib import Path
from cover_model.networks import runs, training

fault, marker = sys.argv[1], Path(sys.argv[2])
atomic_write = runs.atomic_write


class Faulty:
    """Writes half of the second epoch's last.safetensors, then fails or stalls."""
    def __init__(self, fh):
        self.fh = fh

    def write(self, data):
        self.fh.write(data[:len(data) // 2])
        self.fh.flush()
        if fault == "disk-full":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        marker.touch()
        time.sleep(120)                      # "stall-write": SIGTERM arrives here
        self.fh.write(data[len(data) // 2:])


@contextmanager
def faulty_write(path, mode="wb"):
    with atomic_write(path, mode) as fh:
        second = Path(path).name == "last.safetensors" and Path(path).exists()
        yield Faulty(fh) if second and fault in ("disk-full", "stall-write") else fh


def kill_before_state(path, state, save_state=runs.save_state):
    if state["progress"]["epoch"] == 1:      # epoch 2's weights are written, its state is not
        os.kill(os.getpid(), signal.SIGKILL)
    save_state(path, state)


def slow_steps(epoch, step, *args, step_status=training._step_status):
    if (epoch, step) == (2, 3):              # mid-way through the third epoch: wait for the kill
        marker.touch()
        time.sleep(120)
    return step_status(epoch, step, *args)


runs.atomic_write = faulty_write
if fault == "kill-before-state":
    runs.save_state = kill_before_state
if fault == "slow-steps":
    training._step_status = slow_steps
from cover_model.cli import main
sys.exit(main(sys.argv[3:]))
'''


@pytest.fixture
def runner(tmp_path):
    path = tmp_path / "fault_runner.py"
    path.write_text(RUNNER)

    def start(fault: str, *train_args: str) -> tuple[subprocess.Popen, Path]:
        marker = tmp_path / f"{fault}.marker"
        env = tuned_env() | {"PYTHONPATH": str(PROJECT_ROOT)}
        process = subprocess.Popen([sys.executable, str(path), fault, str(marker), "train", *train_args],
                                   cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        return process, marker
    return start


def train_args(data: Path, run_dir: Path, *, epochs: int) -> list[str]:
    return ["--data", str(data), "--epochs", str(epochs), "--batch-size", "4",
            "--run-dir", str(run_dir), "--progress-file", str(run_dir / "progress.json")]


def resume(run_dir: Path, *, in_process: bool) -> None:
    """``train --resume`` as a user types it, in its own process; or, ``in_process``, the same
    resume in this one (a second process would cost a few CPU-seconds of start-up and test no
    more: the faulty process left only its run folder behind, which is all a resume reads)."""
    if in_process:
        training.main(runs.Run(run_dir).train_config(), run_dir=run_dir, resume=True)
        return
    done = subprocess.run([sys.executable, "-m", "cover_model", "train", "--resume", str(run_dir)],
                          cwd=PROJECT_ROOT, env=tuned_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def assert_usable(run_dir: Path, *, n_epochs_saved: int) -> None:
    """Every file loads, no temp file is left, and the saved state matches the history."""
    assert not [p.name for p in run_dir.iterdir() if p.name.startswith(".")], "temp files left"
    for name in ("best", "last"):
        runs.load_weights(run_dir / f"{name}.safetensors")
    state = runs.load_state(run_dir / "last_state.pt")
    assert state["progress"]["epoch"] + 1 == n_epochs_saved == len(state["progress"]["history"])
    assert Predictor.from_run(run_dir).top_k(torch.rand(40, 40, 3).mul(255).byte().numpy())


def assert_resumes_to_the_end(run_dir: Path, *, epochs: int, in_process: bool = True) -> None:
    resume(run_dir, in_process=in_process)
    assert runs.Run(run_dir).status()["state"] == "done"
    history = runs.load_state(run_dir / "last_state.pt")["progress"]["history"]
    assert [h["epoch"] for h in history] == list(range(1, epochs + 1))


def test_kill_9_mid_epoch_keeps_the_best_weights_and_resume_continues(runner, folder_dataset, tmp_path):
    run_dir = tmp_path / "run"
    process, marker = runner("slow-steps", *train_args(folder_dataset, run_dir, epochs=4))
    wait_for(lambda: marker.exists() or process.poll() is not None, timeout_s=120)
    process.kill()                                          # SIGKILL, mid-way through epoch 3
    process.communicate()
    status = jobs.job_status(run_dir)
    assert status["state"] == "failed" and "the training process died" in status["error"]
    assert_usable(run_dir, n_epochs_saved=2)
    assert_resumes_to_the_end(run_dir, epochs=4)


def test_a_kill_between_weights_and_state_resumes_as_if_never_killed(runner, folder_dataset, tmp_path):
    killed, reference = tmp_path / "killed", tmp_path / "reference"
    first, _ = runner("kill-before-state", *train_args(folder_dataset, killed, epochs=3))
    training.main(TrainConfig(data=str(folder_dataset), epochs=3, batch_size=4), run_dir=reference)
    assert first.wait(timeout=180) == -signal.SIGKILL
    assert_usable(killed, n_epochs_saved=1)
    assert_resumes_to_the_end(killed, epochs=3)
    # The same seed and data: resuming must give exactly the uninterrupted run's weights
    # (pairing epoch 2's weights with epoch 1's state would train epoch 2 twice).
    got, want = (runs.load_weights(r / "last.safetensors") for r in (killed, reference))
    assert all(torch.allclose(got[k], want[k], atol=1e-6) for k in want)


def test_cancel_during_a_checkpoint_write_never_leaves_a_half_file_to_load(runner, folder_dataset,
                                                                          tmp_path):
    run_dir = tmp_path / "run"
    process, marker = runner("stall-write", *train_args(folder_dataset, run_dir, epochs=3))
    wait_for(lambda: marker.exists() or process.poll() is not None, timeout_s=120)
    assert process.poll() is None, process.communicate()[1]
    half = [p for p in run_dir.iterdir() if p.name.startswith(".last.safetensors")]
    assert len(half) == 1                                   # the half-written temp file
    before = (run_dir / "last.safetensors").read_bytes()
    Predictor.from_run(run_dir, weights="last")             # meanwhile: epoch 1's, complete
    process.send_signal(signal.SIGTERM)                     # the Cancel button
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "Traceback" not in err, err
    assert runs.Run(run_dir).status()["state"] == "cancelled"
    assert (run_dir / "last.safetensors").read_bytes() == before
    assert_usable(run_dir, n_epochs_saved=1)
    assert_resumes_to_the_end(run_dir, epochs=3)


def test_a_full_disk_is_one_clear_error_and_the_run_stays_resumable(runner, folder_dataset, tmp_path):
    run_dir = tmp_path / "run"
    process, _ = runner("disk-full", *train_args(folder_dataset, run_dir, epochs=3))
    out, err = process.communicate(timeout=180)
    assert process.returncode == 1 and "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors == [f"error: No space left on device writing {run_dir / 'last.safetensors'}; the "
                      f"epochs saved before are intact: free some space, then python -m cover_model "
                      f"train --resume {run_dir}"]
    status = jobs.job_status(run_dir)
    assert status["state"] == "failed" and "No space left on device" in status["error"]
    assert_usable(run_dir, n_epochs_saved=1)
    assert_resumes_to_the_end(run_dir, epochs=3, in_process=False)    # the command the error names


SERVER = '''
import sys, time
from cover_model.networks import jobs
from cover_model.networks.config import TrainConfig
print(jobs.start_job(TrainConfig(data=sys.argv[1], epochs=300, batch_size=2)), flush=True)
time.sleep(600)
'''


def test_a_job_outlives_its_dashboard_server_and_the_next_one_finds_it(folder_dataset, monkeypatch):
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])   # see test_app.py
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(folder_dataset)], cwd=PROJECT_ROOT,
                              env=tuned_env(), stdout=subprocess.PIPE, text=True)
    run_dir = Path(server.stdout.readline().strip())
    try:
        wait_for(lambda: (jobs.job_status(run_dir)["progress"] or {}).get("epoch", 0) >= 2,
                 timeout_s=120)
        server.kill()                                        # the server dies, not its job
        server.wait()
        assert jobs.running_jobs() == [run_dir]
        step = jobs.job_status(run_dir)["progress"]["epoch"]
        wait_for(lambda: jobs.job_status(run_dir)["progress"]["epoch"] > step, timeout_s=60)

        at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)   # a new server
        at.session_state["dataset_kind"] = ON_SERVER
        at.session_state["dataset_path"] = str(folder_dataset)
        at.switch_page("app_pages/train.py").run()
        assert not at.exception
        assert any(run_dir.name in md.value for md in at.markdown)          # the live panel
        at.button(key="train_cancel").click().run()
        status = wait_for(lambda: (s := jobs.job_status(run_dir))["state"] != "running" and s,
                          timeout_s=60)
        assert status["state"] == "cancelled"
    finally:
        server.kill()
        for job in jobs.running_jobs():
            jobs.cancel_job(job)


def test_a_dead_job_whose_pid_was_reused_is_reported_orphaned(folder_dataset):
    cfg = TrainConfig(data=str(folder_dataset), epochs=300, batch_size=2)
    run_dir = jobs.start_job(cfg)
    os.kill(runs.Run(run_dir).status()["pid"], signal.SIGKILL)
    # After a restart another program holds the job's pid: simulate by handing the
    # job's status to a live process that is not the job, started a few clock ticks
    # later (start times count in 1/100 s).
    time.sleep(0.05)
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        status = read_json(run_dir / "status.json")
        write_json(run_dir / "status.json", status | {"pid": stranger.pid})
        status = jobs.job_status(run_dir)
        assert status["state"] == "failed" and status["error"].startswith("orphaned")
        assert jobs.running_jobs() == []
        assert jobs.start_job(cfg) != run_dir                 # the same settings can run again
    finally:
        stranger.kill()
        for job in jobs.running_jobs():
            jobs.cancel_job(job)
