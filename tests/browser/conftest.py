"""Playwright drives Debian's Chromium against pytest-django's live server.

Never `playwright install`: the browser is /usr/bin/chromium. The worker fixtures (private Redis, a
real `celery worker` process sharing the test's PostgreSQL database) come from the runs tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import require_service
from simulations.tests.conftest import broker, postgres_db, redis_server, start_worker  # noqa: F401

# The live server serves static files through the finders; there is no collectstatic manifest in tests.
from tests.web.conftest import _plain_static_storage  # noqa: F401

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the test are still sync.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Each test run writes to var/screenshots/ (not tracked); SCREENSHOT_DIR=docs/screenshots refreshes
# the committed set that the README shows.
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR") or Path(__file__).resolve().parents[2] / "var" / "screenshots")
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        require_service("chromium", f"{CHROMIUM} is missing; install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# Runs in every document before its own scripts (Playwright's init scripts are not subject to the
# page's CSP) and reports each Content-Security-Policy violation to the test.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolation(event.violatedDirective + " blocked " + (event.blockedURI || "inline") +
    " on " + event.documentURI + (event.sample ? " (" + event.sample + ")" : ""));
});
"""


def _is_csp_message(text: str) -> bool:
    return "Content Security Policy" in text or "Refused to" in text


@pytest.fixture
def browser_problems() -> list[str]:
    """What went wrong in the test's browser: page errors, failed requests, CSP violations."""
    return []


@pytest.fixture
def page(browser, live_server, browser_problems):
    """A fresh browser context per test (its own cookies).

    The test fails on any page error, failed request or Content-Security-Policy violation.
    """
    context = browser.new_context(viewport=DESKTOP, base_url=live_server.url)
    context.set_default_timeout(15_000)
    problems = browser_problems
    context.expose_binding("__cspViolation", lambda source, text: problems.append(f"CSP violation: {text}"))
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    tab = context.new_page()
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    tab.on(
        "console",
        lambda message: problems.append(f"console: {message.text}") if _is_csp_message(message.text) else None,
    )
    tab.on(
        "response",
        lambda response: (
            problems.append(f"{response.status} {response.url}")
            if response.status >= 500 or (response.status == 404 and "/static/" in response.url)
            else None
        ),
    )
    yield tab
    context.close()
    assert not problems, problems


@pytest.fixture
def log_in(page):
    def go(username: str, password: str):
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/dashboard/")
        return page

    return go


@pytest.fixture
def screenshot(page):
    """`screenshot(name)` saves the whole page to SCREENSHOTS/<name>.png, and a phone-width one with phone=True."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def shoot(name: str, *, phone: bool = False) -> None:
        page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
        if phone:
            page.set_viewport_size(PHONE)
            page.wait_for_timeout(200)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{name} scrolls sideways on a phone ({width}px)"
            page.screenshot(path=SCREENSHOTS / f"{name}-phone.png", full_page=True)
            page.set_viewport_size(DESKTOP)

    return shoot
