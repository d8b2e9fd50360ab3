"""The report command: a quick run end to end on the embedded covers, resume, the Overview page,
and the pieces (bootstrap scores, run matching, the paper's columns, reading a report back)."""
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from cover_model import classification_metrics, cli
from cover_model.atomic_files import write_json
from cover_model.networks.config import TrainConfig
from cover_model.paths import PROJECT_ROOT
from cover_model.report import SHIPPED_STUDY, ReportError, make_config, read_step_log, report_blocks
from cover_model.report.compare import network_table, paper_genre
from cover_model.report.networks import find_run
from cover_model.report.runner import ReportContext, Step, report_lock, run_steps
from cover_model.report.scoring import bootstrap_scores
from cover_model.synth import generate

pytestmark = pytest.mark.slow           # scheduled first (tests/conftest.py)

SECTIONS = ("## What differs from the paper", "## 1. Dataset", "## 2. Colour analysis",
            "## 3. Table 2", "## 4. Tables 3 and 4", "## 5. Our best model", "## 6. How this report")


@pytest.fixture(scope="module")
def small_synthetic(tmp_path_factory) -> Path:
    """40 generated covers per genre, 128 px: what the report needs (two disjoint samples of
    20 per genre for the colour analysis), at half the embedded covers' CPU."""
    return generate(tmp_path_factory.mktemp("synth") / "covers", n_per_genre=40, size_px=128, n_jobs=1)


@pytest.fixture(scope="module")
def quick_report(small_synthetic, tmp_path_factory):
    """One ``report --quick`` on generated covers, then the same command again."""
    out = tmp_path_factory.mktemp("reports") / "smoke"
    argv = ["report", "--quick", "--data", str(small_synthetic), "--out", str(out),
            "--torchvision-models", "resnet18"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COVER_LAB_DATA", str(tmp_path_factory.mktemp("report-data")))
        mp.setenv("COVER_LAB_CHECKPOINTS", str(tmp_path_factory.mktemp("report-checkpoints")))
        mp.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("no-torch-weights")))   # ResNet18: absent
        first = cli.main(argv)
        log_after_first = read_step_log(out)
        second = cli.main(argv)
    return {"out": out, "data": small_synthetic, "codes": (first, second), "first_log": log_after_first,
            "log": read_step_log(out)}


def test_quick_report_writes_every_section_with_figures_and_tables(quick_report):
    out = quick_report["out"]
    assert quick_report["codes"] == (0, 0)
    text = (out / "report.md").read_text()
    for section in SECTIONS:
        assert section in text
    for figure in ("class_balance", "sample_grid", "mean_covers", "heatmap_intersection",
                   "heatmap_hellinger", "heatmap_gradient", "ranks_colour", "ranks_gradient",
                   "table3_bars", "table4_bars", "best_confusion"):
        assert (out / "figures" / f"{figure}.png").is_file(), figure
        assert f"figures/{figure}.png" in text
    for table in ("counts", "table1_colour", "table1_gradient", "table2", "table3", "table4",
                  "networks", "best_scores", "best_per_genre", "best_cross_validation"):
        assert (out / "tables" / f"{table}.csv").is_file(), table
        assert f"(tables/{table}.csv)" in text
    assert "quick smoke run" in text
    # generated covers are named synthetic wherever they live, not only as --data synth
    assert "These covers are **synthetic**" in text and "project's **synthetic** covers" in text


