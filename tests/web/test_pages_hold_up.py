"""Pages say what is true: the settlement's formula, dashboards for people without a lab in a run, an
explicit comparison baseline, the chart palette, singular units, and the error pages outside DEBUG."""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path

import pytest
from django.urls import reverse

from tests import factories as f
from tests.browser.seed import seed_results

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def text_of(response) -> str:
    assert response.status_code == 200
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_the_settlement_states_the_formula_its_numbers_follow(world, client):
    run = seed_results(world.scenario)
    row = run.member_results.filter(rule=run.member_results.first().rule).order_by("lab_name").first()
    row.direct_cost = 1_000_000.0
    row.delivered_value = 250_000.0
    row.allocated_cost = 1_600_000.0
    row.settlement = row.allocated_cost - row.direct_cost - row.delivered_value
    row.save()
    client.force_login(world.user_a)
    page = client.get(run.get_absolute_url(), {"rule": row.rule}).content.decode()
    formula = re.search(r'<p id="settlement-formula">(.*?)</p>', page, re.S).group(1)
    minus = "\N{MINUS SIGN}"
    assert f"allocated cost {minus} own direct costs {minus} value of compute delivered in kind" in formula
    table = re.search(r'<table class="stack settlement-table">.*?</table>', page, re.S).group(0)
    assert "$1,600,000" in table and "$1,000,000" in table and "$250,000" in table
    assert "pays $350,000" in table


def test_docs_state_the_same_settlement_formula():
    api = (ROOT / "docs" / "api.md").read_text()
    model = (ROOT / "docs" / "model.md").read_text()
    assert "settlement_i = pool_share_i - delivered_value_i" in model and "pool_share_i = x_i - p_i" in model
    assert "allocated cost minus the member's own direct\ncosts minus the value it delivered in kind" in api


def test_a_coordinator_without_a_lab_sees_the_finished_runs_not_an_empty_savings_card(world, client):
    run = seed_results(world.scenario)
    client.force_login(world.coordinator)
    page = text_of(client.get(reverse("dashboard")))
    assert "No savings to show yet" not in page
    assert "Latest results" in page
    assert f'href="{run.get_absolute_url()}"' in client.get(reverse("dashboard")).content.decode()
    assert "Coordinator" in page
    assert "Your lab:" not in page and "Staff access" not in page


def test_staff_see_staff_access_not_a_member_badge(world, client):
    seed_results(world.scenario)
    client.force_login(world.staff)
    html = client.get(reverse("dashboard")).content.decode()
    consortia = re.search(r'aria-labelledby="consortia-h">.*?</section>', html, re.S).group(0)
    assert consortia.count("Staff access") == 2  # C and D
    assert ">Member<" not in consortia and "Your lab:" not in consortia
    assert "Latest results" in html


def test_a_lab_user_sees_their_labs_status_in_each_consortium(world, client):
    client.force_login(world.user_a)
    html = client.get(reverse("dashboard")).content.decode()
    assert "Your lab: Member" in html
    assert "Staff access" not in html


def test_a_lab_user_with_no_finished_run_still_gets_the_empty_state(world, client):
    client.force_login(world.user_a)
    assert "No savings to show yet" in text_of(client.get(reverse("dashboard")))


@pytest.fixture
def three_runs(world):
    lab_c = f.LabFactory(name="Lab C", slug="lab-c")
    f.MembershipFactory(consortium=world.consortium, lab=lab_c)
    scenarios = [
        world.scenario,
        f.ScenarioFactory(consortium=world.consortium, name="Bigger", labs=[world.lab_a, world.lab_b, lab_c]),
        f.ScenarioFactory(consortium=world.consortium, name="Cheaper", labs=[world.lab_a, world.lab_b]),
    ]
    for shift, scenario in enumerate(scenarios):
        seed_results(scenario, savings_shift=shift * 1000.0)
    return scenarios


def compare_url(world) -> str:
    return reverse("simulations:compare", args=[world.consortium.slug])


def test_the_compare_page_takes_an_explicit_baseline(world, client, three_runs):
    client.force_login(world.coordinator)
    ids = [scenario.pk for scenario in three_runs]
    page = client.get(compare_url(world), {"scenarios": ids, "baseline": ids[2]}).content.decode()
    assert re.search(r'id="compare-baseline-name">“Cheaper”', page)
    headers = re.findall(r'<th scope="col" class="num"><a href="[^"]+">([^<]+)</a>', page)
    assert headers == ["Cheaper", "All in", "Bigger"]
    assert f'<option value="{ids[2]}" selected>Cheaper</option>' in page
    csv_text = client.get(
        reverse("simulations:compare_csv", args=[world.consortium.slug]), {"scenarios": ids, "baseline": ids[2]}
    ).content.decode()
    first_scenario_column = re.search(r"scenario_(\d+)_", csv_text.splitlines()[0]).group(1)
    assert int(first_scenario_column) == ids[2]


