"""The dashboard's decisions as plain functions (cover_model.service): which datasets a
visitor may pick and which one a server starts on, what a pick becomes, which runs a
visitor sees and in what order, which job the Train page watches, who may stop it, and
when a run's test covers get scored. No Streamlit here: the pages only draw these answers."""
import os

import pandas as pd
import pytest

from cover_model.atomic_files import write_json
from cover_model.data.dataset import EMBEDDED as EMBEDDED_DATA
from cover_model.data.dataset import REAL_FEATURES, START_DATA_ENV, load_dataset
from cover_model.networks import jobs, runs
from cover_model.paths import checkpoints_dir
from cover_model.service import catalogue, data_sources, first_launch, training
from cover_model.service.data_sources import EMBEDDED, ON_SERVER, REAL, UPLOADED, VisitorError
from cover_model.synth import default_dataset_dir


@pytest.fixture
def public(monkeypatch):
    monkeypatch.setenv("COVER_LAB_PUBLIC", "1")
    monkeypatch.delenv("COVER_LAB_ALLOWED_ROOTS", raising=False)


@pytest.fixture
def local(monkeypatch):
    monkeypatch.delenv("COVER_LAB_PUBLIC", raising=False)
    monkeypatch.delenv(START_DATA_ENV, raising=False)


def make_run(name: str, *, data=EMBEDDED_DATA, owner=None, state="done", fingerprint="f1",
             submitted=0.0, **config):
    """A run folder as a finished (or queued, running...) job leaves it."""
    run = runs.Run(checkpoints_dir() / name)
    run.path.mkdir(parents=True)
    write_json(run.path / "config.json", {"data": data, "dataset_fingerprint": fingerprint,
                                          "arch": "custom", "mode": "scratch", **config})
    run.write_request({"owner": owner, "submitted": submitted, "config": {"data": data}})
    run.write_status(state, **({"pid": os.getpid()} if state == "running" else {}))
    return run.path


# --- datasets -----------------------------------------------------------------------

def test_a_local_user_may_pick_every_source_and_starts_on_the_synthetic_covers(local):
    assert data_sources.sources() == [REAL, EMBEDDED, ON_SERVER, UPLOADED]
    assert data_sources.start_source() == EMBEDDED
    assert data_sources.path_hint() == "/data/covers or /data/covers.zip"


def test_make_demo_and_public_mode_start_on_the_real_covers(local, monkeypatch):
    monkeypatch.setenv(START_DATA_ENV, REAL_FEATURES)
    assert data_sources.start_source() == REAL
    monkeypatch.delenv(START_DATA_ENV)
    monkeypatch.setenv("COVER_LAB_PUBLIC", "1")
    assert data_sources.start_source() == REAL
    monkeypatch.setenv(START_DATA_ENV, EMBEDDED_DATA)          # the tests' servers
    assert data_sources.start_source() == EMBEDDED


def test_without_the_features_pack_the_real_covers_are_not_offered(local, monkeypatch, tmp_path):
    monkeypatch.setattr(data_sources, "PACK_DIR", tmp_path / "no-pack")
    monkeypatch.setenv(START_DATA_ENV, REAL_FEATURES)
    assert REAL not in data_sources.sources()
    assert data_sources.start_source() == EMBEDDED


def test_a_public_demo_offers_server_folders_only_where_its_operator_allowed_some(
        public, monkeypatch, tmp_path):
    assert ON_SERVER not in data_sources.sources()
    with pytest.raises(VisitorError) as refused:
        data_sources.server_source("/etc")
    assert "/etc" not in str(refused.value) and str(refused.value).startswith("Cannot use this path")
    allowed = tmp_path / "shared-covers"
    (allowed / "mine").mkdir(parents=True)
    monkeypatch.setenv("COVER_LAB_ALLOWED_ROOTS", str(allowed))
    assert ON_SERVER in data_sources.sources()
    assert data_sources.path_hint() == "a folder, manifest or zip inside shared-covers/"
    assert data_sources.server_source(str(allowed / "mine")) == str(allowed / "mine")


def test_an_upload_over_the_visitors_quota_is_refused_in_one_sentence(public, monkeypatch):
    monkeypatch.setenv("COVER_LAB_UPLOAD_QUOTA_BYTES", "10")
    with pytest.raises(VisitorError, match="quota"):
        data_sources.uploaded_source("abc123abc123", "covers.zip", b"x" * 11)
    kept = data_sources.uploaded_source("abc123abc123", "covers.zip", b"x" * 5)
    assert data_sources.uploaded_source("abc123abc123", "covers.zip", b"x" * 5) == kept


def test_an_upload_that_does_not_load_is_not_kept_and_its_path_is_not_shown(public, tmp_path):
    saved = data_sources.uploaded_source("abc123abc123", "covers.zip", b"not a zip")
    with pytest.raises(Exception) as failed:
        load_dataset(saved)
    refusal = data_sources.refused(saved, failed.value, uploaded=True)
    assert str(refusal).startswith("Cannot load this dataset") and str(tmp_path) not in str(refusal)
    assert not pd.io.common.file_exists(saved)


def test_the_embedded_covers_are_read_from_their_folder_and_other_data_as_given(local):
    assert data_sources.dataset_path(EMBEDDED_DATA) == str(default_dataset_dir())
    assert data_sources.dataset_path("/data/covers") == "/data/covers"


# --- the catalogue of runs ----------------------------------------------------------

def test_locally_every_run_is_visible(local):
    mine, other = make_run("b-mine", owner="me"), make_run("a-other", data="/x", owner="you")
    assert catalogue.visible_runs([mine, other], "me") == [mine, other]
    assert training.may_control(other, "me")


