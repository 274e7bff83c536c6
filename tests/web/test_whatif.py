"""The scenario page's live what-if: central figures with one input changed, nothing saved."""

from __future__ import annotations

import dataclasses
import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from consortium import services as consortium_services
from consortium.models import Scenario
from simulations import services, whatif
from simulations.engine.whatif import central_outcome
from simulations.models import SimulationRun
from simulations.tests.conftest import execute_in_process

pytestmark = pytest.mark.django_db


def panel(client, scenario, target="", value=None, htmx=True):
    data = {"target": target}
    if value is not None:
        data["value"] = value
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.get(reverse("simulations:whatif", args=[scenario.pk]), data, **headers)


def save_url(scenario):
    return reverse("simulations:whatif_save", args=[scenario.pk])


def counts():
    return Scenario.objects.count(), SimulationRun.objects.count()


def figures(page: str) -> dict[str, float]:
    """The what-if savings (US$) per member, as the panel marks them."""
    found = re.findall(r'<tr data-member="([^"]+)">.*?data-savings-usd="([-0-9.]+)"', page, re.S)
    return {name: float(value) for name, value in found}


def central_of(scenario) -> dict[str, float]:
    outcome = central_outcome(services.scenario_spec_build(scenario=scenario))
    return dict(zip(outcome.names, outcome.savings, strict=True))


@pytest.mark.parametrize(
    ("target", "value", "change"),
    [
        ("p.replication", "1.6", lambda s, w: {"parameters": {**s.effective_parameters(), "replication": 1.6}}),
        (
            "p.shareable_fraction",
            "0.3",
            lambda s, w: {"parameters": {**s.effective_parameters(), "shareable_fraction": [0.3] * 6}},
        ),
        ("p.horizon_years", "3", lambda s, w: {"parameters": {**s.effective_parameters(), "horizon_years": 3}}),
        (
            "p.shared_base_model",
            "on",
            lambda s, w: {"parameters": {**s.effective_parameters(), "shared_base_model": True}},
        ),
        ("o.{b}.openness", "0.3", lambda s, w: {"overrides": {str(w.lab_b.pk): {"openness": 0.3}}}),
        ("o.{b}.rd_share", "0.6", lambda s, w: {"overrides": {str(w.lab_b.pk): {"rd_share": 0.6}}}),
        ("o.{a}.gpu_type", "A100", lambda s, w: {"overrides": {str(w.lab_a.pk): {"gpu_type": "A100"}}}),
    ],
)
def test_the_panels_figures_equal_a_central_computation_of_the_scenario_with_the_change(
    world, client, target, value, change
):
    """Each member's what-if savings are those of a saved scenario with the change, at central parameters."""
    target = target.format(a=world.lab_a.pk, b=world.lab_b.pk)
    client.force_login(world.coordinator)
    before = counts()
    response = panel(client, world.scenario, target, value)
    assert response.status_code == 200
    shown = figures(response.content.decode())
    assert counts() == before

    changed = consortium_services.scenario_duplicate(scenario=world.scenario, by=world.coordinator)
    consortium_services.scenario_update(scenario=changed, **change(world.scenario, world))
    expected = central_of(changed)
    assert set(shown) == set(expected)
    for name, saving in expected.items():
        assert shown[name] == pytest.approx(saving, abs=0.01)


def test_the_panels_figures_equal_a_runs_central_figures_with_the_change(world, client, fake_broker):
    """A run of the saved change stores the same central savings and core verdict the panel showed."""
    client.force_login(world.coordinator)
    target = f"o.{world.lab_b.pk}.openness"
    result = whatif.whatif_compute(
        scenario=world.scenario,
        change=whatif.whatif_change_clean(scenario=world.scenario, target_key=target, value="0.4"),
    )
    response = client.post(save_url(world.scenario), {"target": target, "value": "0.4"})
    saved = Scenario.objects.get(pk=int(response.url.strip("/").split("/")[-1]))
    run = services.run_create(scenario=saved, started_by=world.coordinator, draws=4)
    execute_in_process(run)
    rule = saved.rules[0]
    stored = {row.lab_name: row.savings_central for row in run.member_results.filter(rule=rule)}
    for line in result.lines:
        assert line.savings == pytest.approx(stored[line.name], rel=1e-9, abs=1e-6)
    assert run.stability_results.get(rule=rule).in_core == result.outcome.stability.in_core


