"""The Content-Security-Policy holds in a real browser: pages, the API docs and the lockout page."""

from __future__ import annotations

import pytest

from tests.browser.seed import seed_world

pytestmark = pytest.mark.browser

INJECT_INLINE_SCRIPT = """() => {
  const script = document.createElement("script");
  script.textContent = "window.inlineRan = true";
  document.body.appendChild(script);
  const styled = document.createElement("p");
  styled.setAttribute("style", "color: red");
  document.body.appendChild(styled);
}"""


def test_an_inline_script_is_refused_and_the_fixture_reports_it(page, browser_problems):
    """The policy is in force, and the page fixture fails a test on any violation it sees."""
    page.goto("/accounts/login/")
    page.evaluate(INJECT_INLINE_SCRIPT)
    page.wait_for_timeout(300)
    assert page.evaluate("window.inlineRan === undefined")
    reported = list(browser_problems)
    browser_problems.clear()  # expected here; any other test with a violation fails at teardown
    assert any("script-src" in problem for problem in reported), reported
    assert any("style-src" in problem for problem in reported), reported


def test_the_api_docs_render_under_their_narrowed_policy(page, log_in):
    world = seed_world()
    log_in("alice", world.password)
    page.goto("/api/docs/")
    page.locator(".swagger-ui .info .title").first.wait_for()
    assert "Consortium planner API" in page.locator(".swagger-ui .info .title").first.inner_text()
    page.locator(".opblock").first.wait_for()
    page.goto("/api/redoc/")
    page.get_by_role("heading", name="Consortium planner API").first.wait_for()


def test_a_locked_out_visitor_sees_when_to_try_again(page, screenshot):
    seed_world()
    page.goto("/accounts/login/")
    for _ in range(5):
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill("wrong password")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "Too many failed log-ins" in alert.inner_text()
    assert "Ask a staff member" in alert.inner_text()
    screenshot("login-locked", phone=True)


def test_the_admin_works_under_the_policy(page):
    from tests import factories as f

    world = seed_world()
    staff = f.UserFactory(username="root", is_staff=True, is_superuser=True)
    page.goto("/admin/login/")
    page.get_by_label("Username").fill(staff.username)
    page.get_by_label("Password").fill(f.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Site administration").wait_for()
    lab = world.labs[0]
    for path in ("/admin/labs/lab/", f"/admin/labs/lab/{lab.pk}/change/", "/admin/axes/accessattempt/"):
        page.goto(path)
        page.wait_for_load_state("load")