def test_in_public_mode_a_visitor_sees_the_embedded_covers_runs_and_their_own(public):
    mine = make_run("c-mine", data="/uploads/me.zip", owner="me")
    theirs = make_run("b-theirs", data="/uploads/you.zip", owner="you")
    shared = make_run("a-shared", owner=None)
    assert catalogue.visible_runs([mine, theirs, shared], "me") == [mine, shared]
    assert training.may_control(mine, "me") and not training.may_control(shared, "me")


def test_the_shipped_model_is_listed_first_then_the_dataset_best_run(local, monkeypatch):
    older = make_run("20260101-a", fingerprint="other")
    best = make_run("20260102-b", fingerprint="f1", preset="best")
    newest = make_run("20260103-c", fingerprint="f1")
    make_run("20260104-d", state="failed")
    shipped = make_run("real-covers", fingerprint="real")
    monkeypatch.setattr("cover_model.shipped.shipped_run", lambda: shipped)
    assert catalogue.model_choices("me", "f1") == [shipped, best, newest, older]
    assert catalogue.listed_runs("me")[:2] == [shipped, checkpoints_dir() / "20260104-d"]
    monkeypatch.setattr("cover_model.shipped.shipped_run", lambda: None)
    assert catalogue.model_choices("me", "f1")[:2] == [best, newest]     # a plain run now


def test_the_demo_model_counts_as_trained_once_a_run_on_the_embedded_covers_is_done(local):
    make_run("a-upload", data="/covers")
    assert not catalogue.demo_model_trained("me")
    make_run("b-demo")
    assert catalogue.demo_model_trained("me")


def test_the_job_watched_is_the_sessions_then_the_urls_then_the_visitors_newest(public):
    old = make_run("a-old", owner="me", submitted=1.0, state="cancelled")
    new = make_run("b-new", owner="me", submitted=2.0, state="running")
    stranger = make_run("c-stranger", data="/uploads/x.zip", owner="you", state="running")

    def watched(visitor, *, in_session=None, in_url=None):
        return training.watched_job(visitor, in_session=in_session, in_url=in_url,
                                    running=jobs.running_jobs())
    assert watched("me", in_session=str(old), in_url="b-new") == old
    assert watched("me", in_url="a-old") == old
    assert watched("me") == new
    # A stranger's job named in the URL is not shown, nor a stranger's running one.
    assert watched("me", in_url=stranger.name) == new
    assert watched("nobody", in_url=stranger.name) is None
    assert watched("me", in_url="../../etc") == new


def test_locally_a_running_job_is_watched_when_nothing_else_is(local):
    running = make_run("a-running", owner=None, state="running")
    assert training.watched_job("me", in_session=None, in_url=None,
                                running=jobs.running_jobs()) == running


def test_a_runs_settings_take_the_defaults_for_what_it_did_not_save(local):
    settings = training.run_settings(make_run("a-run", lr=0.5))
    assert settings["lr"] == 0.5 and settings["epochs"] == 10 and "input_px" in settings


# --- when test covers get scored ----------------------------------------------------

class Data:
    """What scoring_plan reads of a dataset: its fingerprint, splits, and whether it has pixels."""
    features_only = False

    def __init__(self, fingerprint="f1", n_test=5):
        self.fingerprint = fingerprint
        self.items = pd.DataFrame({"split": ["test"] * n_test + ["train"] * 3})


def test_a_run_is_scored_on_request_only_on_the_dataset_it_was_tested_on(local):
    run = make_run("a-run", fingerprint="f1")
    assert catalogue.scoring_plan(run, Data("f1")) == catalogue.ScoringPlan(n_test=5)
    assert "Choose the dataset it was tested on" in catalogue.scoring_plan(run, Data("f2")).why_not
    assert catalogue.scoring_plan(run, None).why_not                  # still being generated


def test_kept_predictions_are_shown_without_scoring(local):
    run = make_run("a-run")
    kept = pd.DataFrame({"path": ["a.jpg"], "genre": ["metal"], "predicted": ["metal"]})
    runs.Run(run).write_predictions(kept)
    plan = catalogue.scoring_plan(run, Data())
    assert plan.predictions is not None and plan.n_test == 0


def test_public_mode_caps_how_many_test_covers_a_page_scores(public, monkeypatch):
    monkeypatch.setenv("COVER_LAB_MAX_PAGE_COVERS", "4")
    plan = catalogue.scoring_plan(make_run("a-run"), Data(n_test=5))
    assert plan.why_not and "Scoring a run's test covers" in plan.why_not


def test_a_stopped_job_says_why_without_a_server_path(public):
    assert first_launch.job_stopped_message({"state": "running"}) is None
    assert first_launch.job_stopped_message({"state": "cancelled"}) == "cancelled"
    message = first_launch.job_stopped_message({"state": "failed", "error": f"{checkpoints_dir()}/x"})
    assert str(checkpoints_dir()) not in message


def test_starting_the_same_settings_again_says_the_job_is_already_running(public, monkeypatch):
    """The queue answers a second start of the same settings with the first job's folder
    (tests/test_train_page.py runs that for real); here, what the Train page is told."""
    from cover_model.networks.config import TrainConfig
    running = make_run("a-running", owner="me", state="running")       # this process's pid
    monkeypatch.setattr(jobs, "start_job", lambda cfg, **_: running)
    assert training.start_for("me", TrainConfig(), dataset=None) == (running, "running")
    fresh = checkpoints_dir() / "b-fresh"
    monkeypatch.setattr(jobs, "start_job", lambda cfg, **_: fresh)
    assert training.start_for("me", TrainConfig(), dataset=None) == (fresh, None)
