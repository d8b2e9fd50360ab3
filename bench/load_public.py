"""Load test of a public demo: N browser sessions at once upload covers and start jobs.

    python bench/load_public.py [--sessions 8] [--out bench/results/load_public.json]

One server in public mode (its default limits: 1 job running, 1 per visitor) on a
fresh data folder; N Chromium sessions (one browser, a context each, so N visitors)
each open Predict, upload a cover and wait for the answer, then go to Train and
press Start training with the paper's settings (each visitor a different seed, so
N different jobs). A monitor samples every 0.5 s: memory of the server and of its
jobs, jobs running and queued, and the bytes under the data folder against the
disk budget. It prints and writes what it saw: answer times, what each visitor was
told, the most jobs ever running at once, peaks of memory and disk, and whether the
server stayed up.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from cover_model import disk_budget, public_mode
from cover_model.atomic_files import read_json  # noqa: E402
from cover_model.networks import runs  # noqa: E402
from cover_model.synth import ensure_default_dataset, render_cover  # noqa: E402
from tests.e2e.server import CHROMIUM, CHROMIUM_ARGS, dashboard  # noqa: E402


def process_tree_rss(root_pid: int) -> tuple[int, int]:
    """(RSS of ``root_pid``, RSS of its descendants), in bytes, from /proc."""
    parents, rss = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
            pid = int(stat.parent.name)
            parents[pid], rss[pid] = int(fields[1]), int(fields[21]) * 4096
        except (OSError, IndexError, ValueError):
            continue
    descendants, frontier = set(), {root_pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - descendants
        descendants |= frontier
    return rss.get(root_pid, 0), sum(rss.get(p, 0) for p in descendants)


class Monitor(threading.Thread):
    """Samples the server's memory, its jobs and its disk until stopped."""

    def __init__(self, server_pid: int, data: Path, checkpoints: Path):
        super().__init__(daemon=True)
        self.server_pid, self.data, self.checkpoints = server_pid, data, checkpoints
        self.samples: list[dict] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            server, jobs = process_tree_rss(self.server_pid)
            states = [runs.Run(r).status()["state"] for r in self.checkpoints.glob("*")
                      if runs.Run(r).has_status()]      # queued jobs have no config yet
            disk = sum(disk_budget.folder_bytes(self.data / part)
                       for part in ("uploads", "imports", "cache"))
            self.samples.append({"t": time.monotonic(), "server_rss": server, "jobs_rss": jobs,
                                 "running": states.count("running"), "queued": states.count("queued"),
                                 "disk": disk})
            self.stopped.wait(0.5)


# What the Train page tells a visitor once they pressed Start training.
TOLD = re.compile(r"Queued: place \d+ of \d+|Preparing|epoch \d+/\d+ · step|already have a job|Finished")


async def visitor(browser, url: str, index: int, cover: Path) -> dict:
    """One stranger: a prediction, then a training job; what they were told, and when."""
    context = await browser.new_context(viewport={"width": 1300, "height": 900})
    page = await context.new_page()
    result = {"visitor": index}
    try:
        return await _visit(page, url, index, cover, result)
    except Exception as exc:                      # noqa: BLE001 - recorded, with what it saw
        await page.screenshot(path=f"/tmp/load-public-{index}-failed.png")
        return result | {"error": repr(exc)[:300]}
    finally:
        await context.close()


async def _visit(page, url: str, index: int, cover: Path, result: dict) -> dict:
    start = time.monotonic()
    await page.goto(f"{url}/predict")
    await page.locator("input[type=file]").first.wait_for(state="attached", timeout=180_000)
    uploaded = time.monotonic()
    await page.locator("input[type=file]").first.set_input_files(str(cover))
    # The answer's own line: a bare "Most likely" also matched the page's placeholder ("...see
    # their most likely genres.") before any answer, so earlier runs timed the upload alone.
    await page.get_by_text(re.compile(r"^Most likely: ")).first.wait_for(timeout=180_000)
    result["answer_s"] = round(time.monotonic() - start, 2)
    result["answer_after_upload_s"] = round(time.monotonic() - uploaded, 2)
    await page.get_by_test_id("stSidebarNavItems").get_by_role("link", name="Train").click()
    batch, size = page.get_by_role("spinbutton", name="Batch size"), 10 + index
    await batch.wait_for(timeout=240_000)
    await batch.fill(str(size))                  # a different job per visitor
    await batch.press("Enter")
    await page.get_by_text(f"batch {size},").wait_for(timeout=240_000)   # the page took it
    await page.get_by_role("button", name="Start training").click()
    told = page.get_by_text(TOLD)
    await told.first.wait_for(timeout=240_000)
    result["told"] = (await told.first.inner_text())[:80]
    result["tracebacks"] = await page.get_by_test_id("stException").count()
    await page.screenshot(path=f"/tmp/load-public-{index}.png")
    # The same visitor presses again: one job per visitor in public mode.
    await page.get_by_role("button", name="Start training").click()
    await page.get_by_text(TOLD).first.wait_for(timeout=240_000)
    await page.wait_for_timeout(2000)
    result["second_click"] = "refused" if await page.get_by_text("already have a job").count() else "same job"
    result["tracebacks"] += await page.get_by_test_id("stException").count()
    return result