@pytest.mark.parametrize(
    ("target", "value"),
    [
        ("p.replication", "1.7"),
        ("p.coordination_fixed", "5000000"),
        ("o.{b}.final_run_gpu_hours", "750000"),
        ("o.{b}.price_per_gpu_hour", "2.1"),
        ("o.{b}.gpu_type", "other"),
        ("o.{a}.throughput_factor", "0.4"),
        ("o.{a}.gpu_type", "H200"),
    ],
)
def test_the_changed_spec_is_the_runs_spec_of_the_changed_scenario(world, target, value):
    """The what-if's spec, derived from the scenario's own, is what scenario_spec_build gives the changed row."""
    consortium_services.scenario_update(
        scenario=world.scenario, overrides={str(world.lab_b.pk): {"throughput_factor": 0.8, "openness": 0.6}}
    )
    target = target.format(a=world.lab_a.pk, b=world.lab_b.pk)
    change = whatif.whatif_change_clean(scenario=world.scenario, target_key=target, value=value)
    own = services.scenario_spec_build(scenario=world.scenario)
    derived = whatif.changed_spec(spec=own, scenario=world.scenario, change=change)
    built = services.scenario_spec_build(scenario=whatif.changed_scenario(scenario=world.scenario, change=change))
    assert derived == built
    assert derived != own


