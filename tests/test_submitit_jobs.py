"""Training jobs through submitit's local executor: real jobs, the same run folders as local ones.

No cluster is reachable from here: ``COVER_LAB_SUBMITIT_CLUSTER=local`` makes submitit's
AutoExecutor use its local executor even where ``sbatch`` exists, so these tests run the
code path a SLURM job runs (pickled TrainingJob, submitit's JobEnvironment, its signal
handling) on this machine.
"""
import os
import re
import signal
from pathlib import Path
from types import SimpleNamespace

import pytest

from cover_model.cli import main
from cover_model.data.dataset import load_dataset
from cover_model.data.splits import assign_splits
from cover_model.networks import cluster, jobs, runs
from cover_model.networks.config import EXECUTOR_ENV, PRESETS, ExecutorConfig, TrainConfig
from cover_model.report.config import make_config, network_plans
from cover_model.report.networks import network_jobs, network_step
from cover_model.report.runner import ReportContext, run_steps
from cover_model.synth import generate

from .helpers import open_page, wait_for

pytestmark = pytest.mark.slow           # scheduled first (tests/conftest.py)

SUBMITIT_ONLY = {"submitit", "submitted.json", "log.txt"}     # log.txt: a local job's output


@pytest.fixture(scope="module")
def covers(tmp_path_factory):
    """40 embedded synthetic covers (4 per genre), made once for the module."""
    return generate(tmp_path_factory.mktemp("synth") / "covers", n_per_genre=4, size_px=64)


@pytest.fixture(autouse=True)
def local_submitit(monkeypatch):
    monkeypatch.setenv(cluster.CLUSTER_ENV, "local")
    yield
    for run_dir in jobs.running_jobs():          # a failed test leaves no job behind
        jobs.cancel_job(run_dir)


def smoke(covers, **changes) -> TrainConfig:
    return TrainConfig(**{**PRESETS["smoke"], "data": str(covers), "device": "cpu", **changes})


def through_submitit(cfg, **resources):
    return jobs.start_job(cfg, executor=ExecutorConfig(executor="submitit", **resources))


def finished(run_dir, timeout_s=150) -> dict:
    return wait_for(lambda: (s := jobs.job_status(run_dir))["state"] not in jobs.ACTIVE and s,
                    timeout_s=timeout_s)


def test_a_submitit_job_writes_the_run_folder_a_local_job_writes(covers, capsys):
    local = jobs.start_job(smoke(covers, seed=1))
    # the CLI submits and follows the job until it ends, meanwhile the local job runs
    assert main(["train", "--preset", "smoke", "--data", str(covers), "--device", "cpu",
                 "--seed", "2", "--executor", "submitit"]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"running as submitit job \d+ \(local\)", printed), printed
    submitted = Path(re.search(r"run written to (\S+)", printed).group(1))
    by_local, by_submitit = finished(local), finished(submitted)
    assert by_local["state"] == by_submitit["state"] == "done", (by_local, by_submitit)
    assert by_local["where"].startswith("local process ")
    assert by_submitit["where"] == f"submitit job {by_submitit['job_id']} (local)"
    assert by_submitit["progress"]["epoch"] == 1 == by_submitit["fraction"]
    files = {p.name for p in local.iterdir()} - SUBMITIT_ONLY
    assert files == {p.name for p in submitted.iterdir()} - SUBMITIT_ONLY
    assert runs.Run(submitted).metrics().keys() == runs.Run(local).metrics().keys()
    assert runs.Run(submitted).load_model() is not None


def test_a_two_task_job_trains_one_run_with_ddp(covers):
    run_dir = through_submitit(smoke(covers, epochs=2, batch_size=4), tasks_per_node=2)
    status = finished(run_dir)
    assert status["state"] == "done", status
    run = runs.Run(run_dir)
    # each epoch saw every training cover once, split over the two processes
    assert [h["n_seen"] for h in run.history()] == [run.config()["n_train"]] * 2
    assert "global_rank=1(2)" in (run.submitit_folder / f"{status['job_id']}_1_log.out").read_text()


