"""The cover collector against a local fake CDN: good covers once, bad ones recorded, resumable.

Link lines come from the paper's real list (../shared/data/bandcamp-links, 20
per genre: 200 lines) with the host replaced by the local server; tests that
need them fall back to synthetic lines of the same format when it is absent,
and the real-file variant of the main scenario skips cleanly.
"""
import dataclasses
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pytest

from cover_model import config
from cover_model.cli import build_parser, main
from cover_model.collect import (
    CollectConfig,
    CollectInterrupted,
    HostRateLimiter,
    backoff_delay,
    collect,
    read_links,
)
from cover_model.data.dataset import load_dataset
from cover_model.data.images import decode_image
from cover_model.genres import PAPER_GENRES, folder_name
from cover_model.paths import PROJECT_ROOT

from .fake_cover_server import FakeCoverServer

LINKS_TSV = PROJECT_ROOT.parent / "shared" / "data" / "bandcamp-links" / "dataset-links.tsv"
N_PER_GENRE = 20

# Short timeouts and backoffs keep the whole file to seconds. The read timeout keeps a
# margin on a busy machine (a good cover timed out by a stalled thread would be fetched
# twice); the server hangs for 3 s.
FAST = CollectConfig(workers=8, rate_per_host=0.0, connect_timeout_s=2.0, read_timeout_s=1.0,
                     max_bytes=200_000, retries=1, backoff_base_s=0.01, backoff_max_s=2.0)

# behaviour -> (reason in failures.csv, attempts); None = the cover must arrive.
EXPECTED = {
    "ok": None, "slow": None, "redirect": None,
    "rate_limited": None, "flaky_500": None, "dropped_once": None,
    "not_found": ("http_404", 1), "gone": ("http_410", 1),
    "always_500": ("http_500", 2), "retry_after_too_long": ("http_429", 1),
    "timeout": ("timeout", 2), "stall": ("timeout", 2),
    "html": ("html_page", 1), "empty": ("empty_body", 1),
    "truncated": ("truncated_image", 1), "dropped": ("incomplete_body", 2),
    "oversized": ("too_large", 1), "oversized_chunked": ("too_large", 1),
}
UNSAFE_PATHS = ("../escaped.jpg", "/tmp/absolute.jpg", "ambient/../../climb.jpg")


# ---- link lines -------------------------------------------------------------------
def real_link_lines(n_per_genre: int = N_PER_GENRE) -> list[str]:
    """The first ``n_per_genre`` lines of each genre of the paper's list (it is sorted
    by genre, so its first 200 lines would all be ambient)."""
    taken: dict[str, int] = {}
    lines = []
    for line in LINKS_TSV.read_text().splitlines():
        genre = line.split("\t")[1].split("/")[0]
        if taken.get(genre, 0) < n_per_genre:
            taken[genre] = taken.get(genre, 0) + 1
            lines.append(line)
    return lines


def synthetic_link_lines(n_per_genre: int = N_PER_GENRE, seed: int = 0) -> list[str]:
    """Lines in the paper's format: ``http://f1.bcbits.com/img/a<id>_2.jpg<TAB><genre>/a<id>.jpg``."""
    rng = np.random.default_rng(seed)
    ids = rng.choice(10**10, size=(len(PAPER_GENRES) * n_per_genre, 2), replace=False)
    return [f"http://f1.bcbits.com/img/a{image:010d}_2.jpg\t{folder_name(genre)}/a{album}.jpg"
            for (image, album), genre in zip(ids, np.repeat(PAPER_GENRES, n_per_genre))]


def any_link_lines() -> list[str]:
    return real_link_lines() if LINKS_TSV.is_file() else synthetic_link_lines()


@pytest.fixture(params=["real", "synthetic"])
def link_lines(request) -> list[str]:
    if request.param == "real":
        if not LINKS_TSV.is_file():
            pytest.skip(f"the paper's link list is not at {LINKS_TSV} (it lives in ../shared)")
        return real_link_lines()
    return synthetic_link_lines()


