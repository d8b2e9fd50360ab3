"""A read-only (or missing) checkpoints folder: starting a job is one clear JobError, never
a traceback, and the pages that only list runs (Predict with the shipped model, Results)
work as before."""
import os

import pytest

from cover_model.networks import jobs
from cover_model.networks.config import TrainConfig
from cover_model.paths import checkpoints_dir
from cover_model.shipped import SHIPPED_DIR, shipped_run

from .bad_inputs import write_run_data, write_run_folder
from .helpers import open_page

READ_ONLY = (r"cannot write run folders in .*checkpoints.*/ \(read-only\); set "
             r"COVER_LAB_CHECKPOINTS to a writable folder")


@pytest.fixture(autouse=True)
def no_job_left_behind():
    yield
    for run_dir in jobs.queued_jobs() + jobs.running_jobs():
        jobs.cancel_job(run_dir)


def _can_write(folder) -> bool:
    try:
        (folder / ".probe").mkdir()
    except PermissionError:
        return False
    (folder / ".probe").rmdir()
    return True


@pytest.fixture
def read_only_checkpoints(monkeypatch, tmp_path):
    """The checkpoints folder holding one finished run, made read-only. Tests may run as
    root, whom chmod does not stop: then creating anything inside is refused as the
    kernel would refuse anyone else (EACCES)."""
    root = checkpoints_dir()
    run = write_run_folder(root / "20990101-000000-custom-scratch-kept",
                           data=write_run_data(tmp_path / "covers"))
    root.chmod(0o555)
    if _can_write(root):
        _refuse_creating_inside(monkeypatch, root)
    yield run
    root.chmod(0o755)


def _refuse_creating_inside(monkeypatch, root) -> None:
    mkdir, open_ = os.mkdir, os.open
    writing = os.O_CREAT | os.O_WRONLY | os.O_RDWR

    def refuse(path) -> None:
        if os.path.abspath(path).startswith(str(root) + os.sep):
            raise PermissionError(13, "Permission denied", str(path))

    def guarded_mkdir(path, *args, **kwargs):
        refuse(path)
        return mkdir(path, *args, **kwargs)

    def guarded_open(path, flags, *args, **kwargs):
        if flags & writing:
            refuse(path)
        return open_(path, flags, *args, **kwargs)
    monkeypatch.setattr(os, "mkdir", guarded_mkdir)
    monkeypatch.setattr(os, "open", guarded_open)


@pytest.fixture
def missing_checkpoints(monkeypatch, tmp_path):
    monkeypatch.setenv("COVER_LAB_CHECKPOINTS", str(tmp_path / "no-checkpoints"))


def test_starting_a_job_is_one_clear_job_error(folder_dataset, read_only_checkpoints):
    cfg = TrainConfig(data=str(folder_dataset), epochs=1)
    with pytest.raises(jobs.JobError, match=READ_ONLY):
        jobs.start_job(cfg)
    with pytest.raises(jobs.JobError, match=READ_ONLY):
        jobs.start_job(cfg, owner="0123456789ab")
    assert jobs.running_jobs() == [] and jobs.queued_jobs() == [] and jobs.dispatch() == []
    assert jobs.job_status(read_only_checkpoints)["state"] == "done"


def test_in_public_mode_the_message_names_the_folder_not_its_path(folder_dataset, monkeypatch,
                                                                   read_only_checkpoints):
    monkeypatch.setenv("COVER_LAB_PUBLIC", "1")
    with pytest.raises(jobs.JobError) as refused:
        jobs.start_job(TrainConfig(data=str(folder_dataset), epochs=1))
    assert str(refused.value).startswith(f"cannot write run folders in {checkpoints_dir().name}/ ")
    assert str(checkpoints_dir().parent) not in str(refused.value)


@pytest.mark.parametrize("folder", ["read_only_checkpoints", "missing_checkpoints"])
def test_predict_with_the_shipped_model_and_results_work(folder, request, embedded_data, app_main):
    import ui_first_launch
    ui_first_launch._demo_model_job.clear()          # cached per server: another test's job may be in it
    request.getfixturevalue(folder)
    assert shipped_run() is not None, "the shipped model is missing"
    predict = open_page("app_pages/predict.py")
    assert predict.selectbox(key="predict_run").value == str(SHIPPED_DIR)
    predict.button(key="train_demo_model").click().run()      # the synthetic CNN, one click away
    assert not predict.exception
    if folder == "read_only_checkpoints":
        assert any("Cannot train it here: cannot write run folders" in e.value for e in predict.error)
    else:                                                    # the first job makes the folder
        assert len(jobs.running_jobs()) == 1
    results = open_page("app_pages/results.py")
    assert not results.exception and not results.error
    shown = list(results.dataframe[0].value["run"])
    assert shown[0] == "real-covers"
    assert ("20990101-000000-custom-scratch-kept" in shown) == (folder == "read_only_checkpoints")
    ui_first_launch._demo_model_job.clear()          # a later test starts anew


def test_the_train_page_shows_the_refusal_not_a_traceback(read_only_checkpoints, embedded_data,
                                                          app_main):
    train = open_page("app_pages/train.py")
    train.sidebar.number_input(key="train_epochs").set_value(1).run()
    train.button(key="train_start").click().run()
    assert not train.exception
    assert any("cannot write run folders" in e.value for e in train.error)
