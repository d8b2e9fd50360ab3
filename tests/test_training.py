"""Training: a real run folder, progress, cancel and resume, linear probes, DDP."""
import contextlib
import dataclasses
import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from cover_model.networks import runs
from cover_model.networks.config import TrainConfig
from cover_model.networks.data import augment, shard_order
from cover_model.networks.training import evaluate_run, main
from cover_model.paths import PROJECT_ROOT
from cover_model.runtime import signals_held, tuned_env

pytestmark = pytest.mark.slow           # scheduled first (tests/conftest.py)


def tiny(folder, **overrides) -> TrainConfig:
    return TrainConfig(**{"data": str(folder), "epochs": 2, "batch_size": 4} | overrides)


def test_a_run_folder_holds_everything(folder_dataset):
    seen = []
    run_dir = main(tiny(folder_dataset), progress=seen.append)
    assert {"config.json", "metrics.json", "best.safetensors", "last.safetensors",
            "last_state.pt", "status.json", "predictions.csv"} <= {p.name for p in run_dir.iterdir()}
    config = runs.Run(run_dir).config()
    assert config["class_names"] == ["ambient", "jazz", "metal"] and config["input_px"] == 32
    metrics = runs.Run(run_dir).metrics()
    assert [h["epoch"] for h in metrics["history"]] == [1, 2]
    assert all(h["n_seen"] == config["n_train"] for h in metrics["history"])
    test = metrics["test"]
    assert len(test["per_class_accuracy"]) == 3 and np.array(test["confusion"]).sum() == test["n"]
    assert 0 <= test["balanced_accuracy"] <= 1 and test["top_k"] is not None
    assert runs.Run(run_dir).status()["state"] == "done"
    assert seen[-1]["epoch"] == 2 and seen[-1]["step"] == seen[-1]["steps"]
    predictions = runs.Run(run_dir).predictions()
    assert len(predictions) == test["n"] and set(predictions["top1"]) <= set(config["class_names"])


def test_cancel_keeps_the_last_epoch_and_resume_finishes(folder_dataset):
    calls = {"n": 0}
    steps_per_epoch = 5                       # 20 training covers, batch 4

    def stop_in_second_epoch():
        calls["n"] += 1
        return calls["n"] > steps_per_epoch + 1

    run_dir = runs.Run.create({"arch": "custom"}).path
    with pytest.raises(KeyboardInterrupt):
        main(tiny(folder_dataset, epochs=3), run_dir=run_dir, should_stop=stop_in_second_epoch)
    assert runs.Run(run_dir).status()["state"] == "cancelled"
    assert [h["epoch"] for h in runs.Run(run_dir).metrics()["history"]] == [1]
    main(tiny(folder_dataset, epochs=3), run_dir=run_dir, resume=True)
    metrics = runs.Run(run_dir).metrics()
    assert [h["epoch"] for h in metrics["history"]] == [1, 2, 3] and "test" in metrics
    assert runs.Run(run_dir).status()["state"] == "done"


def test_a_preemption_during_a_checkpoint_write_waits_for_the_write_then_requeues(
        folder_dataset, monkeypatch):
    """submitit's USR2 handler exits (SystemExit) to requeue a preempted job. Landing inside
    torch.save, that exit became torch's RuntimeError about its zip file: the job was marked
    failed and never requeued (seen once in a full run of the suite)."""
    def requeue(signum, frame):               # what submitit's local executor does on USR2
        sys.exit(144)

    def state_write_preempted(path, mode="wb", atomic_write=runs.atomic_write):
        class Preempted:                      # the signal comes in the middle of the write
            def __init__(self, fh):
                self.fh, self.n_writes = fh, 0

            def write(self, data):
                self.n_writes += 1
                if self.n_writes == 3:
                    os.kill(os.getpid(), signal.SIGUSR2)
                return self.fh.write(data)

            def __getattr__(self, name):
                return getattr(self.fh, name)
        with atomic_write(path, mode) as fh:
            yield Preempted(fh) if Path(path).name == "last_state.pt" else fh

    run_dir = runs.Run.create({"arch": "custom"}).path
    monkeypatch.setattr(runs, "atomic_write", contextlib.contextmanager(state_write_preempted))
    previous = signal.signal(signal.SIGUSR2, requeue)
    try:
        with pytest.raises(SystemExit) as exited:
            main(tiny(folder_dataset, epochs=3), run_dir=run_dir)
    finally:
        signal.signal(signal.SIGUSR2, previous)
    assert exited.value.code == 144
    assert runs.Run(run_dir).status()["state"] == "running"      # the requeued job goes on
    assert runs.load_state(run_dir / "last_state.pt")["progress"]["epoch"] == 0   # epoch 1, whole
    assert not [p.name for p in run_dir.iterdir() if p.name.startswith(".")], "temp files left"


