"""Run folders (cover_model.networks.runs): the Run that owns them, safetensors weights,
tensors-only state, status of dead processes, older flat configs."""
import ast
import dataclasses
import pickle
import re
import subprocess
import sys
from pathlib import Path

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
    runs.Run(tmp_path).write_status("running", pid=dead.pid)
    status = runs.Run(tmp_path).status()
    assert status["state"] == "failed" and "process died" in status["error"]


def test_new_run_dirs_are_unique_and_listed_newest_first(tmp_path):
    first = runs.Run.create({"arch": "custom", "mode": "scratch"}, root=tmp_path).path
    second = runs.Run.create({"arch": "custom", "mode": "scratch"}, root=tmp_path).path
    assert first != second
    for d in (first, second):
        (d / "config.json").write_text("{}")
    assert runs.list_runs(tmp_path)[0] == max(first, second, key=lambda p: p.name)


def test_a_run_dir_is_named_by_its_preset_when_it_has_one(tmp_path):
    config = {"arch": "efficientnet_lite0", "mode": "linear"}
    named = runs.Run.create(config, name="best", root=tmp_path).path
    assert re.fullmatch(r"\d{8}-\d{6}-best-[0-9a-f]{8}", named.name)
    plain = runs.Run.create(config, root=tmp_path).path
    assert re.fullmatch(r"\d{8}-\d{6}-efficientnet_lite0-linear-[0-9a-f]{8}", plain.name)


# --- the Run: one owner of a run folder (issue 16) ---------------------------------------

GENRES = ("ambient", "jazz", "metal")


def _flat_run(path):
    """A run folder as runs before the ``model`` section saved it: one flat config.json
    (the shipped model's folder is one), no pooling or predict_mirrored."""
    from cover_model.atomic_files import write_json
    from cover_model.networks.models import build_model
    path.mkdir()
    write_json(path / "config.json", {"arch": "custom", "mode": "scratch", "input_px": 32,
                                      "epochs": 2, "preprocess": "random",
                                      "class_names": list(GENRES), "dataset_fingerprint": "fp"})
    net = build_model("custom", len(GENRES), input_px=32)
    runs.save_weights(path / "best.safetensors", net.state_dict())
    return runs.Run(path), net


def test_a_run_saved_with_a_flat_config_still_loads(tmp_path):
    run, net = _flat_run(tmp_path / "old")
    assert run.model_args() == runs.ModelArgs("custom", "scratch", GENRES, 32, "last", False)
    assert run.config()["dataset_fingerprint"] == "fp" and run.class_names == GENRES
    cfg = run.train_config()
    assert (cfg.epochs, cfg.preprocess, cfg.lr) == (2, "random", 0.01)      # the rest: defaults
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(run.load_model()(x), net.eval()(x))
    from cover_model.networks.predict import Predictor
    predictor = Predictor.from_run(run.path)
    assert (predictor.class_names, predictor.input_px, predictor.method) == (GENRES, 32, "random")


def test_the_model_section_is_kept_apart_from_the_training_settings(tmp_path):
    from cover_model.atomic_files import read_json
    from cover_model.networks.config import TrainConfig
    cfg = TrainConfig(arch="custom", epochs=3, size_px=40)
    run = runs.Run.create({"arch": "custom"}, root=tmp_path)
    args = runs.ModelArgs.of(cfg, GENRES)
    run.write_config(dataclasses.asdict(cfg) | {"n_train": 7}, args)
    saved = read_json(run.path / "config.json")
    assert saved["model"] == {"arch": "custom", "mode": "scratch", "class_names": list(GENRES),
                              "input_px": 40, "pooling": "last", "predict_mirrored": False,
                              "head_hidden": 0}
    assert "arch" not in saved and saved["epochs"] == 3 and saved["size_px"] == 40
    assert run.model_args() == args and run.train_config() == cfg
    assert run.config()["arch"] == "custom" and run.config()["n_train"] == 7   # one flat view
    net = args.build()
    run.save_weights(net.state_dict(), "best")
    x = torch.rand(1, 3, 40, 40)
    assert torch.equal(run.load_model()(x), net.eval()(x))


def test_a_folder_without_a_config_is_refused_by_name(tmp_path):
    run = runs.Run(tmp_path)
    with pytest.raises(runs.RunError, match="not a run folder"):
        run.load_model()
    assert run.config(missing_ok=True) == {} and run.metrics() == {} and run.history() == []
    assert run.predictions() is None and run.progress() is None and not run.can_resume()
    (tmp_path / "config.json").write_text('{"arch": "custom"}')
    with pytest.raises(runs.RunError, match="does not describe a network"):
        run.model_args()


def test_a_job_status_knows_its_fraction_done_and_time_left(tmp_path):
    from cover_model.atomic_files import write_json
    from cover_model.networks import jobs
    run = runs.Run.create({"arch": "custom"}, root=tmp_path)
    run.write_status("done")
    status = jobs.job_status(run.path)
    assert (status["fraction"], status["eta_s"]) == (0.0, None)          # no step recorded
    write_json(run.progress_file, {"epoch": 2, "epochs": 4, "step": 5, "steps": 10, "eta_s": 5.0})
    run.write_metrics({"history": [{"epoch": 1, "seconds": 10.0}]})
    status = jobs.job_status(run.path)
    assert (status["fraction"], status["eta_s"]) == (0.375, 25.0)


def test_runs_reads_without_importing_torch():
    # The torch-free ONNX server and the CLI's start-up read run folders too.
    code = ("import sys, cover_model.networks.runs; "
            "print(sorted(m for m in ('torch', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# Files of folders that are not runs, and the file that names them.
NOT_RUN_FOLDERS = {("cover_model/color/export.py", "config.json"),     # a colour report's
                   ("cover_model/synth/writer.py", "progress.json"),      # the covers' generation
                   ("cover_model/synth/writer.py", "log.txt")}
RUN_FILE = re.compile(r"(^|/)(config\.json|status\.json|progress\.json|metrics\.json|"
                      r"predictions[\w.-]*\.csv|[\w{}-]*\.safetensors|last_state\.pt|request\.json|"
                      r"log\.txt|cancel-requested|evaluation-[\w{}-]*\.json|model\.onnx)$")


def _code_strings(tree):
    """Every string constant of a module but its docstrings (f-string parts included)."""
    docs = {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)}
    return [node for node in ast.walk(tree) if isinstance(node, ast.Constant)
            and isinstance(node.value, str) and id(node) not in docs]


def test_no_module_but_runs_names_a_run_file():
    root = Path(__file__).resolve().parent.parent
    modules = [*root.glob("cover_model/**/*.py"), *root.glob("app_pages/*.py"),
               *root.glob("ui*.py"), root / "app.py"]
    named = {}
    for path in modules:
        name = path.relative_to(root).as_posix()
        for node in _code_strings(ast.parse(path.read_text())):
            found = RUN_FILE.search(node.value.strip())
            if found and (name, found.group(2)) not in NOT_RUN_FOLDERS:
                named.setdefault(name, []).append(f"{node.lineno}: {node.value.strip()!r}")
    owner = named.pop("cover_model/networks/runs.py", [])
    assert len(owner) >= 10, "the scan no longer sees the owner's own names"
    assert named == {}, "run files named outside runs.py (use runs.Run)"
