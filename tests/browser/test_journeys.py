"""End-to-end journeys in Debian's Chromium against a live server, saving screenshots of each page."""

from __future__ import annotations

import re

import pytest

from labs.models import ComputeContribution
from tests import factories as f
from tests.browser.seed import seed_results, seed_world

pytestmark = pytest.mark.browser

PAINTED_PIXELS = """(id) => {
  const canvas = document.getElementById(id);
  if (!canvas || canvas.dataset.drawn !== "true") { return 0; }
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] > 0) { painted += 1; } }
  return painted;
}"""


def assert_painted(page, canvas_id: str) -> None:
    """The chart's canvas exists, Chart.js has rendered it, and a real share of its pixels are drawn."""
    page.wait_for_selector(f'#{canvas_id}[data-drawn="true"]')
    painted = page.evaluate(PAINTED_PIXELS, canvas_id)
    area = page.evaluate("(id) => document.getElementById(id).width * document.getElementById(id).height", canvas_id)
    assert painted > area * 0.02, f"{canvas_id}: only {painted} of {area} pixels painted"


def test_a_visitor_logs_in_and_out(page, screenshot):
    world = seed_world()
    page.goto("/")
    screenshot("landing", phone=True)
    page.get_by_role("link", name="Log in").first.click()
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("Please enter a correct username and password").wait_for()
    screenshot("login")
    page.get_by_label("Password").fill(world.password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/dashboard/")
    assert page.get_by_role("heading", name="Welcome, Alice").is_visible()
    page.get_by_role("button", name="Log out alice").click()
    page.get_by_role("heading", name="Pool research compute").wait_for()
    assert page.get_by_role("link", name="Log in").first.is_visible()
    assert page.get_by_role("button", name="Log out alice").count() == 0


def test_lab_user_logs_a_contribution_corrects_it_and_sees_both_in_the_ledger(page, log_in, screenshot):
    world = seed_world()
    before = ComputeContribution.objects.count()
    log_in("alice", world.password)
    screenshot("dashboard-empty")

    page.get_by_role("link", name="Aurora AI").first.click()
    page.get_by_role("link", name="Log a contribution").first.click()
    page.get_by_label("Period start").fill("2026-10-01")
    page.get_by_label("Period end").fill("2026-12-31")
    page.get_by_label("GPU-hours pledged").fill("12000")
    page.get_by_label("GPU-hours delivered").fill("11000")
    page.get_by_label("Evidence link").fill("https://example.org/invoice-q4")
    screenshot("contribution-form")
    page.get_by_role("button", name="Log contribution").click()

    entry = ComputeContribution.objects.latest("id")
    page.get_by_text(f"Entry #{entry.pk} logged in the ledger.").wait_for()
    row = page.locator(f"#entry-{entry.pk}")
    assert "11,000 GPU-h" in row.inner_text()

    page.get_by_role("link", name=f"Correct entry {entry.pk}").click()
    page.get_by_label("GPU-hours delivered").fill("11500")
    page.get_by_label("Reason for the correction").fill("Invoice corrected by the cluster provider")
    screenshot("correction-form")
    page.get_by_role("button", name="Record correction").click()

    page.get_by_text(f"Entry #{entry.pk} replaced by").wait_for()
    ledger = page.locator("#ledger").inner_text()
    assert f"Reversal of #{entry.pk}" in ledger
    assert f"Replaces #{entry.pk}" in ledger
    assert "Invoice corrected by the cluster provider" in ledger
    assert "11,500 GPU-h" in ledger
    assert "Corrected" in page.locator(f"#entry-{entry.pk}").inner_text()
    assert ComputeContribution.objects.count() == before + 3
    screenshot("lab", phone=True)


def test_a_form_with_bad_input_shows_the_error_beside_the_field_and_saves_nothing(page, log_in, screenshot):
    world = seed_world()
    before = ComputeContribution.objects.count()
    log_in("alice", world.password)
    page.goto("/labs/aurora/contributions/new/")
    page.get_by_label("Period start").fill("2026-10-01")
    page.get_by_label("Period end").fill("2026-09-01")
    page.get_by_label("GPU-hours pledged").fill("-5")
    page.get_by_label("GPU-hours delivered").fill("100")
    page.get_by_role("button", name="Log contribution").click()

    end_error = page.locator("#id_period_end_error")
    end_error.wait_for()
    assert "end on or after its start" in end_error.inner_text()
    assert page.locator("#id_period_end").get_attribute("aria-invalid") == "true"
    assert "id_period_end_error" in page.locator("#id_period_end").get_attribute("aria-describedby")
    # The error sits inside the same field block as its input.
    assert page.locator("#id_period_end_wrap #id_period_end_error").count() == 1
    assert "cannot be negative" in page.locator("#id_gpu_hours_pledged_error").inner_text()
    assert page.get_by_text("Nothing was saved").is_visible()
    assert ComputeContribution.objects.count() == before
    screenshot("form-error", phone=True)


def test_a_lab_user_is_refused_another_labs_edit_page(page, log_in, screenshot):
    world = seed_world()
    log_in("alice", world.password)
    page.goto("/labs/borealis/")
    assert page.get_by_role("link", name="Edit profile").count() == 0
    assert page.get_by_role("link", name="Log a contribution").count() == 0

    for path in ("/labs/borealis/edit/", "/labs/borealis/contributions/new/", "/labs/borealis/artifacts/new/"):
        response = page.goto(path)
        assert response.status == 403, path
        assert page.get_by_role("heading", name="You can't change this").is_visible()
    screenshot("forbidden")

    response = page.goto("/simulations/consortia/open-frontier/scenarios/new/")
    assert response.status == 403


def test_two_scenarios_are_compared_side_by_side_with_a_chart(page, log_in, screenshot):
    world = seed_world()
    founders = f.ScenarioFactory(
        consortium=world.consortium, name="Three founders", labs=world.labs, rules=["shapley", "proportional"]
    )
    wider = f.ScenarioFactory(
        consortium=world.consortium,
        name="With Delta",
        labs=[*world.labs, world.candidate],
        rules=["shapley", "proportional"],
    )
    founders_run = seed_results(founders)
    seed_results(wider, savings_shift=4)
    log_in("alice", world.password)
    assert page.locator(".savings-card").count() == 2
    screenshot("dashboard", phone=True)
    page.context.clear_cookies()

    log_in("coord", world.password)
    page.goto(world.consortium.get_absolute_url())
    assert_painted(page, "chart-contributions")
    screenshot("consortium", phone=True)

    page.get_by_role("link", name="Compare scenarios").click()
    page.get_by_label("Three founders").check()
    page.get_by_label("With Delta").check()
    page.get_by_role("button", name="Compare").click()

    assert_painted(page, "chart-compare")
    table = page.locator("table").first.inner_text()
    assert "Delta Institute" in table
    assert re.search(r"\+\$[\d,]+ \(\+4\.0 pts\)", table)
    assert page.get_by_role("link", name="Comparison CSV").is_visible()
    screenshot("compare", phone=True)

    page.goto(f"/simulations/runs/{founders_run.pk}/report/{world.labs[1].pk}/")
    page.get_by_role("heading", name="Savings report: Borealis Lab").wait_for()
    page.emulate_media(media="print")
    assert not page.locator(".site-header").is_visible()
    assert not page.get_by_role("button", name="Print").is_visible()
    assert page.get_by_text("Consortium planner · savings report").is_visible()
    page.emulate_media(media="screen")


@pytest.mark.services
def test_coordinator_builds_a_scenario_runs_it_on_a_worker_and_sees_the_charts(page, log_in, screenshot, start_worker):
    world = seed_world()
    start_worker(concurrency=2)
    log_in("coord", world.password)
    page.goto(world.consortium.get_absolute_url())
    page.get_by_role("link", name="New scenario").first.click()

    page.get_by_label("Name").fill("Three founders")
    for lab in world.labs:
        page.get_by_label(lab.name, exact=True).check()
    page.get_by_label("Equal split", exact=True).check()
    page.get_by_label("Replication factor").fill("1.3")
    page.get_by_label("Horizon").fill("3")
    # Enough draws for several chunks, so the bar is seen moving before it reaches done.
    page.get_by_label("Monte Carlo draws").fill("1500")
    screenshot("scenario-editor", phone=True)
    page.get_by_role("button", name="Save scenario").click()

    page.get_by_text("Scenario “Three founders” saved").wait_for()
    screenshot("scenario")
    page.get_by_role("button", name="Run simulation").click()

    progress = page.locator("#run-progress")
    progress.wait_for()
    assert progress.get_attribute("hx-trigger") == "every 1s"
    # A marker on the window survives only if the page is never reloaded while the bar moves.
    page.evaluate("window.notReloaded = true")
    # Watch the bar as htmx swaps it in, until the run is done (two minutes at most).
    seen = []
    for _ in range(240):
        seen.append(progress.get_attribute("data-status"))
        if seen[-1] == "succeeded":
            break
        if seen[-1] == "running" and seen.count("running") == 1:
            screenshot("run-running")
        page.wait_for_timeout(500)
    assert seen[-1] == "succeeded", seen
    assert {"queued", "running"} & set(seen), "the bar was never seen before the run finished"
    assert page.evaluate("window.notReloaded === true"), "the page reloaded instead of updating the bar"
    bar = page.get_by_role("progressbar", name="Simulation progress")
    assert bar.get_attribute("aria-valuenow") == "100"
    assert page.locator("#run-progress").get_attribute("hx-trigger") is None
    screenshot("run-progress")

    page.get_by_role("link", name="View results").click()
    for canvas in ("chart-costs", "chart-savings", "chart-years"):
        assert_painted(page, canvas)
    assert page.get_by_role("heading", name="Stability").is_visible()
    assert page.get_by_role("heading", name=re.compile("Settlement under")).is_visible()
    screenshot("results", phone=True)

    page.get_by_role("link", name=f"Savings report for {world.labs[0].name}").click()
    page.get_by_role("heading", name=re.compile("Savings report: ")).wait_for()
    screenshot("report")


ACCESSIBILITY_PROBLEMS = """() => {
  const problems = [];
  const h1 = document.querySelectorAll("h1").length;
  if (h1 !== 1) { problems.push(`${h1} h1 headings`); }
  document.querySelectorAll("input, select, textarea").forEach((el) => {
    if (el.type === "hidden" || el.offsetParent === null) { return; }
    if (!(el.labels && el.labels.length) && !el.getAttribute("aria-label")) { problems.push(`unlabelled ${el.name}`); }
  });
  document.querySelectorAll("canvas").forEach((el) => {
    if (!el.getAttribute("aria-label")) { problems.push(`canvas ${el.id} has no label`); }
  });
  const ids = Array.from(document.querySelectorAll("[id]"), (el) => el.id);
  ids.filter((id, i) => ids.indexOf(id) !== i).forEach((id) => problems.push(`duplicate id ${id}`));
  document.querySelectorAll("a").forEach((el) => {
    if (!el.textContent.trim() && !el.getAttribute("aria-label")) { problems.push(`empty link ${el.href}`); }
  });
  return problems;
}"""


LOW_CONTRAST = """() => {
  // WCAG 2 contrast of every text against the first opaque background behind it: 4.5:1, or 3:1 for large text.
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) { return c.slice(0, 3); }
    }
    return [255, 255, 255];
  };
  const problems = [];
  document.querySelectorAll("body *").forEach((el) => {
    const text = Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!text || el.offsetParent === null || el.closest(".sr-only, option, script")) { return; }
    const style = getComputedStyle(el);
    const a = lum(rgb(style.color).slice(0, 3));
    const b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) { problems.push(`${el.tagName}.${el.className} ${ratio.toFixed(2)}`); }
  });
  return problems;
}"""


def test_every_main_page_has_one_title_labelled_inputs_charts_and_readable_contrast(page, log_in):
    world = seed_world()
    scenario = f.ScenarioFactory(consortium=world.consortium, name="Three founders", labs=world.labs)
    run = seed_results(scenario)
    other = f.ScenarioFactory(consortium=world.consortium, name="Lean", labs=world.labs)
    seed_results(other)
    pages = [
        "/dashboard/",
        "/labs/",
        "/labs/borealis/",
        "/labs/borealis/edit/",
        "/labs/borealis/contributions/new/",
        "/labs/borealis/artifacts/new/",
        "/labs/borealis/reuse/new/",
        world.consortium.get_absolute_url(),
        f"/simulations/scenarios/{scenario.pk}/",
        run.get_absolute_url(),
        f"/simulations/runs/{run.pk}/report/{world.labs[1].pk}/",
        f"/simulations/consortia/open-frontier/compare/?scenarios={scenario.pk}&scenarios={other.pk}",
    ]
    for path in ("/", "/accounts/login/"):
        page.goto(path)
        assert page.evaluate(ACCESSIBILITY_PROBLEMS) == [], path
        assert page.evaluate(LOW_CONTRAST) == [], path
    log_in("bob", world.password)
    for path in pages:
        page.goto(path)
        assert page.evaluate(ACCESSIBILITY_PROBLEMS) == [], path
        assert page.evaluate(LOW_CONTRAST) == [], path
    page.context.clear_cookies()
    log_in("coord", world.password)
    for path in (
        "/simulations/consortia/open-frontier/scenarios/new/",
        f"/simulations/scenarios/{scenario.pk}/edit/",
        "/consortia/open-frontier/members/change/",
    ):
        page.goto(path)
        assert page.evaluate(ACCESSIBILITY_PROBLEMS) == [], path
        assert page.evaluate(LOW_CONTRAST) == [], path
