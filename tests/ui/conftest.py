"""Fixtures of the UI tests: a real Chromium (Debian's, driven by Playwright) and the folder its screenshots go to.

Chromium is the system one (`apt-get install chromium`, which .ci/run does); Playwright's own browser
download (`playwright install`) is never used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
#: wide enough for MLflow's two-column run page, short enough for a README picture
VIEWPORT: ViewportSize = {"width": 1400, "height": 900}
#: every wait and web-first assertion: generous, a cold server and a busy runner render slowly
TIMEOUT_MS = 30_000
SCREENSHOTS_ENV = "PM_UI_SCREENSHOTS"
#: MLflow 3's assistant panel opens itself on a first visit and takes a third of the width; these two keys
#: of the UI's localStorage say it was opened once already and is closed. Unknown keys are ignored, so an
#: MLflow that renames them only gets its panel back in the pictures.
CLOSE_ASSISTANT = """
localStorage.setItem("mlflow.assistant.fab.autoOpenedOnFirstLoad_v1", "true");
localStorage.setItem("mlflow.assistant.panelOpen_v1", "false");
"""
HERE = Path(__file__).parent
_SCREENSHOTS_KEY = pytest.StashKey[Path]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip these tests, before any fixture starts a server, where there is no Chromium to drive."""
    if Path(CHROMIUM).is_file():
        return
    skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM} (.ci/run installs it with apt-get)")
    for item in items:
        if Path(item.path).is_relative_to(HERE):
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    if _SCREENSHOTS_KEY in config.stash:
        terminalreporter.write_line(f"MLflow UI screenshots: {config.stash[_SCREENSHOTS_KEY]}")


@pytest.fixture(scope="session")
def screenshots(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """$PM_UI_SCREENSHOTS (e.g. docs/ui, to refresh the README's pictures), else a temporary folder."""
    given = os.environ.get(SCREENSHOTS_ENV)
    folder = Path(given).resolve() if given else tmp_path_factory.mktemp("ui-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    request.config.stash[_SCREENSHOTS_KEY] = folder
    print(f"MLflow UI screenshots: {folder}")
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium per module; each test gets a fresh context (no cookies, no localStorage)."""
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        # --disable-dev-shm-usage: a container's 64 MB /dev/shm is too small for Chromium's renderers
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[[], Page]]:
    """Open a page in a context of its own, as a first visit: MLflow's default view, assistant panel closed."""
    contexts: list[BrowserContext] = []

    def open_page() -> Page:
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(TIMEOUT_MS)
        context.add_init_script(CLOSE_ASSISTANT)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def shoot(screenshots: Path) -> Callable[[Page, str], Path]:
    """Save what the page shows as NAME.png in the screenshots folder."""

    def save(page: Page, name: str) -> Path:
        path = screenshots / f"{name}.png"
        # MLflow scrolls inside its own main pane, so the full page is the viewport: scroll to what matters first
        page.screenshot(path=path, full_page=True)
        return path

    return save