def test_quick_report_puts_the_papers_figures_beside_ours(quick_report):
    out = quick_report["out"]
    table3 = pd.read_csv(out / "tables" / "table3.csv", index_col="genre")
    assert "paper: custom CNN" in table3.columns and "paper: AlexNet" in table3.columns
    assert table3.loc["metal", "paper: custom CNN"] == 44
    table4 = pd.read_csv(out / "tables" / "table4.csv", index_col="genre")
    assert {"efficientnet_lite0 linear, 64 px, 5 epochs", "efficientnet_lite0 finetune, 64 px, 1 epoch, flips",
            "paper: ResNet18"} <= set(table4.columns)
    table2 = pd.read_csv(out / "tables" / "table2.csv")
    assert "paper random test" in table2.columns
    assert "paper Table 1" in pd.read_csv(out / "tables" / "table1_colour.csv").columns
    best = pd.read_csv(out / "tables" / "best_scores.csv", index_col="metric")
    low, value, high = best.loc["balanced accuracy", ["95% interval low", "value (%)", "95% interval high"]]
    assert low <= value <= high
    cv = pd.read_csv(out / "tables" / "best_cross_validation.csv")
    chosen = cv[cv["chosen"] == "yes"].iloc[0]
    best = cv.loc[cv["mean balanced accuracy (%)"].idxmax()]
    assert (cv["chosen"] == "yes").sum() == 1 and chosen["C"] <= best["C"]
    assert chosen["mean balanced accuracy (%)"] >= best["mean balanced accuracy (%)"] - best["standard error (%)"]


def test_missing_torchvision_weights_are_said_not_fatal(quick_report):
    text = (quick_report["out"] / "report.md").read_text()
    assert "**resnet18** not included: ImageNet weights for resnet18 not found" in text


def test_a_second_run_skips_every_finished_step(quick_report):
    first_invocation = {entry["invocation"] for entry in quick_report["first_log"]}
    assert {entry["action"] for entry in quick_report["first_log"]} == {"ran"}
    second = [e for e in quick_report["log"] if e["invocation"] not in first_invocation]
    by_step = {e["step"]: e["action"] for e in second}
    # Steps whose network is unavailable look again each time (weights may have arrived).
    assert by_step.pop("net-resnet18-linear") == "ran"
    assert set(by_step.values()) == {"skipped"}
    assert {"dataset", "color", "baselines", "tables", "best", "net-custom-scratch"} <= set(by_step)


def test_the_overview_page_shows_the_latest_report(quick_report, embedded_data, monkeypatch):
    monkeypatch.setenv("COVER_LAB_REPORTS", str(quick_report["out"].parent))
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception
    assert at.selectbox(key="overview_report").value == SHIPPED_STUDY.resolve()
    at.selectbox(key="overview_report").set_value(quick_report["out"].resolve()).run()
    assert not at.exception
    assert any(f"Cover genre report: {quick_report['data']}" in m.value for m in at.markdown)
    assert len(at.get("image")) >= 10
    assert any(button.label == "table2.csv" for button in at.get("download_button"))


def test_the_overview_page_says_how_to_make_a_report_when_there_is_none(embedded_data, monkeypatch,
                                                                         tmp_path):
    monkeypatch.setattr("cover_model.report.reading.PROJECT_ROOT", tmp_path)
    monkeypatch.setattr("cover_model.report.reading.SHIPPED_STUDY", tmp_path / "docs" / "study" / "x")
    monkeypatch.setattr("cover_model.report.SHIPPED_STUDY", tmp_path / "docs" / "study" / "x",
                        raising=False)
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception
    assert any("python -m cover_model report" in info.value for info in at.info)


def test_the_overview_shows_the_shipped_study_out_of_the_box_without_any_cover(embedded_data,
                                                                             app_main):
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception
    assert at.selectbox(key="overview_report").value == SHIPPED_STUDY.resolve()
    images = [str(block.paths[0]) for block in report_blocks(SHIPPED_STUDY) if block.kind == "image"]
    assert len(images) >= 10 and not any("sample_grid" in p for p in images)
    assert not list(SHIPPED_STUDY.rglob("*.jpg"))
    assert any("4,979 real album covers" in m.value for m in at.markdown)