async def run_sessions(url: str, n: int, cover: Path, *, first_index: int = 0) -> list[dict]:
    from playwright.async_api import async_playwright
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        results = await asyncio.gather(*(visitor(browser, url, first_index + i, cover) for i in range(n)))
        await browser.close()
    return list(results)


def wait_for_queue(monitor: Monitor, timeout_s: float) -> float:
    """Seconds until no job is queued or running (or the timeout)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        time.sleep(2)
        last = monitor.samples[-1]
        if last["running"] == 0 and last["queued"] == 0:
            break
    return time.monotonic() - start


def summarise(results, samples, proc_alive: bool, drain_s: float, checkpoints: Path) -> dict:
    limits = public_mode.PUBLIC
    answers = [r["answer_s"] for r in results if "answer_s" in r]
    jobs = [read_json(p) for p in Path(checkpoints).glob("*/status.json")]
    job_s = [j["updated"] - j["started"] for j in jobs if j and j.get("started")]
    return {
        "sessions": len(results),
        "answers": len(answers),
        "answer_s_median": statistics.median(answers) if answers else None,
        "answer_s_max": max(answers) if answers else None,
        "after_upload_s_median": statistics.median(
            r["answer_after_upload_s"] for r in results if "answer_after_upload_s" in r) if answers else None,
        "told": [r.get("told") or r.get("error") for r in results],
        "second_click": [r.get("second_click") for r in results],
        "tracebacks": sum(r.get("tracebacks", 0) for r in results),
        "max_running_jobs": max(s["running"] for s in samples),
        "running_cap": limits.max_running_jobs,
        "max_queued_jobs": max(s["queued"] for s in samples),
        "peak_server_rss_gb": round(max(s["server_rss"] for s in samples) / 1024**3, 2),
        "peak_jobs_rss_gb": round(max(s["jobs_rss"] for s in samples) / 1024**3, 2),
        "baseline_server_rss_gb": round(samples[0]["server_rss"] / 1024**3, 2),
        "peak_disk_mb": round(max(s["disk"] for s in samples) / 1024**2, 1),
        "disk_budget_mb": round(limits.disk_budget_bytes / 1024**2),
        "queue_drained_s": round(drain_s, 1),
        "jobs": len(jobs), "jobs_done": sum(j.get("state") == "done" for j in jobs if j),
        "job_s_median": round(statistics.median(job_s), 1) if job_s else None,
        "server_up_at_end": proc_alive,
        "results": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--cover", type=Path, help="the cover each visitor uploads "
                        "(default: a synthetic one)")
    parser.add_argument("--drain-timeout", type=float, default=600,
                        help="seconds to wait for the queue to empty afterwards")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench" / "results" / "load_public.json")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="load-public-"))
    data, checkpoints = folder / "data", folder / "checkpoints"
    import os
    os.environ["COVER_LAB_DATA"] = str(data)
    ensure_default_dataset()                     # first-launch generation is not what is measured
    cover = args.cover or folder / "cover.png"
    if not args.cover:
        from PIL import Image
        Image.fromarray(render_cover("metal", seed=5, index=1)).save(cover)
    with dashboard(folder, COVER_LAB_PUBLIC="1", COVER_LAB_DATA=str(data),
                   COVER_LAB_CHECKPOINTS=str(checkpoints)) as (url, proc):
        monitor = Monitor(proc.pid, data, checkpoints)
        monitor.start()
        time.sleep(1)
        first = asyncio.run(run_sessions(url, 1, cover, first_index=99))    # the cold start, alone
        results = asyncio.run(run_sessions(url, args.sessions, cover))
        drain_s = wait_for_queue(monitor, args.drain_timeout)
        monitor.stopped.set()
        monitor.join()
        alive = proc.poll() is None
    summary = summarise(results, monitor.samples, alive, drain_s, checkpoints)
    summary["first_visitor_alone"] = first[0]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: v for k, v in summary.items() if k != "results"}, indent=1))
    print(f"server log: {folder / 'server.log'}; written {args.out}")


if __name__ == "__main__":
    main()