@pytest.fixture
def server():
    with FakeCoverServer() as fake:
        yield fake


def write_links(tmp_path: Path, server: FakeCoverServer, lines, extra=()) -> Path:
    tsv = tmp_path / "links.tsv"
    tsv.write_text("\n".join([server.rewrite(line) for line in lines] + list(extra)) + "\n")
    return tsv


def url_path(line: str) -> str:
    return urlsplit(line.split("\t")[0]).path


def assign_behaviours(server: FakeCoverServer, lines) -> dict[str, str]:
    """Spread the behaviours over the genres: link 3, 5, 7, ... of each block of 20."""
    by_path = {}
    for k, behaviour in enumerate(EXPECTED):
        line = lines[(k % 10) * N_PER_GENRE + 3 + 2 * (k // 10)]
        by_path[url_path(line)] = behaviour
    server.behaviours.update(by_path)
    return {url_path(line): line.split("\t")[1] for line in lines}


def good_paths(server, lines) -> list[tuple[str, str]]:
    """(url path, file path) of every link that must become a cover."""
    return [(url_path(line), line.split("\t")[1]) for line in lines
            if EXPECTED[server.behaviours.get(url_path(line), "ok")] is None]


# ---- the main scenario ----------------------------------------------------------------
def test_every_good_cover_arrives_once_and_every_bad_one_is_recorded(link_lines, server,
                                                                     tmp_path):
    files = assign_behaviours(server, link_lines)
    unsafe = [f"{server.url('/img/unsafe')}{i}.jpg\t{path}" for i, path in enumerate(UNSAFE_PATHS)]
    links = write_links(tmp_path, server, link_lines, extra=unsafe)
    out = tmp_path / "covers"

    summary = collect(links, out, config=FAST)

    good = good_paths(server, link_lines)
    assert summary.n_downloaded == len(good) == len(link_lines) - 12
    _, served = server.snapshot()
    for path, rel in good:
        assert served[path] == 1, path                              # exactly once
        assert (out / rel).read_bytes() == server.image_bytes(path)
    failures = pd.read_csv(out / "failures.csv", dtype={"attempts": int})
    assert list(failures.columns[:4]) == ["url", "path", "reason", "attempts"]
    recorded = {row.path: (row.reason, row.attempts) for row in failures.itertuples()}
    for path, behaviour in server.behaviours.items():
        if EXPECTED[behaviour] is not None:
            assert recorded[files[path]] == EXPECTED[behaviour], behaviour
            assert server.requests[path] == EXPECTED[behaviour][1], behaviour   # 404: no retry
            assert not (out / files[path]).exists()
    for path in UNSAFE_PATHS:
        assert recorded[path] == ("unsafe_path", 0)
    assert not any(p.startswith("/img/unsafe") for p in server.requests)
    assert not (tmp_path / "escaped.jpg").exists() and not (tmp_path / "climb.jpg").exists()
    assert len(failures) == len(summary.failures) == 12 + len(UNSAFE_PATHS)
    assert not [p for p in out.rglob(".*")], "temp files left behind"

    # Retry-After: 1 was honoured; the second try came no sooner.
    limited = next(p for p, b in server.behaviours.items() if b == "rate_limited")
    first, second = server.request_times[limited]
    assert second - first >= 0.95
    assert all("CoverGenreLab" in agent for agent in server.user_agents)

    dataset = load_dataset(out)
    assert dataset.class_names == PAPER_GENRES                      # the paper's ids 0-9
    assert len(dataset) == len(good) and not dataset.skipped
    assert (dataset.items["genre"] == "hiphop/rap").sum() > 0

    # Running again fetches only what failed; a fixed link now arrives.
    missing = next(p for p, b in server.behaviours.items() if b == "not_found")
    server.behaviours[missing] = "ok"
    before, _ = server.snapshot()
    again = collect(links, out, config=FAST)
    after, _ = server.snapshot()
    assert again.n_present == len(good) and again.n_downloaded == 1
    assert all(after[p] == before[p] for p, _ in good)              # nothing good re-fetched
    assert {p for p in after if after[p] > before[p]} == {
        p for p, b in server.behaviours.items() if EXPECTED.get(b) is not None} | {missing}
    assert len(pd.read_csv(out / "failures.csv")) == len(failures) - 1
    assert len(load_dataset(out)) == len(good) + 1


# ---- interrupted runs ------------------------------------------------------------------
def test_a_run_killed_halfway_resumes_without_downloading_twice(tmp_path):
    lines = any_link_lines()
    n_workers = 2
    with FakeCoverServer(latency_s=0.03) as server:
        links = write_links(tmp_path, server, lines)
        out = tmp_path / "covers"
        command = [sys.executable, "-m", "cover_model", "collect", str(links), str(out),
                   "--workers", str(n_workers), "--rate-per-host", "0"]
        log = tmp_path / "child.log"
        with log.open("wb") as sink:
            child = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=sink, stderr=sink)
        try:
            deadline = time.monotonic() + 120
            while server.total_served() < 40:
                assert child.poll() is None, f"the collector stopped early:\n{log.read_text()}"
                assert time.monotonic() < deadline, "the collector never got going"
                time.sleep(0.01)
            child.send_signal(signal.SIGKILL)
        finally:
            child.kill()
            child.wait()
        requested_before, served_before = server.snapshot()
        on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*")
                   if p.is_file() and not p.name.startswith(".")}
        assert 20 <= len(on_disk) < len(lines), "killed too late to test resuming"
        for rel in on_disk:                      # no half file under a cover's name
            decode_image(out / rel)
        assert not (out / "manifest.csv").exists()

        # A half file from elsewhere and a stale temp file beside another cover.
        path_of = {url_path(line): line.split("\t")[1] for line in lines}
        pending = [p for p, rel in path_of.items() if rel not in on_disk]
        half = out / path_of[pending[-1]]
        half.parent.mkdir(parents=True, exist_ok=True)
        half.write_bytes(server.image_bytes(pending[-1])[:500])
        stale = out / path_of[pending[-2]]
        stale.parent.mkdir(parents=True, exist_ok=True)
        stale = stale.parent / f".{stale.name}-k1ll3d00"
        stale.write_bytes(b"partial")

        summary = collect(links, out, config=FAST)
        requested, served = server.snapshot()

    assert summary.n_present == len(on_disk) and summary.n_covers == len(lines)
    assert not summary.failures and not stale.exists()
    assert half.read_bytes() == server.image_bytes(pending[-1])
    by_rel = {rel: p for p, rel in path_of.items()}
    assert all(served[by_rel[rel]] == served_before[by_rel[rel]] == 1 for rel in on_disk)
    # Only covers in flight at the kill (served but not yet saved) may come twice.
    twice = {p for p in served if served[p] > 1}
    in_flight = {p for p in served_before if path_of[p] not in on_disk}
    assert twice <= in_flight and len(in_flight) <= n_workers
    assert all(served[p] >= 1 for p in path_of)
    assert len(load_dataset(out)) == len(lines)


