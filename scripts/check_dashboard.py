"""A visitor of the dashboard image, in a real browser (scripts/build-images.sh runs it).

Each visitor opens Predict in a new browser context (a new Streamlit session), uploads one
cover and waits for the answer, which reaches the page over Streamlit's websocket.
Visitors come one after another: the first answer includes loading the model, the later
ones show a warm server. Prints one JSON object:

    {"visitors": [{"page_s": ..., "answer_s": ..., "full_answer_s": ..., "genre": ...}, ...]}

page_s: from opening /predict to its file uploader; answer_s: from handing the file to the
uploader to "Most likely: <genre>" (as bench/load_public.py measures it); full_answer_s:
to the colour comparison, the answer's last part. Exits non-zero on an exception box, a
traceback, a genre the shipped model does not have, or a timeout.

    .venv/bin/python scripts/check_dashboard.py http://127.0.0.1:8501 cover.jpg [more.jpg] [--shots DIR]
"""
import argparse
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.server import CHROMIUM, CHROMIUM_ARGS  # noqa: E402 - the browser tests' settings

TIMEOUT_MS = 240_000          # a busy 2-core machine: the first page imports the whole app


def visit(browser, url: str, cover: Path, genres: list[str], shot: Path | None) -> dict:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        start = time.monotonic()
        page.goto(f"{url}/predict")
        page.get_by_text(re.compile(r"^Trained on \d")).first.wait_for(timeout=TIMEOUT_MS)
        uploader = page.locator('[data-testid="stFileUploaderDropzoneInput"]').first
        uploader.wait_for(state="attached", timeout=TIMEOUT_MS)
        ready = time.monotonic()
        uploader.set_input_files(str(cover))
        answer = page.get_by_text("Most likely:").first
        answer.wait_for(timeout=TIMEOUT_MS)
        answered = time.monotonic()
        page.get_by_text("Closest real-cover genre by colour").first.wait_for(timeout=TIMEOUT_MS)
        complete = time.monotonic()
        genre = answer.inner_text().split("Most likely:")[1].split("(")[0].strip()
        text = page.locator("body").inner_text()
        problems = ([f"{n} exception box(es)" for n in [page.get_by_test_id("stException").count()] if n]
                    + (["a traceback"] if "Traceback" in text else [])
                    + ([f"genre {genre!r} is not one of the model's"] if genre not in genres else []))
        if shot:
            page.screenshot(path=str(shot), full_page=True)
        return {"cover": cover.name, "page_s": round(ready - start, 2),
                "answer_s": round(answered - ready, 2), "full_answer_s": round(complete - ready, 2),
                "genre": genre, "problems": problems}
    finally:
        context.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("covers", nargs="+", type=Path, help="one visitor per cover, in order")
    parser.add_argument("--shots", type=Path, help="a folder for a screenshot of each answer")
    args = parser.parse_args()
    genres = json.loads((ROOT / "checkpoints/real-covers/card.json").read_text())["class_names"]
    from playwright.sync_api import sync_playwright
    if args.shots:
        args.shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            visitors = [visit(browser, args.url.rstrip("/"), cover, genres,
                              args.shots / f"predict-{i}.png" if args.shots else None)
                        for i, cover in enumerate(args.covers, 1)]
        finally:
            browser.close()
    print(json.dumps({"visitors": visitors}))
    return 1 if any(v["problems"] for v in visitors) else 0


if __name__ == "__main__":
    sys.exit(main())