def test_held_signals_run_once_when_the_block_ends_and_their_handler_comes_back():
    seen = []

    def handler(signum, frame):
        seen.append(signum)
    previous = signal.signal(signal.SIGUSR2, handler)
    try:
        with signals_held(signal.SIGUSR2, signal.SIGUSR1):      # USR1: default action, not held
            os.kill(os.getpid(), signal.SIGUSR2)
            os.kill(os.getpid(), signal.SIGUSR2)
            assert seen == []
        assert seen == [signal.SIGUSR2]
        assert signal.getsignal(signal.SIGUSR2) is handler
        assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGUSR2, previous)


def test_a_resume_refuses_a_tampered_state_before_any_other_work(tmp_path):
    """Before a cover is read or the network built (on 5,000 covers, minutes): here the
    covers are not even there, and the answer is still about the state."""
    run_dir = runs.Run.create({"arch": "custom"}).path
    (run_dir / "last_state.pt").write_bytes(pickle.dumps({"optimizer": os.system}))
    with pytest.raises(runs.RunError, match="last_state.pt: refused, not a tensors-only checkpoint"):
        main(tiny(tmp_path / "no-covers-here"), run_dir=run_dir, resume=True)


def test_a_cancel_mark_stops_the_run_even_if_its_signal_was_lost(folder_dataset):
    """A Cancel whose SIGTERM never arrived (the job was still starting up) stops the run at
    its next step, and it reads cancelled, not done; a mark older than the process does not."""
    run_dir = runs.Run.create({"arch": "custom"}).path
    calls = {"n": 0}

    def cancel_in_second_epoch():               # the Cancel button's mark, with no signal
        calls["n"] += 1
        if calls["n"] == 7:
            runs.Run(run_dir).request_cancel()
        return False

    with pytest.raises(KeyboardInterrupt):
        main(tiny(folder_dataset, epochs=50), run_dir=run_dir, should_stop=cancel_in_second_epoch)
    assert runs.Run(run_dir).status()["state"] == "cancelled"
    assert [h["epoch"] for h in runs.Run(run_dir).metrics()["history"]] == [1]
    stale = runs.Run(run_dir).path / "cancel-requested"
    os.utime(stale, (1.0, 1.0))                 # left by an earlier process of the run
    main(tiny(folder_dataset, epochs=3), run_dir=run_dir, resume=True)
    assert runs.Run(run_dir).status()["state"] == "done"


def test_an_error_while_a_cancel_stops_the_run_reads_cancelled(folder_dataset):
    """The SIGTERM's KeyboardInterrupt can come back out of a library as another error."""
    run_dir = runs.Run.create({"arch": "custom"}).path

    def cancel_then_break():
        runs.Run(run_dir).request_cancel()
        raise RuntimeError("DataLoader worker exited unexpectedly")

    with pytest.raises(RuntimeError):
        main(tiny(folder_dataset, epochs=3), run_dir=run_dir, should_stop=cancel_then_break)
    assert runs.Run(run_dir).status()["state"] == "cancelled"


