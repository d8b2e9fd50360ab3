"""Files the browser tests upload: made here, or read from ../shared where it exists (never
copied into the repository)."""
from pathlib import Path

import pandas as pd

from cover_model.synth import render_cover


def write_cover(path: Path, genre: str = "metal") -> Path:
    """A synthetic cover as a JPEG file."""
    import cv2
    rgb = render_cover(genre, seed=123, index=7)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def real_test_cover() -> Path | None:
    """A real cover from the real covers' test split (Judas Priest-like metal first), or None
    where ../shared is absent (a user's clone)."""
    from ..conftest import REAL_COVERS
    manifest = REAL_COVERS / "manifest.csv"
    if not manifest.is_file():
        return None
    items = pd.read_csv(manifest)
    test = items[(items["split"] == "test") & (items["genre"] == "metal")]
    return REAL_COVERS / test["path"].iloc[0] if len(test) else None


def settled(page) -> None:
    """The server is done with the page's run."""
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(
        timeout=60_000)


def pick_option(page, combobox, option: str, *, tries: int = 3) -> None:
    """Open a select box and pick ``option`` once the page is done running: a rerun that
    lands between the click and the pick redraws the box and closes its list (a busy CI
    machine did so once)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    for _ in range(tries):
        settled(page)
        combobox.click()
        try:
            page.get_by_role("option", name=option).click(timeout=10_000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"the option {option!r} never showed in {tries} tries")
