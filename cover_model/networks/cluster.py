"""Training jobs through submitit: a SLURM cluster when one is there, its local executor otherwise.

    python -m cover_model train --preset smoke --executor submitit                  # one CPU job
    python -m cover_model train --preset smoke --executor submitit --tasks-per-node 2  # DDP, 2 tasks
    python -m cover_model train --preset paper-cnn --executor submitit \\
        --partition gpu --nodes 2 --tasks-per-node 4 --gpus-per-node 4                # 2 x 4 GPUs
    COVER_LAB_EXECUTOR=submitit streamlit run app.py      # the Train page's jobs, with its settings

The job queue (:mod:`.jobs`) decides when a job starts, whichever executor runs it;
:func:`submit` hands a queued job to ``submitit.AutoExecutor`` (SLURM where ``sbatch``
exists, one machine's processes otherwise). The submitted callable, :class:`TrainingJob`,
runs the very ``train`` command line a local job's process runs (``Run.train_args``),
so status, progress, metrics and weights land in the same run folder through
:class:`~cover_model.networks.runs.Run`. submitit starts ``nodes x tasks_per_node``
processes; each exports its rank and world size from submitit's ``JobEnvironment`` and
training's DDP set-up reads them as it reads torchrun's.

A preempted or timed-out job gets submitit's signal (USR2): :meth:`TrainingJob.checkpoint`
resubmits it as ``train --resume`` of its run folder, so it goes on from its last saved
epoch. Run folders must be on a filesystem every node shares: the job reads back a mark
written at submit time and refuses, naming the node, when it cannot.
"""
from __future__ import annotations

import importlib
import os
import secrets
import signal
import socket
from pathlib import Path

import submitit
from submitit.core.utils import JobPaths
from submitit.helpers import Checkpointable, DelayedSubmission, TorchDistributedEnvironment

from . import runs
from .config import ExecutorConfig, default_executor

ENTRY_POINT = "cover_model.cli"              # what a task runs: the train command line
CLUSTER_ENV = "COVER_LAB_SUBMITIT_CLUSTER"   # force submitit's backend (slurm, local); default: auto
# SLURM states after which a job runs no more (sacct; submitit may add "by <uid>")
ENDED = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
         "BOOT_FAIL", "DEADLINE", "REVOKED")

_SUBMITTED: dict[str, object] = {}            # run folder -> submitit Job, in this process


class RunFolderError(RuntimeError):
    """A job's run folder is not the one it was submitted with (not shared, or read-only)."""


def cluster_configured() -> bool:
    """Whether jobs go through submitit here (the Train page then shows its settings)."""
    return default_executor() == "submitit"


def backend() -> str:
    """Which submitit backend a job goes to here: ``slurm`` where ``sbatch`` exists, else
    ``local`` (``COVER_LAB_SUBMITIT_CLUSTER`` forces one)."""
    return os.environ.get(CLUSTER_ENV) or submitit.AutoExecutor.which()


def make_executor(folder: Path, settings: ExecutorConfig):
    """A ``submitit.AutoExecutor`` writing into ``folder``, with ``settings``' resources."""
    executor = submitit.AutoExecutor(folder=folder, cluster=backend())
    parameters = {"name": "cover-lab-train", "timeout_min": settings.timeout_min,
                  "nodes": settings.nodes, "tasks_per_node": settings.tasks_per_node,
                  "gpus_per_node": settings.gpus_per_node, "cpus_per_task": settings.cpus_per_task,
                  "mem_gb": settings.mem_gb, "stderr_to_stdout": True}
    if settings.partition:
        parameters["slurm_partition"] = settings.partition
    executor.update_parameters(**parameters)
    return executor


def submit(run: runs.Run, settings: ExecutorConfig) -> dict:
    """Submit the queued job of ``run``; what its status records of where it runs.

    Returns
    -------
    dict
        ``executor`` (submitit), ``cluster`` (slurm, local, ...) and ``job_id`` (on the
        local executor, the pid of submitit's controller process).
    """
    token = secrets.token_hex(8)
    run.write_submit_mark({"token": token, "host": socket.gethostname()})
    executor = make_executor(run.submitit_folder, settings)
    job = executor.submit(TrainingJob(run.path, token))
    _SUBMITTED[str(run.path)] = job
    return {"executor": "submitit", "cluster": executor.cluster, "job_id": str(job.job_id)}


