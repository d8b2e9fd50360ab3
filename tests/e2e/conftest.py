"""The browser tests' shared fixtures: a Chromium browser, and where screenshots go.

Every test here is skipped, with the reason, where Playwright or Debian's Chromium is
missing (``apt-get install -y chromium``; never ``playwright install``).
"""
from pathlib import Path

import pytest

from .server import CHROMIUM, CHROMIUM_ARGS

SHOTS = Path(__file__).parent / "screenshots"     # git-ignored: for a human to look at


@pytest.fixture(scope="session")
def chromium():
    """One Chromium per test worker: a launch, its Playwright driver and the dashboard's
    scripts compiled anew cost a few CPU-seconds each time (every test gets its own pages)."""
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no browser at {CHROMIUM} (apt-get install -y chromium)")
    SHOTS.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser(chromium):
    """The worker's Chromium; what a test opens in it (pages, contexts: cookies, storage) is
    closed after the test, so no test sees another's."""
    yield chromium
    for context in chromium.contexts:
        context.close()


@pytest.fixture
def page(browser):
    return browser.new_page(viewport={"width": 1400, "height": 1000})
