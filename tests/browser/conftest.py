"""Headless Chromium against pytest-django's live server.

Every test here is marked `browser` (run them with `pytest -m browser`). Each test gets a
fresh browser context, a list of the page's console errors to assert empty, and a
screenshot in test-artifacts/ when it ends, to look at.
"""

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; Django would otherwise refuse
# the test's own ORM calls as "called from an async context".
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE.parent.parent / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Generous: CI shares two cores with the live server and the workers; a slow page is not a bug
# these tests look for (speed lives in make bench).
TIMEOUT_MS = 30_000


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    # Imported here so the rest of the suite never needs Playwright.
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)

    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is not installed (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def console_errors() -> list[str]:
    """Console errors and uncaught exceptions of the test's pages; assert it stays empty."""
    return []


@pytest.fixture
def page(request, browser, live_server, transactional_db, console_errors) -> Iterator:
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)

    def on_console(msg) -> None:
        if msg.type == "error":
            console_errors.append(f"console: {msg.text} ({msg.location.get('url', '')})")

    def watch(page) -> None:
        page.on("console", on_console)
        page.on("pageerror", lambda exc: console_errors.append(f"pageerror: {exc}"))

    context.on("page", watch)
    page = context.new_page()
    try:
        yield page
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        try:
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        finally:
            context.close()


def login(page, live_server, username: str, password: str) -> None:
    """Sign in through the login form, as a person would."""
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("form button[type=submit].primary")
    assert "/login/" not in page.url, f"login as {username} failed"