def test_a_new_value_gets_the_figures_alone_and_a_new_target_the_whole_panel(world, client):
    client.force_login(world.coordinator)
    url = reverse("simulations:whatif", args=[world.scenario.pk])
    answer = client.get(
        url, {"target": "p.replication", "value": "1.5"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="whatif-results"
    )
    page = answer.content.decode()
    assert 'id="whatif-results"' in page and 'id="whatif-value-error"' in page and '<form method="get"' not in page
    assert answer["Server-Timing"].startswith("engine;dur=")
    whole = client.get(url, {"target": "p.replication"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="whatif").content
    assert b'<div id="whatif" class="whatif">' in whole and b'id="whatif_value"' in whole


def test_the_panel_shows_the_baseline_beside_the_what_if_and_the_verdicts(world, client):
    client.force_login(world.coordinator)
    page = panel(client, world.scenario, "p.replication", "1.5").content.decode()
    baseline = central_of(world.scenario)

    assert "Savings now" in page and "What if" in page and "Change" in page
    assert "Replication factor: <strong>1.2</strong> → <strong>1.5</strong> x" in page
    assert "<strong>Now:</strong> in the core" in page or "<strong>Now:</strong> not in the core" in page
    assert '<li id="whatif-verdict"><strong>What if:</strong>' in page
    assert "Save as new scenario" in page
    # The baseline figure per member, in whole dollars.
    for saving in baseline.values():
        assert f"${round(saving):,}" in page


def test_a_target_alone_shows_the_scenarios_own_figures_and_its_current_value(world, client):
    client.force_login(world.coordinator)
    page = panel(client, world.scenario, f"o.{world.lab_b.pk}.openness").content.decode()
    assert 'data-state="baseline"' in page
    assert "Now 1" in page
    assert "Stability now:" in page
    assert "Save as new scenario" not in page


def test_the_baseline_is_cached_until_the_scenarios_inputs_change(world):
    change = whatif.whatif_change_clean(scenario=world.scenario, target_key="p.replication", value="1.4")
    assert whatif.whatif_compute(scenario=world.scenario, change=change).baseline_cached in (True, False)
    assert whatif.whatif_compute(scenario=world.scenario, change=change).baseline_cached is True
    world.lab_b.openness = 0.5
    world.lab_b.save()
    again = whatif.whatif_compute(scenario=world.scenario, change=change)
    assert again.baseline_cached is False
    assert dict(zip(again.baseline.names, again.baseline.savings, strict=True)) == pytest.approx(
        central_of(world.scenario)
    )


@pytest.mark.parametrize(
    ("target", "value", "message"),
    [
        ("p.replication", "9", "Must be between 1 to 3 x; got 9."),
        ("p.replication", "abc", "Enter a number."),
        ("p.replication", "nan", "Enter a number."),
        ("p.horizon_years", "2.5", "Enter a whole number."),
        ("p.shareable_fraction", "-0.1", "Must be between 0 to 1 fraction; got -0.1."),
        ("p.shared_base_model", "maybe", "Select a valid choice."),
        ("o.{b}.openness", "1.5", "Ensure this value is less than or equal to 1"),
        ("o.{b}.rd_share", "1", None),
        ("o.{b}.final_run_gpu_hours", "-5", None),
        ("o.{b}.gpu_type", "Z999", "Select a valid choice."),
        ("o.{b}.price_per_gpu_hour", "1e400", None),
    ],
)
def test_bad_values_get_a_message_in_the_panel_and_save_nothing(world, client, target, value, message):
    target = target.format(b=world.lab_b.pk)
    client.force_login(world.coordinator)
    before = counts()
    response = panel(client, world.scenario, target, value)
    page = response.content.decode()
    assert response.status_code == 200
    error = re.search(r'<p class="error" id="whatif-value-error" role="alert">(.*?)</p>', page, re.S).group(1)
    assert error.strip()
    if message:
        assert message in error
    assert 'data-state="empty"' in page
    plain = panel(client, world.scenario, target, value, htmx=False)
    assert plain.status_code == 400 and b'id="whatif-value-error"' in plain.content
    saved = client.post(save_url(world.scenario), {"target": target, "value": value})
    assert saved.status_code == 400
    assert counts() == before


@pytest.mark.parametrize("target", ["p.nope", "o.999999.openness", "o.{d}.openness", "", "o.{a}.area_weights"])
def test_an_unknown_target_is_refused_with_a_message(world, client, target):
    target = target.format(a=world.lab_a.pk, d=world.lab_d.pk)
    client.force_login(world.coordinator)
    before = counts()
    response = panel(client, world.scenario, target, "0.5", htmx=False)
    assert response.status_code == 400
    assert b"Select a valid choice" in response.content or b"This field is required" in response.content
    response = client.post(save_url(world.scenario), {"target": target, "value": "1"})
    assert response.status_code == 400
    assert counts() == before


def test_an_override_what_if_keeps_the_labs_other_overrides(world, client):
    consortium_services.scenario_update(
        scenario=world.scenario, overrides={str(world.lab_b.pk): {"gpu_type": "other", "throughput_factor": 0.5}}
    )
    change = whatif.whatif_change_clean(scenario=world.scenario, target_key=f"o.{world.lab_b.pk}.openness", value="0.2")
    probe = whatif.changed_scenario(scenario=world.scenario, change=change)
    assert probe.overrides == {str(world.lab_b.pk): {"gpu_type": "other", "throughput_factor": 0.5, "openness": 0.2}}
    world.scenario.refresh_from_db()
    assert "openness" not in world.scenario.overrides[str(world.lab_b.pk)]
    # Lab.clean sees the lab with the change: type "other" needs a factor, which lab A has none of.
    with pytest.raises(ValidationError, match="no datasheet factor"):
        whatif.whatif_change_clean(scenario=world.scenario, target_key=f"o.{world.lab_a.pk}.gpu_type", value="other")


def test_save_as_new_creates_a_copy_with_the_change_and_redirects_to_it(world, client):
    consortium_services.scenario_update(scenario=world.scenario, overrides={str(world.lab_a.pk): {"rd_share": 0.7}})
    client.force_login(world.coordinator)
    before = Scenario.objects.count()
    response = client.post(
        reverse("simulations:whatif_save", args=[world.scenario.pk]), {"target": "p.replication", "value": "1.5"}
    )
    assert response.status_code == 302
    saved = Scenario.objects.exclude(pk=world.scenario.pk).get(consortium=world.consortium)
    assert response.url == saved.get_absolute_url()
    assert Scenario.objects.count() == before + 1
    assert saved.name == "All in — what if replication = 1.5"
    assert saved.parameters == {**world.scenario.effective_parameters(), "replication": 1.5}
    assert saved.overrides == world.scenario.overrides
    assert set(saved.labs.all()) == set(world.scenario.labs.all())
    assert (saved.rules, saved.draws, saved.seed, saved.created_by) == (
        world.scenario.rules,
        world.scenario.draws,
        world.scenario.seed,
        world.coordinator,
    )
    assert saved.runs.count() == 0
    world.scenario.refresh_from_db()
    assert world.scenario.effective_parameters()["replication"] == 1.2

    # Again: the name is taken, so the copy is numbered.
    client.post(save_url(world.scenario), {"target": "p.replication", "value": "1.5"})
    assert Scenario.objects.filter(name="All in — what if replication = 1.5 (2)").exists()

    response = client.post(
        reverse("simulations:whatif_save", args=[world.scenario.pk]),
        {"target": f"o.{world.lab_b.pk}.openness", "value": "0.25"},
    )
    override = Scenario.objects.get(name="All in — what if Lab B: openness = 0.25")
    assert override.overrides == {**world.scenario.overrides, str(world.lab_b.pk): {"openness": 0.25}}
    assert override.description == "All in with Lab B: openness 1 → 0.25."


def test_save_without_a_value_is_refused(world, client):
    client.force_login(world.coordinator)
    before = counts()
    response = client.post(save_url(world.scenario), {"target": "p.replication"})
    assert response.status_code == 400 and b"Enter the value to save." in response.content
    assert counts() == before


@pytest.mark.parametrize(
    ("role", "page_panel", "panel_status", "save_status"),
    [
        ("coordinator", True, 200, 302),
        ("user_a", False, 403, 403),
        ("user_b", False, 403, 403),
        ("staff", False, 403, 403),
        ("user_d", False, 404, 404),
        ("other_coordinator", False, 404, 404),
    ],
)
def test_permission_matrix(world, client, role, page_panel, panel_status, save_status):
    """Coordinators use the panel; members see the scenario without it (403 on its endpoints);
    other consortia see nothing (404)."""
    client.force_login(getattr(world, role))
    page = client.get(world.scenario.get_absolute_url())
    if panel_status == 404:
        assert page.status_code == 404
    else:
        assert page.status_code == 200
        assert (b'id="whatif"' in page.content) is page_panel
    before = Scenario.objects.count()
    assert panel(client, world.scenario, "p.replication", "1.5").status_code == panel_status
    assert panel(client, world.scenario, "p.replication", "1.5", htmx=False).status_code == panel_status
    response = client.post(
        reverse("simulations:whatif_save", args=[world.scenario.pk]), {"target": "p.replication", "value": "1.5"}
    )
    assert response.status_code == save_status
    assert Scenario.objects.count() == before + (save_status == 302)


def test_anonymous_users_are_sent_to_log_in(world, client):
    assert panel(client, world.scenario, "p.replication", "1.5").status_code == 302
    response = client.post(save_url(world.scenario), {"target": "p.replication"})
    assert response.status_code == 302 and Scenario.objects.count() == 1


def test_the_panels_endpoints_take_their_methods_only(world, client):
    client.force_login(world.coordinator)
    assert client.post(reverse("simulations:whatif", args=[world.scenario.pk])).status_code == 405
    assert client.get(reverse("simulations:whatif_save", args=[world.scenario.pk])).status_code == 405


def test_a_custom_game_has_no_panel(world, client):
    game = consortium_services.custom_game_create(
        consortium=world.consortium,
        created_by=world.coordinator,
        name="Game",
        kind="table",
        text="coalition,cost\nA,10\nB,10\nA+B,15",
        rules=["shapley"],
    )
    client.force_login(world.coordinator)
    assert b'id="whatif"' not in client.get(game.get_absolute_url()).content
    assert panel(client, game, "p.replication", "1.5").status_code == 404


def test_a_scenario_that_cannot_be_simulated_says_so_in_the_panel(world, client):
    Scenario.objects.filter(pk=world.scenario.pk).update(rules=["weighted"], weight_basis="shares")
    world.scenario.refresh_from_db()
    client.force_login(world.coordinator)
    before = counts()
    response = panel(client, world.scenario, "p.replication", "1.5")
    assert response.status_code == 200
    assert b"Give a weight for every lab" in response.content
    assert counts() == before


def test_too_many_labs_for_the_live_what_if_is_said_in_the_panel(world, client, monkeypatch):
    monkeypatch.setattr(whatif, "MAX_WHATIF_LABS", 1)
    client.force_login(world.coordinator)
    response = panel(client, world.scenario, "p.replication", "1.5")
    assert b"at most 1 labs" in response.content


def test_the_engine_outcome_is_the_runs_central_figures_for_every_rule(world):
    spec = services.scenario_spec_build(scenario=world.scenario)
    spec = dataclasses.replace(spec, rules=("shapley", "nucleolus", "proportional"), draws=0)
    from simulations.engine.scenario import run_scenario

    result = run_scenario(spec)
    for rule in spec.rules:
        outcome = central_outcome(spec, rule)
        members = result.rules[rule].members
        assert outcome.savings == pytest.approx(tuple(m.savings_central for m in members))
        assert outcome.stability.in_core == result.rules[rule].stability.in_core
        assert outcome.stability.blocking_coalition == result.rules[rule].stability.blocking_coalition


def test_an_unseen_scenarios_panel_answers_404_like_a_missing_one(world, client):
    """user_d cannot tell the consortium's scenario from one that does not exist."""
    from tests.web.test_permissions import _without_csrf

    client.force_login(world.user_d)
    for name, method in (("simulations:whatif", "get"), ("simulations:whatif_save", "post")):
        seen = getattr(client, method)(
            reverse(name, args=[world.scenario.pk]), {"target": "p.replication", "value": "2"}
        )
        absent = getattr(client, method)(reverse(name, args=[999999]), {"target": "p.replication", "value": "2"})
        assert (seen.status_code, absent.status_code) == (404, 404)
        assert _without_csrf(seen.content) == _without_csrf(absent.content)
    assert Scenario.objects.count() == 1


@pytest.mark.parametrize(("target", "value"), [("o.{a}.final_run_gpu_hours", "750000"), ("o.{a}.openness", "0.3")])
def test_a_lab_with_ledger_openness_keeps_it_when_another_input_changes(world, target, value):
    """Under "from the ledger", changing a lab's other inputs keeps its measured openness; changing its
    openness overrides it, as the saved scenario's runs would."""
    import datetime

    from tests.factories import ArtifactFactory

    today = datetime.date.today()
    ArtifactFactory(lab=world.lab_a, openness="internal_fork", reproduction_gpu_hours=100, release_date=today)
    ArtifactFactory(lab=world.lab_a, openness="open", reproduction_gpu_hours=300, release_date=today)
    consortium_services.scenario_update(scenario=world.scenario, openness_source="ledger")
    own = services.scenario_spec_build(scenario=world.scenario)
    assert {lab.name: lab.openness for lab in own.labs}[world.lab_a.name] == pytest.approx(0.75)
    change = whatif.whatif_change_clean(
        scenario=world.scenario, target_key=target.format(a=world.lab_a.pk), value=value
    )
    derived = whatif.changed_spec(spec=own, scenario=world.scenario, change=change)
    built = services.scenario_spec_build(scenario=whatif.changed_scenario(scenario=world.scenario, change=change))
    assert derived == built


def test_the_scenario_page_has_no_duplicate_ids(world, client):
    """The what-if panel and the lever study both have a `target` field: their ids must differ, or a
    label points at the other form's field."""
    import re

    client.force_login(world.coordinator)
    body = client.get(world.scenario.get_absolute_url()).content.decode()
    ids = re.findall(r'\sid="([^"]+)"', body)
    assert sorted({i for i in ids if ids.count(i) > 1}) == []