def test_bootstrap_scores_match_the_metrics_module_on_the_covers_as_they_are():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 5, 300)
    pred = np.where(rng.random(300) < 0.4, y, rng.integers(0, 5, 300))
    pred[pred == 4] = 3                                   # genre 4 is never predicted
    scores = bootstrap_scores(y, pred, pred == y, n_classes=6, n_boot=200)
    assert scores["balanced_accuracy"][0] == pytest.approx(classification_metrics.balanced_accuracy(y, pred))
    assert scores["macro_f1"][0] == pytest.approx(classification_metrics.macro_f1(y, pred, n_classes=6))
    assert scores["accuracy"][0] == pytest.approx(classification_metrics.accuracy(y, pred))
    spread = scores["balanced_accuracy"][1:]
    assert spread.std() > 0 and spread.min() < scores["balanced_accuracy"][0] < spread.max()


def test_paper_genres_match_by_name_and_the_part_before_a_slash():
    assert paper_genre("hiphop") == "hiphop/rap" and paper_genre("hiphop/rap") == "hiphop/rap"
    assert paper_genre("country") is None
    record = {"table": 3, "arch": "custom", "mode": "scratch", "input_px": 32,
              "class_names": ["country", "hiphop", "metal"],
              "test": {"per_class_accuracy": [0.5, 0.25, None], "accuracy": 0.4,
                       "balanced_accuracy": 0.375, "top_k": 0.9}}
    table = network_table([record], table=3, class_names=record["class_names"])
    assert table.columns[:2].tolist() == ["custom scratch (32 px)", "paper: custom CNN"]
    assert table.loc["hiphop", "paper: custom CNN"] == 6 and np.isnan(table.loc["country", "paper: custom CNN"])
    assert table.loc["overall", "paper: custom CNN"] == 17.6
    assert table.loc["top-3", "custom scratch (32 px)"] == 90


def _fake_run(root, name, cfg: TrainConfig, *, fingerprint="fp", state="done", data=None):
    run_dir = root / name
    run_dir.mkdir(parents=True)
    from dataclasses import asdict
    write_json(run_dir / "config.json", {**asdict(cfg), "data": data or cfg.data,
                                         "dataset_fingerprint": fingerprint})
    write_json(run_dir / "status.json", {"state": state})
    write_json(run_dir / "metrics.json", {"history": []})
    if state != "done":
        (run_dir / "last_state.pt").write_bytes(b"")
    return run_dir


def test_find_run_reuses_the_same_settings_on_the_same_data_however_it_is_spelt(tmp_path):
    cfg = TrainConfig(data="../covers", epochs=3)
    _fake_run(tmp_path, "20260101-000001-other-data", cfg, fingerprint="other")
    _fake_run(tmp_path, "20260101-000002-more-epochs", TrainConfig(data="../covers", epochs=4))
    wanted = _fake_run(tmp_path, "20260101-000003-same", cfg, data="/abs/covers")
    assert find_run(cfg, "fp", root=tmp_path) == (wanted, "done")
    assert find_run(TrainConfig(epochs=5), "fp", root=tmp_path) == (None, "missing")


def test_find_run_resumes_an_interrupted_run(tmp_path):
    cfg = TrainConfig(epochs=3)
    interrupted = _fake_run(tmp_path, "20260101-000001-x", cfg, state="cancelled")
    assert find_run(cfg, "fp", root=tmp_path) == (interrupted, "resumable")


def test_find_run_reuses_a_logistic_run_that_left_out_the_loop_settings(tmp_path):
    from dataclasses import asdict

    from cover_model.networks.config import LOOP_ONLY, applied_settings
    from cover_model.report.config import probe_settings
    cfg = TrainConfig(**probe_settings())          # asks for lite0-linear's 30 epochs, adamw...
    assert cfg.head == "logistic" and cfg.epochs == 30
    newer = tmp_path / "20260101-000002-newer"     # records only what took effect
    write_json(newer / "config.json", {**applied_settings(cfg), "dataset_fingerprint": "fp"})
    write_json(newer / "status.json", {"state": "done"})
    write_json(newer / "metrics.json", {"history": []})
    assert not set(LOOP_ONLY) & set(applied_settings(cfg))
    assert find_run(cfg, "fp", root=tmp_path) == (newer, "done")
    other_loop = TrainConfig(**{**asdict(cfg), "epochs": 3, "optimizer": "sgd"})
    assert find_run(other_loop, "fp", root=tmp_path) == (newer, "done")   # never used: same run
    older = _fake_run(tmp_path, "20260101-000001-older", cfg)             # recorded everything
    newer_gone = newer / "status.json"
    write_json(newer_gone, {"state": "failed"})
    assert find_run(cfg, "fp", root=tmp_path) == (older, "done")


