"""A new lab joins the demo consortium from nothing: sign-up, lab, application, acceptance, ledger, a run."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from consortium.models import Application, Consortium, Membership
from labs.models import ComputeContribution, Lab
from simulations.models import SimulationRun

pytestmark = [pytest.mark.browser, pytest.mark.services]

PASSWORD = "plural-tundra-magnet-42"
DEMO_PASSWORD = "open-commons-demo"


def log_in(page, username: str, password: str) -> None:
    page.context.clear_cookies()
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/dashboard/")


def test_a_new_lab_signs_up_joins_the_demo_and_appears_in_a_run(page, screenshot, start_worker, monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", DEMO_PASSWORD)
    call_command("load_demo", "--force", "--no-runs", stdout=io.StringIO())
    demo = Consortium.objects.get(slug="open-research-commons")
    assert demo.listed
    start_worker(concurrency=1)

    # A new person signs up from the landing page.
    page.goto("/")
    page.get_by_role("link", name="Sign up").first.click()
    page.get_by_label("Username").fill("cedar")
    page.get_by_label("Email").fill("ops@cedar.example")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    screenshot("signup", phone=True)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/dashboard/")

    # ... registers a lab and becomes its admin.
    page.get_by_role("link", name="Register a lab").first.click()
    page.get_by_label("Name", exact=True).fill("Cedar Hollow Lab")
    page.get_by_label("Kind").select_option("academic")
    page.get_by_label("Country").fill("Chile")
    page.get_by_label("Default GPU type").select_option("A100")
    page.get_by_label("Price per GPU-hour (US$)").fill("1.20")
    page.get_by_label("Final-run compute per year (GPU-hours)").fill("400000")
    screenshot("lab-new", phone=True)
    page.get_by_role("button", name="Register lab").click()
    page.get_by_text("Cedar Hollow Lab is registered and you are its admin").wait_for()
    lab = Lab.objects.get(slug="cedar-hollow-lab")
    assert lab.memberships.get().role == "admin"
    screenshot("lab-people", phone=True)

    # ... applies to the demo consortium from the directory.
    page.get_by_role("link", name="Consortia", exact=True).click()
    page.get_by_role("link", name="Apply to join").first.click()
    page.get_by_label("Note to the coordinators").fill("Academic lab; we share an evaluation harness.")
    page.get_by_role("button", name="Send application").click()
    page.get_by_text("Cedar Hollow Lab applied to").wait_for()
    assert page.get_by_text("Awaiting the coordinators").is_visible()
    application = Application.objects.get(lab=lab, consortium=demo)

    # The coordinator accepts it on the consortium page.
    log_in(page, "coordinator", DEMO_PASSWORD)
    page.goto(demo.get_absolute_url())
    page.locator("#applications").get_by_text("we share an evaluation harness").wait_for()
    screenshot("consortium-applications")
    page.locator("#applications").get_by_role("button", name="Accept").click()
    page.get_by_text("Cedar Hollow Lab is now a candidate").wait_for()
    application.refresh_from_db()
    assert application.status == "accepted"
    assert Membership.objects.current().get(consortium=demo, lab=lab).status == "candidate"

    # The lab sees the answer and logs a contribution to the demo consortium.
    log_in(page, "cedar", PASSWORD)
    page.get_by_role("link", name="Cedar Hollow Lab").first.click()
    assert page.get_by_text("Accepted").first.is_visible()
    page.get_by_role("link", name="Log a contribution").first.click()
    page.get_by_label("Consortium").select_option(str(demo.pk))
    page.get_by_label("GPU-hours pledged").fill("20000")
    page.get_by_label("GPU-hours delivered").fill("18000")
    page.get_by_role("button", name="Log contribution").click()
    entry = ComputeContribution.objects.get(lab=lab)
    page.get_by_text(f"Entry #{entry.pk} logged in the ledger.").wait_for()

    # The coordinator builds a scenario with the new lab and runs it on the worker.
    log_in(page, "coordinator", DEMO_PASSWORD)
    page.goto(demo.get_absolute_url())
    page.get_by_role("link", name="New scenario").first.click()
    page.get_by_label("Name", exact=True).fill("With Cedar Hollow")
    for name in ("Cedar Hollow Lab (candidate)", "Alderbrook Models", "Birchfield AI Institute"):
        page.get_by_label(name, exact=True).check()
    page.get_by_label("Monte Carlo draws").fill("200")
    page.get_by_role("button", name="Save scenario").click()
    page.get_by_text("Scenario “With Cedar Hollow” saved").wait_for()
    page.get_by_role("button", name="Run simulation").click()
    progress = page.locator("#run-progress")
    progress.wait_for()
    for _ in range(360):
        if progress.get_attribute("data-status") in ("succeeded", "failed"):
            break
        page.wait_for_timeout(500)
    assert progress.get_attribute("data-status") == "succeeded"
    run = SimulationRun.objects.get(scenario__name="With Cedar Hollow")
    assert run.member_results.filter(lab=lab).exists()
    page.get_by_role("link", name="View results").click()
    assert page.get_by_role("link", name="Savings report for Cedar Hollow Lab").count() >= 1


@pytest.mark.parametrize("viewer", ["anonymous", "alice", "coord"])
def test_the_new_pages_are_accessible_and_fit_a_phone(page, screenshot, viewer):
    """One title, labelled inputs, readable contrast, and no sideways scrolling at 390 px on every new page."""
    import datetime

    from django.utils import timezone

    from labs.models import LabInvitation
    from labs.team import invitation_token
    from tests.browser.seed import seed_world
    from tests.browser.test_journeys import ACCESSIBILITY_PROBLEMS, LOW_CONTRAST

    world = seed_world()
    world.consortium.listed = True
    world.consortium.save(update_fields=["listed"])
    invitation = LabInvitation.objects.create(
        lab=world.labs[0],
        email="a.very.long.address.for.a.colleague@research-institute.example",
        expires_at=timezone.now() + datetime.timedelta(days=7),
    )
    Application.objects.create(consortium=world.consortium, lab=world.outsider, note="Kernels and evals. " * 20)
    link = f"/labs/invitations/{invitation_token(invitation)}/"
    paths = {
        "anonymous": ["/accounts/signup/", "/accounts/password_reset/", "/accounts/password_reset/done/", link],
        "alice": [
            "/accounts/password_change/",
            "/labs/new/",
            "/labs/aurora/people/",
            "/consortia/",
            "/consortia/open-frontier/apply/",
            "/labs/aurora/",
        ],
        "coord": [world.consortium.get_absolute_url(), link],
    }[viewer]
    if viewer != "anonymous":
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill(viewer)
        page.get_by_label("Password").fill(world.password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/dashboard/")
    for path in paths:
        page.goto(path)
        assert page.evaluate(ACCESSIBILITY_PROBLEMS) == [], path
        assert page.evaluate(LOW_CONTRAST) == [], path
        name = "invitation" if path == link else path.strip("/").replace("/", "-")
        screenshot(f"new-{viewer}-{name}", phone=True)