def test_without_a_baseline_the_first_ticked_scenario_is_the_baseline(world, client, three_runs):
    client.force_login(world.coordinator)
    ids = [scenario.pk for scenario in three_runs]
    page = client.get(compare_url(world), {"scenarios": ids}).content.decode()
    assert re.search(r'id="compare-baseline-name">“All in”', page)


def test_a_baseline_outside_the_comparison_is_refused_beside_the_field(world, client, three_runs):
    client.force_login(world.coordinator)
    ids = [scenario.pk for scenario in three_runs]
    response = client.get(compare_url(world), {"scenarios": ids[:2], "baseline": ids[2]})
    assert response.status_code == 400
    error = re.search(r'<p class="error" id="id_baseline_error"[^>]*>(.*?)</p>', response.content.decode(), re.S)
    assert "“Cheaper” is not among the scenarios compared" in error.group(1).replace("&ldquo;", "“")


def test_a_one_year_horizon_reads_1_year(world, client):
    world.scenario.parameters = {**world.scenario.parameters, "horizon_years": 1}
    world.scenario.save()
    client.force_login(world.user_a)
    page = text_of(client.get(world.scenario.get_absolute_url()))
    assert "1 years" not in page
    assert re.search(r"\b1 year\b", page)


# Chart colours -----------------------------------------------------------------------------------


def _palette() -> list[str]:
    source = (ROOT / "static" / "js" / "charts.js").read_text()
    block = re.search(r"var PALETTE = \[(.*?)\];", source, re.S).group(1)
    return re.findall(r'"(#[0-9a-fA-F]{6})"', block)


def _lab(colour: str) -> tuple[float, float, float]:
    """sRGB hex to CIELAB (D65), the space where distance approximates perceived difference."""
    rgb = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    xyz = (
        (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047,
        0.2126 * r + 0.7152 * g + 0.0722 * b,
        (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883,
    )
    fx, fy, fz = [t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116 for t in xyz]
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def _contrast_on_white(colour: str) -> float:
    rgb = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 1.05 / (0.2126 * r + 0.7152 * g + 0.0722 * b + 0.05)


def test_the_chart_palette_keeps_24_members_apart():
    """Every pair of the first 24 colours differs by at least 25 (CIE76 Delta E; about 2.3 is a just
    noticeable difference), so a 24-member chart never repeats or nearly repeats a colour."""
    palette = _palette()
    assert len(palette) >= 24
    colours = palette[:24]
    closest = min(math.dist(_lab(a), _lab(b)) for a, b in itertools.combinations(colours, 2))
    assert closest >= 25, closest


def test_every_chart_colour_stands_out_on_white():
    """WCAG 2.1 asks 3:1 for graphical objects."""
    assert min(_contrast_on_white(colour) for colour in _palette()) >= 3


# Error pages outside DEBUG ------------------------------------------------------------------------


def test_make_run_leaves_debug_off_unless_asked():
    script = (ROOT / "scripts" / "run").read_text()
    assert "export DEBUG=${DEBUG:-false}" in script
    assert "collectstatic" in script


@pytest.mark.parametrize(("url", "status", "heading"), [("/labs/no-such-lab/", 404, "Page not found")])
def test_a_missing_page_gets_the_sites_own_styled_page(world, client, settings, url, status, heading):
    settings.DEBUG = False
    client.force_login(world.user_a)
    response = client.get(url)
    assert response.status_code == status
    page = response.content.decode()
    assert f"<h1>{heading}</h1>" in page
    assert 'class="site-header"' in page and "/static/css/app.css" in page
    assert "URLconf" not in page


def test_a_page_the_user_may_not_change_gets_the_styled_403(world, client):
    client.force_login(world.user_b)
    response = client.get(reverse("labs:edit", args=["lab-a"]))
    assert response.status_code == 403
    page = response.content.decode()
    assert "<h1>You can&#x27;t change this</h1>" in page or "<h1>You can't change this</h1>" in page
    assert 'class="site-header"' in page


def test_the_500_page_stands_alone_with_the_stylesheet():
    page = (ROOT / "templates" / "500.html").read_text()
    assert "{% extends" not in page  # rendered without a request context when something broke
    assert "css/app.css" in page and "<h1>" in page


def test_the_print_view_hides_the_breadcrumb_and_fits_tables():
    css = (ROOT / "static" / "css" / "app.css").read_text()
    print_rules = " ".join(re.findall(r"@media print \{(.*?)\n\}", css, re.S))
    assert re.search(r"\.breadcrumbs \{ display: none", print_rules)
    assert re.search(r"td\.num, th\.num \{ white-space: normal; \}", print_rules)