def cancel(run: runs.Run, status: dict) -> bool:
    """Cancel the submitit job of ``run`` (its cancel mark is already left): scancel on
    SLURM, SIGINT to the controller on the local executor (what ``LocalJob.cancel`` sends)."""
    job = _SUBMITTED.get(str(run.path))
    if job is None and status.get("cluster") == "local":
        try:
            os.kill(int(status["job_id"]), signal.SIGINT)
        except ProcessLookupError:
            return False
        return True
    (job or _job(run, status)).cancel(check=False)
    return True


def refine_status(run: runs.Run, status: dict) -> dict:
    """A cluster job recorded running whose SLURM job has ended reads as cancelled (its
    cancel mark) or failed; a local one is watched by its controller's pid (Run.status)."""
    if status["state"] != "running" or status.get("cluster") == "local":
        return status
    try:
        state = _job(run, status).state
    except Exception:                   # noqa: BLE001 - sacct unreachable: trust the record
        return status
    if not state.upper().startswith(ENDED):
        return status | {"cluster_state": state}       # PENDING in SLURM's queue, RUNNING
    if run.cancel_requested():
        return status | {"state": "cancelled"}
    return status | {"state": "failed", "error": status.get("error") or (
        f"cluster job {status['job_id']} ended as {state} without recording why; see its log "
        f"in {run.submitit_folder} (is the run folder on a filesystem all nodes share?)")}


def log_tail(run: runs.Run, status: dict, n_lines: int = 12) -> str:
    """The last lines of the first task's log (stdout and stderr), '' without one."""
    path = JobPaths(run.submitit_folder, status["job_id"], task_id=0).stdout
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n_lines:])
    except OSError:
        return ""


def _job(run: runs.Run, status: dict):
    return submitit.SlurmJob(run.submitit_folder, status["job_id"])


def check_visible(run: runs.Run, token: str, host: str) -> None:
    """Refuse to train into a run folder that is not the one submitted: another node's
    private copy, a missing folder, or one it cannot write.

    Raises
    ------
    RunFolderError
    """
    mark = run.submit_mark() or {}
    if mark.get("token") != token or not os.access(run.path, os.W_OK):
        raise RunFolderError(
            f"run folder {run.path} is not visible from node {host} (submitted from "
            f"{mark.get('host', 'another machine')}): put runs on a filesystem all nodes share "
            "(COVER_LAB_CHECKPOINTS)")


class TrainingJob(Checkpointable):
    """What a submitit job runs: ``train`` of one run folder, resubmitted when preempted.

    Parameters
    ----------
    run_dir : path
        The job's run folder (its request says what to train).
    token : str
        The submit mark's token, read back by every task (:func:`check_visible`).
    resume : bool, optional
        Continue the run from its last epoch; None = as its request says.
    """

    def __init__(self, run_dir, token: str, resume: bool | None = None):
        self.run_dir, self.token, self.resume = str(run_dir), token, resume

    def __call__(self) -> int:
        env = submitit.JobEnvironment()
        run = runs.Run(self.run_dir)
        check_visible(run, self.token, env.hostname)
        if env.num_tasks > 1:           # RANK, WORLD_SIZE, MASTER_ADDR/PORT, as torchrun sets them
            TorchDistributedEnvironment().export(
                set_cuda_visible_devices=False, overwrite=True)   # training picks cuda:LOCAL_RANK
        # The package's entry point, by name, as a local job's ``python -m cover_model`` names
        # it: the train command dispatches the next job, which submits through this module.
        parser = importlib.import_module(ENTRY_POINT).build_parser(only=("train",))
        args = parser.parse_args(run.train_args(resume=self.resume))
        return args.run(args)

    def checkpoint(self, *args, **kwargs):
        """Preempted or timed out (rank 0, in submitit's signal handler): go on from the last
        saved epoch, or from the start in the same folder when none is saved yet."""
        run = runs.Run(self.run_dir)
        run.write_status("running", requeued=int(run.status().get("requeued") or 0) + 1)
        return DelayedSubmission(TrainingJob(self.run_dir, self.token, resume=run.can_resume()))