def test_linear_probe_trains_the_head_on_cached_embeddings(folder_dataset, monkeypatch):
    cfg = tiny(folder_dataset, arch="efficientnet_lite0", mode="linear", epochs=2, batch_size=8,
               optimizer="adamw", lr=0.01)
    first = main(cfg)
    assert runs.Run(first).config()["input_px"] == 224
    from cover_model.paths import cache_dir
    assert len(list((cache_dir() / "embeddings").glob("*.npy"))) == 3
    from cover_model.networks.models import CoverNet
    monkeypatch.setattr(CoverNet, "embed", lambda *a, **k: pytest.fail("re-embedded covers"))
    second = main(cfg)
    assert runs.Run(second).metrics()["test"]["n"] == 5


def test_finetune_updates_the_backbone(folder_dataset):
    cfg = tiny(folder_dataset, arch="efficientnet_lite0", mode="finetune", size_px=64, epochs=1,
               batch_size=10, optimizer="adamw", lr=0.001, flip=True)
    run_dir = main(cfg)
    from cover_model.networks.models import build_model
    start = build_model("efficientnet_lite0", 3, input_px=64, mode="finetune").state_dict()
    trained = runs.load_weights(run_dir / "last.safetensors")
    key = "backbone.model._conv_stem.weight"
    assert not torch.equal(start[key], trained[key])


def test_evaluate_run_rescores_and_writes_a_summary(folder_dataset):
    run_dir = main(tiny(folder_dataset, epochs=1))
    summary = evaluate_run(run_dir)
    assert summary["accuracy"] == runs.Run(run_dir).metrics()["test"]["accuracy"]
    assert (run_dir / f"evaluation-{summary['dataset_fingerprint']}.json").is_file()


@pytest.mark.parametrize("bad, message", [
    ({"lr": -0.1}, "lr must be"), ({"batch_size": 0}, "batch_size"), ({"size_px": 1}, "size_px"),
    ({"epochs": 0}, "epochs"), ({"arch": "custom", "mode": "linear"}, "scratch"),
])
def test_out_of_range_settings_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**bad)


def test_augment_keeps_shapes_and_range():
    images = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    cfg = TrainConfig(flip=True, crop=True, color_jitter=0.4)
    out = augment(images, cfg, generator=torch.Generator().manual_seed(0))
    assert out.shape == (6, 3, 32, 32) and out.dtype == torch.float32
    assert 0 <= out.min() and out.max() <= 1
    plain = augment(images, TrainConfig(), generator=torch.Generator())
    assert torch.allclose(plain, images.float() / 255)


def test_shards_cover_every_item_once_per_epoch():
    for world in (1, 2, 3):
        shards = [shard_order(23, epoch=4, seed=1, rank=r, world=world) for r in range(world)]
        assert sorted(np.concatenate(shards).tolist()) == list(range(23))
    assert not np.array_equal(shard_order(23, epoch=0, seed=1), shard_order(23, epoch=1, seed=1))


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torchrun_two_cpu_processes_write_one_run(folder_dataset, tmp_path):
    """DistributedDataParallel with gloo: one run folder; each epoch sees the data once."""
    env = tuned_env() | {"COVER_LAB_CHECKPOINTS": str(tmp_path / "ckpt"), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
               f"--master_port={free_port()}",
               "-m", "cover_model", "train", "--data", str(folder_dataset), "--epochs", "2",
               "--batch-size", "3"]
    result = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    run_dirs = [d for d in (tmp_path / "ckpt").iterdir() if d.is_dir()]
    assert len(run_dirs) == 1
    assert result.stdout.count("run written to") == 1           # rank 0 reports, alone
    metrics = runs.Run(run_dirs[0]).metrics()
    config = runs.Run(run_dirs[0]).config()
    assert [h["n_seen"] for h in metrics["history"]] == [config["n_train"]] * 2
    assert runs.Run(run_dirs[0]).status()["state"] == "done"


def test_the_paper_cnn_learns_the_embedded_covers(embedded_data):
    """Smoke run on the synthetic covers: a few epochs beat chance clearly."""
    run_dir = main(TrainConfig(epochs=3, batch_size=10))
    test = runs.Run(run_dir).metrics()["test"]
    assert test["n"] == 150 and test["accuracy"] > 0.2          # chance: 0.1


