"""Concurrent users: two sessions training at once, uploads at once, repeated starts,
and the Predictor that every session shares (st.cache_resource)."""
import io
import subprocess
import sys
import threading
import weakref
import zipfile
from pathlib import Path

import pytest
from streamlit.runtime.scriptrunner.script_cache import ScriptCache
from streamlit.testing.v1 import AppTest

from cover_model.markdown_text import unescape
from cover_model.networks import jobs, runs
from cover_model.paths import PROJECT_ROOT, checkpoints_dir
from cover_model.networks.predict import Predictor
from cover_model.runtime import tuned_env
from cover_model.networks.config import TrainConfig
from ui import ON_SERVER, UPLOADED

from .bad_inputs import write_run_data, write_run_folder
from .helpers import jpeg_bytes, make_folder_dataset, wait_for

pytestmark = pytest.mark.slow           # scheduled first (tests/conftest.py)

APP = str(PROJECT_ROOT / "app.py")


_COMPILING = threading.Lock()


@pytest.fixture
def session(monkeypatch, folder_dataset):
    """A factory of AppTest sessions on a page, with the small folder dataset picked."""
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])   # see test_app.py
    # Each AppTest run compiles its script afresh, and CPython 3.11 may fail two compiles in
    # two threads at once ("AST constructor recursion depth mismatch"): the compiles take
    # turns; the sessions, their clicks and their jobs still run at once.
    compile_script = ScriptCache.get_bytecode

    def one_compile_at_a_time(self, script_path):
        with _COMPILING:
            return compile_script(self, script_path)
    monkeypatch.setattr(ScriptCache, "get_bytecode", one_compile_at_a_time)

    def open_session(page: str, *, data: Path = folder_dataset) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=90)
        at.session_state["dataset_kind"] = ON_SERVER
        at.session_state["dataset_path"] = str(data)
        at.switch_page(page).run()
        assert not at.exception
        return at
    yield open_session
    for run_dir in jobs.running_jobs():               # never leave a training process behind
        jobs.cancel_job(run_dir)