def test_a_preempted_job_resumes_from_its_last_epoch_and_cancel_stops_it(covers):
    run_dir = through_submitit(smoke(covers, epochs=500, batch_size=2))
    run = runs.Run(run_dir)
    wait_for(lambda: len(run.history()) >= 1 and run.status().get("pid"), timeout_s=120)
    first_pid = run.status()["pid"]
    os.kill(first_pid, signal.SIGUSR2)           # what SLURM sends before preempting a job
    wait_for(lambda: run.status().get("pid") not in (None, first_pid), timeout_s=120)
    n_before = len(run.history())
    wait_for(lambda: len(run.history()) >= n_before + 1, timeout_s=120)
    status = jobs.job_status(run_dir)
    assert status["state"] == "running" and status["requeued"] == 1
    epochs = [h["epoch"] for h in run.history()]
    assert epochs == list(range(1, len(epochs) + 1))          # went on, did not start over
    assert "epoch 1/500" not in cluster.log_tail(run, status, n_lines=4)

    assert jobs.cancel_job(run_dir)
    status = finished(run_dir, timeout_s=60)
    assert status["state"] == "cancelled"
    assert run.has_weights("last") and run.can_resume()
    assert jobs.resumable(run_dir)


def test_a_job_refuses_a_run_folder_it_cannot_see(covers, tmp_path):
    run = runs.Run(tmp_path / "elsewhere")                      # never marked at submit
    executor = cluster.make_executor(tmp_path / "logs", ExecutorConfig(executor="submitit"))
    job = executor.submit(cluster.TrainingJob(run.path, token="abc"))
    with pytest.raises(Exception, match="is not visible from node .*filesystem all nodes share"):
        job.result()


def test_the_train_page_shows_cluster_settings_only_where_jobs_go_through_submitit(
        embedded_data, app_main, monkeypatch):
    keys = lambda at: {w.key for w in at.sidebar.number_input}         # noqa: E731
    assert "cluster_tasks_per_node" not in keys(open_page("app_pages/train.py"))
    monkeypatch.setenv(EXECUTOR_ENV, "submitit")
    at = open_page("app_pages/train.py")
    at.sidebar.number_input(key="cluster_tasks_per_node").set_value(2).run()
    assert not at.exception
    assert any("As a submitit job (local): 1 node(s) x 2 process(es)" in c.value for c in at.caption)


def test_the_reports_network_steps_train_at_once_as_jobs_and_are_gathered(covers, tmp_path):
    cfg = make_config(quick=True, lite_models=(), best=False, parallel_networks=True)
    plans = network_plans(cfg)                          # the paper's CNN and AlexNet, 1 epoch
    dataset = assign_splits(load_dataset(str(covers)), scheme="auto", seed=0)
    ctx = ReportContext(dataset=dataset, data=str(covers), cfg=cfg, out_dir=tmp_path / "report",
                        figures=None, say=lambda line: None,
                        executor=ExecutorConfig(executor="submitit"))
    steps = [network_step(plan, ctx) for plan in plans]
    with network_jobs(ctx, plans):
        started = {key: jobs.job_status(run_dir) for key, (run_dir, _) in ctx.network_jobs.items()}
        timings = run_steps(steps, ctx)
    assert [t.action for t in timings] == ["ran", "ran"], [ctx.records[p.key] for p in plans]
    assert all(s["state"] == "running" and s["job_id"] for s in started.values())   # both at once
    for plan in plans:
        record = ctx.records[plan.key]
        assert record["test"] and not record["reused"]
        assert record["computed_s"] == record["train_s"]       # its training, not the wait
        assert record["run_dir"] == str(ctx.network_jobs[plan.key][0].resolve())
    # the next report skips them, as after a report that trained them one after another
    again = ReportContext(dataset=dataset, data=str(covers), cfg=cfg, out_dir=tmp_path / "report",
                          figures=None, say=lambda line: None)
    assert [t.action for t in run_steps(steps, again)] == ["skipped", "skipped"]


@pytest.mark.parametrize("slurm_state, cancelled, state", [
    ("PENDING", False, "running"), ("NODE_FAIL", False, "failed"),
    ("CANCELLED by 1000", True, "cancelled")])
def test_a_slurm_job_reads_as_sacct_says_once_it_has_ended(tmp_path, monkeypatch, slurm_state,
                                                           cancelled, state):
    run = runs.Run(tmp_path / "run")
    run.path.mkdir()
    run.write_status("running", executor="submitit", cluster="slurm", job_id="42")
    if cancelled:
        run.request_cancel()
    monkeypatch.setattr(cluster, "_job", lambda run, status: SimpleNamespace(state=slurm_state))
    status = jobs.job_status(run.path)
    assert status["state"] == state
    assert status["where"] == "submitit job 42 (slurm" + (", PENDING)" if state == "running" else ")")
    if state == "failed":
        assert "ended as NODE_FAIL" in status["error"] and "all nodes share" in status["error"]
