"""A real browser for end-to-end tests: Playwright driving Debian's Chromium.

The fixtures ``browser`` (one per test session), ``page`` and ``artifacts`` are exposed to
the whole suite by tests/conftest.py, so a browser test can live next to the feature it
checks. The browser is the system's /usr/bin/chromium (``.ci/run`` installs it);
Playwright's own browser download is not used (no network for it here). A missing browser
fails the tests with a clear message: it is never a skip.

One sync Playwright per process: while it is open it marks this thread's event loop as
running, so a second ``sync_playwright()`` in the same thread would be refused. Every test
therefore takes its page from these fixtures rather than starting a Playwright of its own.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("ALOKON_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    assert shutil.which(CHROMIUM) or Path(CHROMIUM).exists(), (
        f"Chromium not found at {CHROMIUM}: install Debian's chromium (apt-get install chromium) or set ALOKON_CHROMIUM"
    )
    # Playwright's sync API runs an event loop in this thread; the ORM calls the
    # tests make around it are ordinary synchronous code.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A phone-sized page (360 × 740), Indonesian first, as a field worker's would be."""
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="id-ID")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def artifacts():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def browser_login(page, live_server, username, password, url):
    """Open ``url``, log in on the login page it sends an anonymous user to, land on ``url``."""
    page.goto(f"{live_server.url}{url}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="Masuk").click()
    page.wait_for_url(f"{live_server.url}{url}")
