"""A coordinator creates an API key on its page, copies it, and a script uses it against the live server."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from reports.models import ApiKey
from tests import factories as f
from tests.browser.seed import seed_results, seed_world

pytestmark = pytest.mark.browser


def fetch(url: str, token: str) -> tuple[int, dict]:
    """GET `url` with the key, as a script would (urllib, no session, no browser)."""
    request = urllib.request.Request(url, headers={"Authorization": f"Api-Key {token}", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_coordinator_creates_an_api_key_and_a_script_reads_the_savings_report_with_it(
    page, log_in, live_server, screenshot
):
    world = seed_world()
    scenario = f.ScenarioFactory(consortium=world.consortium, name="Three founders", labs=world.labs)
    run = seed_results(scenario)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    log_in("coord", world.password)

    page.goto(world.consortium.get_absolute_url())
    page.get_by_role("link", name="API keys").first.click()
    page.get_by_role("heading", name="API keys", level=1).wait_for()
    assert page.get_by_text("No keys yet.").is_visible()
    page.get_by_label("Name").fill("finance dashboard")
    page.get_by_role("button", name="Create key").click()

    page.get_by_role("heading", name="Key “finance dashboard” created").wait_for()
    token = page.locator("#new-key").input_value()
    api_key = ApiKey.objects.get(name="finance dashboard")
    assert token.startswith(f"{api_key.prefix}.")
    page.get_by_role("button", name="Copy").click()
    page.get_by_role("button", name="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == token
    screenshot("api-keys", phone=True)

    url = f"{live_server.url}/api/v1/consortia/{world.consortium.slug}/reports/savings/?scenario={scenario.pk}"
    status, body = fetch(url, token)
    assert status == 200, body
    assert body["run"] == run.pk
    assert {row["lab_name"] for row in body["results"]} == {lab.name for lab in world.labs}

    # Shown once: the page, opened again, has only the prefix and now the time of last use.
    page.goto(f"/consortia/{world.consortium.slug}/api-keys/")
    html = page.content()
    assert token.split(".", 1)[1] not in html
    row = page.locator(f"#key-{api_key.pk}")
    assert f"{api_key.prefix}…" in row.inner_text()
    assert "Never" not in row.inner_text()

    page.get_by_role("button", name="Revoke key finance dashboard").click()
    page.get_by_text("is revoked: requests with it now fail").wait_for()
    status, body = fetch(url, token)
    assert status == 401
    assert body["error"]["message"] == "This API key has been revoked."


def test_a_person_founds_a_consortium_shares_it_with_a_coordinator_and_retires_a_scenario(page, log_in, screenshot):
    world = seed_world()
    log_in("alice", world.password)
    page.get_by_role("link", name="Found a consortium").click()
    page.get_by_label("Name", exact=True).fill("Open Kernels Pool")
    page.get_by_label("Charter").fill("Pool kernel work; publish every tool.")
    screenshot("consortium-new", phone=True)
    page.get_by_role("button", name="Found consortium").click()
    page.get_by_role("heading", name="Open Kernels Pool", level=1).wait_for()
    assert page.get_by_text("Pool kernel work; publish every tool.").is_visible()

    page.get_by_role("link", name="Edit charter").click()
    page.get_by_label("Charter").fill("Pool kernel and compiler work; publish every tool.")
    page.get_by_role("button", name="Save charter").click()
    page.get_by_text("Pool kernel and compiler work").wait_for()

    page.get_by_role("link", name="Coordinators").click()
    assert page.get_by_text("The only coordinator").is_visible()
    page.get_by_label("Username or email").fill("nobody@example.org")
    page.get_by_role("button", name="Add coordinator").click()
    page.locator("#id_user_error").wait_for()
    assert "No account has the username or email" in page.locator("#id_user_error").inner_text()
    page.get_by_label("Username or email").fill("coord@example.org")
    page.get_by_role("button", name="Add coordinator").click()
    page.get_by_text("coord now coordinates Open Kernels Pool.").wait_for()
    screenshot("coordinators", phone=True)
    page.get_by_role("button", name="Step down").click()
    page.get_by_text("You no longer coordinate Open Kernels Pool.").wait_for()
    page.context.clear_cookies()

    scenario = f.ScenarioFactory(consortium=world.consortium, name="Three founders", labs=world.labs)
    seed_results(scenario)
    log_in("coord", world.password)
    screenshot("dashboard-coordinator", phone=True)
    page.goto(scenario.get_absolute_url())
    page.get_by_role("button", name="Duplicate").click()
    page.wait_for_url("**/edit/")
    assert page.get_by_label("Name", exact=True).input_value() == "Copy of Three founders"
    page.goto(scenario.get_absolute_url())
    page.get_by_role("button", name="Archive").click()
    page.get_by_text("is archived: it has left the lists").wait_for()
    assert page.get_by_role("button", name="Run simulation").count() == 0
    screenshot("scenario-archived", phone=True)
    page.get_by_role("link", name=world.consortium.name).first.click()
    page.locator("#archived-scenarios").wait_for()
    screenshot("consortium-coordinator", phone=True)
    scenarios = page.locator("#scenarios-h").locator("xpath=ancestor::section")
    assert "Copy of Three founders" in scenarios.locator(".link-list").first.inner_text()
    assert "Three founders" not in scenarios.locator(".link-list").first.inner_text().replace("Copy of Three", "")
    page.get_by_text("Archived scenarios (1)").click()
    page.get_by_role("link", name="Three founders", exact=True).click()
    page.get_by_role("button", name="Unarchive").click()
    page.get_by_text("is back in the lists and can run again").wait_for()