def test_ctrl_c_writes_what_was_done_and_the_next_run_finishes(tmp_path):
    server = FakeCoverServer(latency_s=0.02).start()
    lines = synthetic_link_lines(n_per_genre=6)
    links, out = write_links(tmp_path, server, lines), tmp_path / "covers"

    def interrupt_after_20(done, total):
        if done == 20:
            raise KeyboardInterrupt

    with pytest.raises(CollectInterrupted) as stopped:
        collect(links, out, config=FAST, progress=interrupt_after_20)
    partial = stopped.value.summary
    assert partial.interrupted and 20 <= partial.n_downloaded < len(lines)
    assert len(pd.read_csv(out / "manifest.csv")) == partial.n_downloaded

    summary = collect(links, out, config=FAST)
    _, served = server.snapshot()
    server.stop()
    assert summary.n_present == partial.n_downloaded and summary.n_covers == len(lines)
    assert set(served.values()) == {1}                             # every cover exactly once


# ---- link manifests --------------------------------------------------------------------
def test_the_paper_tsv_maps_hiphop_rap_and_refuses_bad_lines(tmp_path):
    tsv = tmp_path / "links.tsv"
    tsv.write_text("url\tpath\n"
                   "http://h/img/a1_2.jpg\thiphop_rap/a1.jpg\n"
                   "\n# a comment\n"
                   "http://h/img/a2_2.jpg\tambient/a2.jpg\textra\n"
                   "ftp://h/img/a3_2.jpg\tambient/a3.jpg\n"
                   "http://h/img/a4_2.jpg\thiphop_rap/a1.jpg\n"
                   "http://h/img/a5_2.jpg\tC:/a5.jpg\n"
                   "http://h/img/a6_2.jpg\tmanifest.csv/a6.jpg\n"
                   "http://h/img/a7_2.jpg\tsoul/.hidden.jpg\n"
                   "http://h/img/a8_2.jpg\tflat.jpg\n"
                   "http://h/img/a9_2.jpg\tambient/../../a9.jpg\n")
    links, rejected = read_links(tsv)
    assert [(l.url, l.path, l.genre, l.line) for l in links] == [
        ("http://h/img/a1_2.jpg", "hiphop_rap/a1.jpg", "hiphop/rap", 2)]
    assert [r.reason for r in rejected] == ["bad_line", "bad_url", "duplicate_path",
                                            "unsafe_path", "unsafe_path", "unsafe_path",
                                            "unsafe_path", "unsafe_path"]
    assert "climbs out" in rejected[-1].detail
    assert all(r.attempts == 0 and r.detail.startswith("line ") for r in rejected)


