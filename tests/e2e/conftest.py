"""Playwright driving Debian's Chromium (never `playwright install`)."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(os.environ.get("L2C_SCREENSHOT_DIR", "test-results/screenshots"))


def pytest_collection_modifyitems(items: list[Any]) -> None:
    if not shutil.which(CHROMIUM):
        skip = pytest.mark.skip(reason=f"{CHROMIUM} is not installed (apt-get install chromium)")
        for item in items:
            if "e2e" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": ARGS}


@pytest.fixture
def screenshot(page: Any) -> Any:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture(autouse=True)
def _requests_settle_before_teardown(live_server: Any, page: Any) -> Any:
    """After each journey, wait until the page's requests are answered (HTMX panels load after the
    page itself) before the page closes and the database is flushed: a request still running in the
    live server during the flush makes SQLite report "table is locked" and fails the teardown."""
    yield
    from playwright.sync_api import Error as PlaywrightError

    with contextlib.suppress(PlaywrightError):  # a closed page or a stuck request: teardown goes on
        page.wait_for_load_state("networkidle", timeout=10_000)
