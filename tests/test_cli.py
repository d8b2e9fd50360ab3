"""The command line: commands listed, real work done, clear errors, tuned allocator."""
import os
import subprocess
import sys

import pandas as pd
import pytest

from cover_model import config
from cover_model.cli import build_parser, main
from cover_model.paths import PROJECT_ROOT
from cover_model.runtime import ALLOCATOR_TUNABLES, tuned_env


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("synth", "dataset", "preprocess", "collect", "train", "evaluate", "predict",
                    "dashboard"):
        assert command in out


def test_dataset_command_prints_counts_and_skipped_files(folder_dataset, tmp_path, capsys):
    (folder_dataset / "metal" / "broken.jpg").write_text("nope")
    manifest = tmp_path / "split.csv"
    assert main(["dataset", str(folder_dataset), "--write-manifest", str(manifest)]) == 0
    out = capsys.readouterr().out
    assert "30 covers, 3 genres" in out and "broken.jpg: not an image" in out
    written = pd.read_csv(manifest)
    assert len(written) == 30 and set(written["split"]) == {"train", "val", "test"}
    assert not written["path"].str.startswith("/").any()       # relative, loadable elsewhere


def test_preprocess_command_reports_throughput(folder_dataset, capsys):
    assert main(["preprocess", str(folder_dataset), "--size-px", "16", "--method", "random"]) == 0
    assert "30 covers -> (30, 16, 16, 3) uint8" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["dataset", "/no/such/folder"], "no such file or folder"),
    (["preprocess", "/no/such/folder"], "no such file or folder"),
])
def test_errors_are_one_clear_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_bad_option_values_are_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit):
        main(["preprocess", "--method", "bilinear"])
    assert "invalid choice: 'bilinear'" in capsys.readouterr().err


def test_module_entry_point_runs_without_the_tunables_in_its_environment(folder_dataset):
    env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
    result = subprocess.run([sys.executable, "-m", "cover_model", "dataset", str(folder_dataset)],
                            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "30 covers" in result.stdout


def test_reexec_restarts_the_process_once_with_the_tunables(tmp_path):
    (tmp_path / "probe_env.py").write_text(
        "import os\n"
        "from cover_model.runtime import reexec_with_tuned_allocator\n"
        "print('start', flush=True)\n"
        "reexec_with_tuned_allocator('probe_env', [])\n"
        "print('tunables=' + os.environ['GLIBC_TUNABLES'])\n")
    env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
    env["PYTHONPATH"] = f"{tmp_path}{os.pathsep}{PROJECT_ROOT}"
    result = subprocess.run([sys.executable, "-m", "probe_env"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.stdout.splitlines() == ["start", "start", f"tunables={ALLOCATOR_TUNABLES}"]


def test_tuned_env_keeps_other_tunables():
    env = tuned_env({"GLIBC_TUNABLES": "glibc.foo=1", "X": "y"})
    assert env["GLIBC_TUNABLES"] == f"glibc.foo=1:{ALLOCATOR_TUNABLES}" and env["X"] == "y"
    assert tuned_env(env) == env


def test_config_flags_come_from_the_dataclass():
    from cover_model.data.preprocess import PreprocessConfig
    args = build_parser().parse_args(["preprocess", "--size-px", "70", "--method", "cubic"])
    assert config.from_args(PreprocessConfig, args) == PreprocessConfig(size_px=70, method="cubic")
    with pytest.raises(ValueError, match="must be int"):
        config.from_dict(PreprocessConfig, {"size_px": "70"})
    with pytest.raises(ValueError, match="size_px must be 1-1024, got 0"):
        PreprocessConfig(size_px=0)


def test_train_names_the_run_by_its_preset_and_prints_progress_in_a_log(folder_dataset, capsys):
    from cover_model.atomic_files import read_json
    from cover_model.networks import runs
    assert main(["train", "--preset", "smoke", "--data", str(folder_dataset)]) == 0
    out, err = capsys.readouterr()
    assert "downsizing covers: 30/30" in err                 # stderr is not a terminal here
    (run_dir,) = runs.list_runs()
    assert run_dir.name.split("-")[2] == "smoke"            # <date>-<time>-smoke-<digest>
    assert read_json(run_dir / "config.json")["preset"] == "smoke"
    # A flag that changes the preset's own settings: no longer the preset, not named after it.
    assert main(["train", "--preset", "smoke", "--batch-size", "8", "--data", str(folder_dataset)]) == 0
    (newest,) = set(runs.list_runs()) - {run_dir}
    assert "-smoke-" not in newest.name and "preset" not in read_json(newest / "config.json")


def test_progress_in_a_log_comes_every_few_seconds_not_only_at_the_end(monkeypatch, capsys):
    from cover_model import progress
    clock = [0.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    report = progress.StatusPrinter()
    for step in range(1, 61):                               # one covers batch a second
        clock[0] += 1
        report({"stage": "embedding covers", "step": step, "steps": 60, "rate": 64.0,
                "eta_s": 60.0 - step})
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) >= 60 // progress.LOG_EVERY_S and lines[-1].startswith("embedding covers: 60/60")
    assert "\r" not in "".join(lines) and "embedding covers: 5/60 (64 covers/s) ETA 55 s" in lines


def test_each_command_is_declared_by_the_module_the_table_names():
    import importlib

    from cover_model.cli import COMMANDS
    for name, (module, _) in COMMANDS.items():
        declared = importlib.import_module(module).ARGUMENTS
        assert name in declared and set(declared) <= set(COMMANDS), (name, module)


def in_a_fresh_process(code: str, *argv: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a new interpreter (``sys.argv[1:]`` = ``argv``): what a command imports
    shows only in a process that has imported nothing yet."""
    return subprocess.run([sys.executable, "-c", code, *argv], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=120)


def test_help_and_predict_import_only_what_they_use():
    probe = ("import sys\nfrom cover_model.cli import build_parser, chosen_command\n"
             "build_parser(only=chosen_command(sys.argv[1:]))\n"
             "print(' '.join(m for m in ('torch', 'pandas', 'sklearn', 'plotly', 'cv2') "
             "if m in sys.modules))")
    loaded = {argv: in_a_fresh_process(probe, *argv).stdout.split() for argv in (("--help",), ("predict",))}
    assert loaded[("--help",)] == []
    # predict's flags need the image decoder (cv2), not torch (loaded once a cover is read)
    assert "cv2" in loaded[("predict",)] and not {"torch", "sklearn", "plotly"} & set(loaded[("predict",)])


def test_a_training_process_does_not_load_sklearn():
    """Every job is a process of its own; sklearn.metrics (with scipy.stats) cost each
    about a CPU-second before its first step. Only the logistic head imports it."""
    probe = "import sys, cover_model.networks.training\nprint('sklearn' in sys.modules)"
    done = in_a_fresh_process(probe)
    assert done.stdout.split() == ["False"], done.stderr


def test_bad_train_settings_are_refused_before_torch_loads():
    """A typo costs half a second, not the three that loading torch takes."""
    probe = ("import sys\nfrom cover_model.cli import main\n"
             "code = main(['train', '--data', 'synth', '--lr', '-0.1'])\n"
             "print(code, 'torch' in sys.modules)")
    done = in_a_fresh_process(probe)
    assert done.stdout.split() == ["2", "False"], done.stderr
    assert "lr must be in (0, 10], got -0.1" in done.stderr

