"""Run files: safetensors weights, tensors-only state, status of dead processes."""
import pickle
import subprocess
import sys

import pytest
import torch

from cover_model.networks import runs


def test_weights_round_trip_through_safetensors(tmp_path):
    state = {"a": torch.arange(6.0).view(2, 3).t(), "b": torch.ones(2, dtype=torch.int64)}
    runs.save_weights(tmp_path / "w.safetensors", state)
    loaded = runs.load_weights(tmp_path / "w.safetensors")
    assert torch.equal(loaded["a"], state["a"]) and torch.equal(loaded["b"], state["b"])


def test_garbage_weights_are_refused(tmp_path):
    (tmp_path / "w.safetensors").write_bytes(b"\x00" * 100)
    with pytest.raises(runs.RunError, match="not a valid safetensors"):
        runs.load_weights(tmp_path / "w.safetensors")
    with pytest.raises(runs.RunError, match="no weights file"):
        runs.load_weights(tmp_path / "missing.safetensors")


def test_a_tampered_training_state_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            import os
            return (os.system, (f"touch {marker}",))

    (tmp_path / "last_state.pt").write_bytes(pickle.dumps({"optimizer": Exploit()}))
    with pytest.raises(runs.RunError, match="refused, not a tensors-only checkpoint"):
        runs.load_state(tmp_path / "last_state.pt")
    assert not marker.exists()


def test_state_round_trip(tmp_path):
    runs.save_state(tmp_path / "s.pt", {"optimizer": {"state": {0: {"m": torch.ones(2)}}}, "progress": {"epoch": 3}})
    assert runs.load_state(tmp_path / "s.pt")["progress"]["epoch"] == 3


def test_a_running_run_whose_process_died_reads_as_failed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    runs.write_status(tmp_path, "running", pid=dead.pid)
    status = runs.read_status(tmp_path)
    assert status["state"] == "failed" and "process died" in status["error"]


def test_new_run_dirs_are_unique_and_listed_newest_first(tmp_path):
    first = runs.new_run_dir({"arch": "custom", "mode": "scratch"}, root=tmp_path)
    second = runs.new_run_dir({"arch": "custom", "mode": "scratch"}, root=tmp_path)
    assert first != second
    for d in (first, second):
        (d / "config.json").write_text("{}")
    assert runs.list_runs(tmp_path)[0] == max(first, second, key=lambda p: p.name)


def test_a_run_dir_is_named_by_its_preset_when_it_has_one(tmp_path):
    import re
    config = {"arch": "efficientnet_lite0", "mode": "linear"}
    named = runs.new_run_dir(config, name="best", root=tmp_path)
    assert re.fullmatch(r"\d{8}-\d{6}-best-[0-9a-f]{8}", named.name)
    plain = runs.new_run_dir(config, root=tmp_path)
    assert re.fullmatch(r"\d{8}-\d{6}-efficientnet_lite0-linear-[0-9a-f]{8}", plain.name)