def at_once(*actions) -> None:
    """Run the callables in threads released together; re-raise the first failure."""
    start, errors = threading.Barrier(len(actions)), []

    def run(action):
        start.wait()
        try:
            action()
        except BaseException as exc:      # noqa: BLE001 - handed to the test thread
            errors.append(exc)
    threads = [threading.Thread(target=run, args=(a,)) for a in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    if errors:
        raise errors[0]


def set_number(at: AppTest, **values) -> None:
    for name, value in values.items():
        at.sidebar.number_input(key=f"train_{name}").set_value(value)
    at.run()


def click_start(at: AppTest) -> None:
    at.button(key="train_start").click().run()
    assert not at.exception


def test_two_sessions_train_different_settings_at_once_into_separate_runs(session):
    first, second = session("app_pages/train.py"), session("app_pages/train.py")
    set_number(first, epochs=1, batch_size=8)
    set_number(second, epochs=2, batch_size=16, seed=1)
    at_once(lambda: click_start(first), lambda: click_start(second))
    run_dirs = [Path(at.session_state["train_run"]) for at in (first, second)]
    assert run_dirs[0] != run_dirs[1]
    for run_dir in run_dirs:
        status = wait_for(lambda: (s := jobs.job_status(run_dir))["state"] != "running" and s,
                          timeout_s=180)
        assert status["state"] == "done", status
    for run_dir, (epochs, batch_size, seed) in zip(run_dirs, ((1, 8, 0), (2, 16, 1))):
        config = runs.Run(run_dir).config()
        assert (config["epochs"], config["batch_size"], config["seed"]) == (epochs, batch_size, seed)
        assert len(runs.Run(run_dir).metrics()["history"]) == epochs
    for at, run_dir in zip((first, second), run_dirs):
        at.run()
        assert not at.exception
        assert any(f"`{run_dir.name}`" in s.value for s in at.success)     # its own run, finished
    assert sorted(runs.list_runs()) == sorted(run_dirs)


def test_repeated_clicks_and_sessions_start_one_job(session, folder_dataset):
    sessions = [session("app_pages/train.py") for _ in range(2)]
    for at in sessions:
        set_number(at, epochs=300, batch_size=2)
    at_once(*[lambda at=at: [click_start(at) for _ in range(3)] for at in sessions])
    started = {at.session_state["train_run"] for at in sessions}
    assert len(started) == 1 and len(jobs.running_jobs()) == 1

    # and from threads of one process, straight through the API
    cfg = TrainConfig(data=str(folder_dataset), epochs=300, batch_size=3)
    found = []
    at_once(*[lambda: found.append(jobs.start_job(cfg)) for _ in range(4)])
    assert len(set(found)) == 1 and len(jobs.running_jobs()) == 2


def test_starts_and_polls_at_once_never_run_more_jobs_than_the_cap(folder_dataset, monkeypatch):
    monkeypatch.setenv("COVER_LAB_MAX_RUNNING_JOBS", "2")
    found = []
    try:
        at_once(*[lambda seed=seed: found.append(jobs.start_job(
                      TrainConfig(data=str(folder_dataset), epochs=300, batch_size=2, seed=seed)))
                  for seed in range(6)],
                *[jobs.running_jobs for _ in range(3)])          # pages polling meanwhile
        assert len(set(found)) == 6
        assert len(jobs.running_jobs()) == 2
        assert [jobs.job_status(r)["queue_position"] for r in jobs.queued_jobs()] == [1, 2, 3, 4]
    finally:
        for run_dir in jobs.queued_jobs() + jobs.running_jobs():
            jobs.cancel_job(run_dir)


def test_one_visitor_clicking_in_many_tabs_at_once_gets_one_job(folder_dataset, monkeypatch):
    monkeypatch.setenv("COVER_LAB_PUBLIC", "1")
    found, refused = [], []

    def start(seed):
        try:
            found.append(jobs.start_job(TrainConfig(data=str(folder_dataset), epochs=300,
                                                    batch_size=2, seed=seed), owner="0123456789ab"))
        except jobs.JobLimitError:
            refused.append(seed)
    try:
        at_once(*[lambda seed=seed: start(seed) for seed in range(4)])
        assert len(found) == 1 and len(refused) == 3
        assert jobs.running_jobs() + jobs.queued_jobs() == found
    finally:
        for run_dir in jobs.queued_jobs() + jobs.running_jobs():
            jobs.cancel_job(run_dir)


def test_two_sessions_upload_covers_at_once_and_each_sees_its_own(session, tmp_path):
    data = write_run_data(tmp_path / "covers", n_per_genre=6)
    write_run_folder(checkpoints_dir() / "20990101-000000-custom-scratch-good", data=data)
    sessions = [session("app_pages/predict.py", data=data) for _ in range(2)]
    uploads = [[(f"red-{i}.jpg", jpeg_bytes((200, 20, 20), size=(120, 120)), "image/jpeg")
                for i in range(3)],
               [(f"blue-{i}.jpg", jpeg_bytes((20, 20, 200), size=(120, 120)), "image/jpeg")
                for i in range(3)]]

    def upload(at, files):
        at.file_uploader(key="predict_uploads").set_value(files).run()
    at_once(*[lambda at=at, files=files: upload(at, files) for at, files in zip(sessions, uploads)])
    for at, files in zip(sessions, uploads):
        assert not at.exception and not at.error
        assert [unescape(h.value) for h in at.subheader] == [name for name, _, _ in files]
        assert len([m for m in at.markdown if m.value.startswith("**Most likely:")]) == 3


def test_two_sessions_upload_dataset_zips_at_once(session, tmp_path):
    def zipped(folder: Path) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as archive:
            for path in sorted(folder.rglob("*.jpg")):
                archive.write(path, path.relative_to(folder.parent))
        return buf.getvalue()
    zips = [zipped(make_folder_dataset(tmp_path / "a", {"metal": 5, "jazz": 5})),
            zipped(make_folder_dataset(tmp_path / "b", {"metal": 4, "jazz": 4, "folk": 4}))]
    sessions = [session("app_pages/dataset.py") for _ in zips]
    for at in sessions:
        at.session_state["dataset_kind"] = UPLOADED
        at.run()

    def upload(at, data):
        uploader = at.sidebar.file_uploader(key="dataset_zip")
        uploader.set_value(("covers.zip", data, "application/zip")).run()
    at_once(*[lambda at=at, data=data: upload(at, data) for at, data in zip(sessions, zips)])
    assert [[m.value for m in at.metric][:2] for at in sessions] == [["10", "2"], ["12", "3"]]
    assert not any(at.exception or at.error for at in sessions)


RACE = '''
import numpy as np, torch
from concurrent.futures import ThreadPoolExecutor
from cover_model.networks.models import build_model
from cover_model.networks.predict import Predictor
torch.manual_seed(0)
predictor = Predictor(build_model("custom", 3, input_px=32), class_names="abc", input_px=32,
                      method="area")
rng = np.random.default_rng(0)
covers = [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(8)]
heat = [predictor.grad_cam(c) for c in covers]
top = [predictor.top_k(c) for c in covers]

def session(i):
    wrong = 0
    for r in range(40):
        j = (i + r) % len(covers)
        wrong += not np.allclose(predictor.grad_cam(covers[j]), heat[j], atol=1e-5)
        wrong += predictor.top_k(covers[j]) != top[j]
    return wrong

with ThreadPoolExecutor(8) as pool:
    print("wrong answers:", sum(pool.map(session, range(8))))
'''


def test_a_shared_predictor_serves_many_threads_at_once(tmp_path):
    # In its own process: before the fix, concurrent Grad-CAM corrupted the heap (SIGSEGV/abort).
    done = subprocess.run([sys.executable, "-c", RACE], cwd=PROJECT_ROOT, env=tuned_env(),
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "wrong answers: 0" in done.stdout


def test_models_load_once_and_stay_bounded_while_switching_20_times(session, tmp_path, monkeypatch):
    data = write_run_data(tmp_path / "covers", n_per_genre=6)
    run_dirs = [str(write_run_folder(checkpoints_dir() / f"2099010{i}-000000-custom-scratch-m{i}",
                                     data=data, seed=i)) for i in (1, 2)]
    loaded, alive = [], []
    original = Predictor.from_run

    def counting(run_dir, **kwargs):
        predictor = original(run_dir, **kwargs)
        if str(run_dir) in run_dirs:       # not the shipped model, which the page opens on
            loaded.append(str(run_dir))    # (loaded here or by an earlier test in this process)
            alive.append(weakref.ref(predictor))
        return predictor
    monkeypatch.setattr(Predictor, "from_run", staticmethod(counting))

    at = session("app_pages/predict.py", data=data)
    at.file_uploader(key="predict_uploads").set_value(
        [("cover.jpg", jpeg_bytes((90, 160, 40), size=(100, 100)), "image/jpeg")]).run()
    for switch in range(20):
        at.sidebar.selectbox(key="predict_run").set_value(run_dirs[switch % 2]).run()
        assert not at.exception
        assert any(m.value.startswith("**Most likely:") for m in at.markdown)
    assert sorted(loaded) == sorted(run_dirs)                     # each model loaded once
    assert sum(ref() is not None for ref in alive) == 2           # and no copies pile up