def test_a_csv_manifest_with_url_and_genre_names_files_from_the_urls(server, tmp_path):
    paths = ["/img/a1_2.jpg", "/img/a2_2.jpg", "/img/a1_2.jpg?v=2"]
    csv = tmp_path / "links.csv"
    csv.write_text("URL,Genre,path\n"
                   f"{server.url(paths[0])},HipHop_Rap,\n"
                   f"{server.url(paths[1])},metal,\n"
                   f"{server.url(paths[2])},metal,\n"
                   f"{server.url('/img/a3_2.jpg')},jazz,jazz/chosen.jpg\n")
    links, rejected = read_links(csv)
    assert not rejected and len({l.path for l in links}) == 4       # same name, different URL
    assert links[0].genre == "hiphop/rap" and links[0].path.startswith("hiphop_rap/a1_2-")
    assert links[3].path == "jazz/chosen.jpg"
    summary = collect(csv, tmp_path / "out", config=FAST)
    assert summary.n_downloaded == 4
    assert load_dataset(tmp_path / "out").class_names == ("hiphop/rap", "jazz", "metal")


def test_a_csv_without_the_url_column_is_an_error(tmp_path):
    csv = tmp_path / "links.csv"
    csv.write_text("path,genre\na.jpg,rock\n")
    with pytest.raises(ValueError, match="missing column"):
        read_links(csv)
    with pytest.raises(ValueError, match="no such link manifest"):
        read_links(tmp_path / "absent.tsv")
    (tmp_path / "empty.tsv").write_text("\n# nothing here\n")
    with pytest.raises(ValueError, match="no links"):
        read_links(tmp_path / "empty.tsv")
    (tmp_path / "links.txt").write_text("url,genre\nhttp://h/a.jpg,rock\n")   # sniffed as CSV
    assert read_links(tmp_path / "links.txt")[0][0].path.startswith("rock/a-")