def _context(tmp_path, folder_dataset):
    from cover_model.data.dataset import load_dataset
    from cover_model.report.figures import FigureWriter
    return ReportContext(dataset=load_dataset(folder_dataset), data=str(folder_dataset),
                         cfg=make_config(quick=True), out_dir=tmp_path / "out",
                         figures=FigureWriter(tmp_path / "out"), say=lambda line: None)


def test_a_failed_step_is_recorded_and_retried_while_the_others_go_on(tmp_path, folder_dataset):
    ctx = _context(tmp_path, folder_dataset)
    calls = []

    def broken(ctx):
        calls.append("broken")
        raise RuntimeError("disk on fire")

    steps = [Step("a", "A", {"v": 1}, broken), Step("b", "B", {"v": 1}, lambda ctx: {"x": 1})]
    assert [t.action for t in run_steps(steps, ctx)] == ["failed", "ran"]
    assert ctx.records["a"]["error"] == "RuntimeError: disk on fire"
    assert [t.action for t in run_steps(steps, ctx)] == ["failed", "skipped"]
    assert calls == ["broken", "broken"]
    steps[1].key = {"v": 2}                               # a changed setting reruns the step
    assert run_steps(steps[1:], ctx)[0].action == "ran"


def test_two_reports_cannot_write_one_folder_at_once(tmp_path):
    with report_lock(tmp_path):
        with pytest.raises(ReportError, match="another report"):
            with report_lock(tmp_path):
                pass


def test_report_blocks_split_markdown_images_and_files_and_stay_inside_the_report(tmp_path):
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "a.png").write_bytes(b"png")
    (tmp_path / "t.csv").write_text("x\n1\n")
    (tmp_path.parent / "secret.csv").write_text("no")
    (tmp_path / "report.md").write_text(
        "# Title\n\ntext\n\n![A figure](figures/a.png)\n\nCSV: [t.csv](t.csv)\n"
        "CSV: [secret](../secret.csv)\n![gone](figures/missing.png)\nend\n")
    blocks = report_blocks(tmp_path)
    assert [b.kind for b in blocks] == ["markdown", "image", "files", "files", "markdown"]
    assert blocks[1].text == "A figure" and blocks[1].paths == (tmp_path / "figures" / "a.png",)
    assert blocks[2].paths == (tmp_path / "t.csv",) and blocks[3].paths == ()
    assert "![gone]" in blocks[4].text


def test_report_flags_come_from_the_config_and_quick_fills_the_rest():
    args = cli.build_parser().parse_args(["report", "--quick", "--trials", "7"])
    from cover_model import config
    from cover_model.report import ReportConfig
    cfg = make_config(**config.given(ReportConfig, args))
    assert (cfg.quick, cfg.trials, cfg.lite_models, cfg.finetune_epochs) == (True, 7, ("efficientnet_lite0",), 1)
    assert make_config().finetune_epochs == 2 and make_config().trials == 20
    with pytest.raises(ValueError, match="trials"):
        make_config(trials=0)
    assert json.dumps(ReportConfig().__dict__)          # plain values, for the report's settings table


def test_work_in_a_child_process_returns_its_result_and_a_dead_child_is_an_error():
    import os

    from cover_model.report.isolate import ChildError, run_in_child
    assert run_in_child(divmod, 7, 2) == (3, 1)
    with pytest.raises(ChildError, match="died without a result"):
        run_in_child(os.abort)