def test_runs_tables(folder_dataset):
    from cover_model.networks.tables import per_genre_table, runs_table
    run_dir = main(tiny(folder_dataset, epochs=1))
    table = runs_table([run_dir])
    assert table.loc[0, "state"] == "done" and table.loc[0, "model"] == "custom scratch 32px"
    genres = per_genre_table([run_dir])
    assert list(genres.index) == ["ambient", "jazz", "metal", "overall", "balanced"]


def test_small_cpu_steps_use_one_thread_and_give_the_others_back(folder_dataset):
    torch.set_num_threads(2)
    during = []                                # steps of the epochs, not the downsizing before
    main(tiny(folder_dataset, epochs=1),
         progress=lambda s: "epoch" in s and during.append(torch.get_num_threads()))
    assert set(during) == {1} and torch.get_num_threads() == 2
    big = []                                   # 64 covers of 64 px: over the threshold
    main(tiny(folder_dataset, epochs=1, batch_size=64, size_px=64),
         progress=lambda s: "epoch" in s and big.append(torch.get_num_threads()))
    assert set(big) == {2}


def test_downsizing_and_embedding_report_progress_before_the_epochs(folder_dataset):
    cfg = tiny(folder_dataset, arch="efficientnet_lite0", mode="linear", size_px=64, epochs=1,
               batch_size=8, optimizer="adamw", lr=0.01)
    for attempt in ("computed", "cached"):
        seen = []
        main(cfg, progress=seen.append)
        stages = [s for s in seen if "epoch" not in s]
        assert [s["stage"] for s in stages][0] == "downsizing covers"
        assert seen.index(stages[-1]) < next(i for i, s in enumerate(seen) if "epoch" in s)
        for stage in ("downsizing covers", "embedding covers"):
            last = [s for s in stages if s["stage"] == stage][-1]
            assert last["step"] == last["steps"] == 30, (attempt, last)
            assert last["eta_s"] == 0 and last["rate"] > 0


def test_a_logistic_run_records_only_what_took_effect_and_its_preset(folder_dataset):
    from cover_model.networks.config import LOOP_ONLY
    from cover_model.networks.tables import runs_table
    from cover_model.report.networks import find_run
    cfg = tiny(folder_dataset, arch="efficientnet_lite0", mode="linear", head="logistic",
               size_px=64, cv_folds=2, epochs=7, optimizer="adamw", lr=0.5)
    run_dir = main(cfg, preset="best")
    assert run_dir.name.split("-")[2] == "best"                     # <date>-<time>-best-<digest>
    config = runs.Run(run_dir).config()
    assert config["preset"] == "best" and config["head"] == "logistic" and config["cv_folds"] == 2
    assert not set(LOOP_ONLY) & set(config)                          # no optimizer it never used
    loop_defaults = {name: getattr(TrainConfig(), name) for name in LOOP_ONLY}
    assert TrainConfig.from_saved(config) == dataclasses.replace(cfg, **loop_defaults)
    assert evaluate_run(run_dir)["n"] == runs.Run(run_dir).metrics()["test"]["n"]
    assert find_run(cfg, config["dataset_fingerprint"]) == (run_dir, "done")   # the report reuses it
    row = runs_table([run_dir]).iloc[0]
    assert pd.isna(row["lr"]) and pd.isna(row["optimizer"]) and row["state"] == "done"


def test_a_loop_run_still_records_its_loop_settings_and_older_folders_load(folder_dataset):
    run_dir = main(tiny(folder_dataset, epochs=1, lr=0.05))
    config = runs.Run(run_dir).config()
    assert config["lr"] == 0.05 and "cv_folds" not in config and "preset" not in config
    assert run_dir.name.split("-")[2:4] == ["custom", "scratch"]
    older = {k: v for k, v in config.items() if k not in ("pooling", "head", "class_weight")}
    assert TrainConfig.from_saved(older) == TrainConfig.from_saved(config) == tiny(folder_dataset, epochs=1, lr=0.05)