def test_a_genre_folder_symlinked_outside_is_refused(server, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    out = tmp_path / "covers"
    out.mkdir()
    (out / "ambient").symlink_to(outside, target_is_directory=True)
    links = write_links(tmp_path, server, ["http://x/img/a1_2.jpg\tambient/a1.jpg",
                                           "http://x/img/a2_2.jpg\tmetal/a2.jpg"])
    summary = collect(links, out, config=FAST)
    assert [(f.path, f.reason) for f in summary.failures] == [("ambient/a1.jpg", "unsafe_path")]
    assert not list(outside.iterdir()) and server.requests["/img/a1_2.jpg"] == 0


# ---- politeness -------------------------------------------------------------------
def test_the_rate_limit_spaces_requests_to_one_host(server, tmp_path):
    lines = synthetic_link_lines(n_per_genre=1)
    links = write_links(tmp_path, server, lines)
    collect(links, tmp_path / "out", config=dataclasses.replace(FAST, rate_per_host=20.0))
    times = sorted(t for ts in server.request_times.values() for t in ts)
    assert len(times) == 10 and times[-1] - times[0] >= 9 * 0.05 * 0.8


def test_a_host_told_to_wait_makes_every_worker_wait():
    limiter, stop = HostRateLimiter(0.0), threading.Event()
    limiter.defer("h:1", 0.2)
    start = time.monotonic()
    limiter.wait("h:1", stop)
    assert time.monotonic() - start >= 0.19
    start = time.monotonic()
    limiter.wait("other:1", stop)            # another host is not held up
    assert time.monotonic() - start < 0.19


def test_backoff_grows_with_jitter_and_respects_its_cap():
    rng = np.random.default_rng(0)

    class Rng:
        def random(self):
            return float(rng.random())

    delays = [[backoff_delay(a, base_s=1.0, max_s=10.0, rng=Rng()) for a in range(1, 7)]
              for _ in range(50)]
    for attempt, column in enumerate(np.array(delays).T, start=1):
        ceiling = min(10.0, 2.0 ** (attempt - 1))
        assert (column >= ceiling / 2).all() and (column <= ceiling).all()
        assert len(set(column)) > 1                                 # jittered
    assert backoff_delay(1, base_s=0.01, max_s=5.0, retry_after_s=4.0) == 4.0


# ---- the command line ------------------------------------------------------------------
def test_collect_command_prints_progress_and_a_summary(server, tmp_path, capsys):
    lines = synthetic_link_lines(n_per_genre=2)
    server.behaviours[url_path(lines[0])] = "not_found"
    links, out = write_links(tmp_path, server, lines), tmp_path / "covers"
    argv = ["collect", str(links), str(out), "--workers", "3", "--rate-per-host", "0",
            "--retries", "1", "--backoff-base-s", "0.01"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "downloading covers: 20/20" in captured.err
    assert "20 links: 19 downloaded, 0 already there, 1 failed" in captured.out
    assert "failed: http_404 1" in captured.out and "failures.csv" in captured.out
    assert main(argv) == 0
    assert "19 already there" in capsys.readouterr().out


def test_collect_flags_come_from_the_config_dataclass(capsys):
    args = build_parser().parse_args(["collect", "l.tsv", "out", "--workers", "8",
                                      "--read-timeout-s", "2.5", "--max-bytes", "1000"])
    cfg = config.from_args(CollectConfig, args)
    assert (cfg.workers, cfg.read_timeout_s, cfg.max_bytes) == (8, 2.5, 1000)
    assert cfg.rate_per_host == CollectConfig().rate_per_host
    with pytest.raises(ValueError, match="unknown setting"):
        config.from_dict(CollectConfig, {"threads": 8})
    with pytest.raises(ValueError, match="workers must be 1-64, got 0"):
        CollectConfig(workers=0)
    assert main(["collect", "/no/such/links.tsv", "out"]) == 2
    assert "no such link manifest" in capsys.readouterr().err
