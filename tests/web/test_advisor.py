"""The membership advisor: its candidates, figures equal to runs with the lab added or removed, the
ranking and sentences, refusals with a message, and who may see it (coordinators only)."""

from __future__ import annotations

import dataclasses

import pytest
from django.core.cache import caches
from django.urls import reverse

from consortium.models import Application, Scenario
from labs.models import Lab
from simulations import engine
from simulations.advisor import advisor_candidates_get, advisor_get
from simulations.services import scenario_spec_build
from tests import factories as f

AREA_WEIGHTS = {
    "Lab A": {"pretraining_data": 0.5, "architecture_scaling": 0.1, "post_training_rl": 0.1, "evaluation": 0.1,
              "infrastructure_kernels": 0.1, "safety": 0.1},
    "Lab B": {"pretraining_data": 0.1, "architecture_scaling": 0.1, "post_training_rl": 0.1, "evaluation": 0.5,
              "infrastructure_kernels": 0.1, "safety": 0.1},
    "Lab C": {"pretraining_data": 0.3, "architecture_scaling": 0.1, "post_training_rl": 0.1, "evaluation": 0.3,
              "infrastructure_kernels": 0.1, "safety": 0.1},
    "Juniper": {"pretraining_data": 0.05, "architecture_scaling": 0.05, "post_training_rl": 0.05,
                "evaluation": 0.75, "infrastructure_kernels": 0.05, "safety": 0.05},
    "Sharer": {"pretraining_data": 0.6, "architecture_scaling": 0.1, "post_training_rl": 0.1, "evaluation": 0.1,
               "infrastructure_kernels": 0.05, "safety": 0.05},
}  # fmt: skip


@pytest.fixture(autouse=True)
def _fresh_cache():
    caches["local"].clear()
    yield
    caches["local"].clear()


@pytest.fixture
def adv(world):
    """`world` with lab C in the scenario; Juniper applied, Sharer reused Lab A's artifact, Source's artifact
    was reused by Lab B, Stranger has no tie to C, Lab D is in D only; a custom game of C; a scenario of D."""
    w = world
    for lab in (w.lab_a, w.lab_b):
        lab.area_weights = AREA_WEIGHTS[lab.name]
        lab.save()
    w.lab_c = f.LabFactory(name="Lab C", slug="lab-c", final_run_gpu_hours=1_500_000,
                           area_weights=AREA_WEIGHTS["Lab C"])  # fmt: skip
    f.MembershipFactory(consortium=w.consortium, lab=w.lab_c)
    w.scenario.labs.add(w.lab_c)
    w.juniper = f.LabFactory(name="Juniper", slug="juniper", final_run_gpu_hours=3_000_000, rd_share=0.85,
                             area_weights=AREA_WEIGHTS["Juniper"])  # fmt: skip
    Application.objects.create(consortium=w.consortium, lab=w.juniper, note="We evaluate.")
    w.sharer = f.LabFactory(name="Sharer", slug="sharer", final_run_gpu_hours=400_000, openness=0.5,
                            area_weights=AREA_WEIGHTS["Sharer"])  # fmt: skip
    f.ArtifactReuseFactory(artifact=f.ArtifactFactory(lab=w.lab_a), reusing_lab=w.sharer)
    w.source = f.LabFactory(name="Source", slug="source", final_run_gpu_hours=200_000)
    f.ArtifactReuseFactory(artifact=f.ArtifactFactory(lab=w.source), reusing_lab=w.lab_b)
    w.stranger = f.LabFactory(name="Stranger", slug="stranger")
    f.ArtifactReuseFactory(artifact=f.ArtifactFactory(lab=w.lab_d), reusing_lab=w.stranger)
    w.custom = f.ScenarioFactory(
        consortium=w.consortium,
        name="Negotiated table",
        labs=[],
        kind="table",
        rules=["shapley"],
        game={"players": ["A", "B"], "coalitions": {"A": 1.0, "B": 1.0, "A+B": 1.5}},
    )
    w.other_scenario = f.ScenarioFactory(consortium=w.other_consortium, name="D alone", labs=[w.lab_d])
    return w


def _central(scenario: Scenario, rule: str) -> tuple[float, dict[str, float]]:
    """The normal path: the scenario's spec, run at central parameters (no draws)."""
    result = engine.run_scenario(scenario_spec_build(scenario=scenario, draws=0))
    return result.grand_cost, {m.name: m.savings_central for m in result.rules[rule].members}


def _copy(scenario: Scenario, labs) -> Scenario:
    copy = f.ScenarioFactory(
        consortium=scenario.consortium,
        name=f"{scenario.name} with {', '.join(lab.name for lab in labs)}",
        labs=labs,
        rules=scenario.rules,
        parameters=scenario.parameters,
        seed=scenario.seed,
    )
    return copy


def test_candidates_are_applicants_participants_and_labs_sharing_artifacts(adv, django_assert_max_num_queries):
    f.MembershipFactory(consortium=adv.consortium, lab=f.LabFactory(name="Observer O", slug="obs"), status="observer")
    with django_assert_max_num_queries(1):
        candidates, left_off = advisor_candidates_get(scenario=adv.scenario)
    assert [(c.lab.name, c.sources) for c in candidates] == [
        ("Juniper", ("applied",)),
        ("Observer O", ("observer",)),
        ("Sharer", ("shares",)),
        ("Source", ("shares",)),
    ]
    assert left_off == 0


def test_candidates_beyond_the_limit_are_counted(adv, settings):
    settings.ADVISOR_MAX_CANDIDATES = 2
    candidates, left_off = advisor_candidates_get(scenario=adv.scenario)
    assert [c.lab.name for c in candidates] == ["Juniper", "Sharer"]
    assert left_off == 1


@pytest.mark.parametrize("rule", ["shapley", "nucleolus", "proportional"])
def test_advisor_figures_equal_runs_with_the_lab_added_or_removed(adv, rule):
    adv.scenario.rules = [rule, "equal"]
    adv.scenario.save()
    report = advisor_get(scenario=adv.scenario)
    base_cost, base = _central(adv.scenario, rule)
    assert report.advice.grand_cost == pytest.approx(base_cost, rel=1e-12)
    assert report.advice.savings == pytest.approx(base, rel=1e-12)
    labs = list(adv.scenario.labs.order_by("name"))
    for variant in report.advice.joins:
        joined = [*labs, Lab.objects.get(name=variant.lab)]
        cost, after = _central(_copy(adv.scenario, joined), rule)
        assert variant.grand_cost == pytest.approx(cost, rel=1e-12)
        assert variant.grand_cost_change == pytest.approx(cost - base_cost, rel=1e-9, abs=1e-6)
        assert variant.own_savings == pytest.approx(after[variant.lab], rel=1e-12, abs=1e-6)
        assert {c.name: c.after for c in variant.changes} == pytest.approx(
            {name: after[name] for name in base}, rel=1e-12
        )
        assert {c.name: c.before for c in variant.changes} == pytest.approx(base, rel=1e-12)
    for variant in report.advice.leaves:
        staying = [lab for lab in labs if lab.name != variant.lab]
        cost, after = _central(_copy(adv.scenario, staying), rule)
        assert variant.grand_cost == pytest.approx(cost, rel=1e-12)
        assert variant.own_savings == pytest.approx(base[variant.lab], rel=1e-12)
        assert {c.name: c.after for c in variant.changes} == pytest.approx(after, rel=1e-12)


def test_weighted_first_rule_weighs_each_variant_as_its_run_would(adv):
    """Fixed shares name every lab: a candidate has none, so its joining is not computed, with the reason."""
    s = adv.scenario
    s.rules = ["weighted"]
    s.weight_basis = "scale"
    s.weight_values = {str(adv.lab_a.pk): 3, str(adv.lab_b.pk): 1, str(adv.lab_c.pk): 2}
    s.save()
    report = advisor_get(scenario=s)
    joins = {v.lab: v for v in report.advice.joins}
    assert "Give a weight for every lab of the scenario; missing: Juniper." in joins["Juniper"].error
    assert all(v.error for v in report.advice.joins)
    leave = {v.lab: v for v in report.advice.leaves}["Lab C"]
    assert not leave.error
    staying = _copy(s, [adv.lab_a, adv.lab_b])
    staying.rules, staying.weight_basis = ["weighted"], "scale"
    staying.weight_values = {str(adv.lab_a.pk): 3, str(adv.lab_b.pk): 1}
    staying.save()
    _, after = _central(staying, "weighted")
    assert {c.name: c.after for c in leave.changes} == pytest.approx(after, rel=1e-12)


def test_joins_and_leaves_are_ranked_by_the_members_total_change(adv):
    advice = advisor_get(scenario=adv.scenario).advice
    totals = [v.total_change for v in advice.joins]
    assert totals == sorted(totals, reverse=True)
    assert advice.joins[0].lab == "Juniper"
    leaving = [v.total_change for v in advice.leaves]
    assert leaving == sorted(leaving)
    assert sorted(v.lab for v in advice.leaves) == ["Lab A", "Lab B", "Lab C"]


def test_sentences_name_the_lab_its_area_and_the_members_that_need_it(adv):
    advice = advisor_get(scenario=adv.scenario).advice
    juniper = next(v for v in advice.joins if v.lab == "Juniper")
    # Juniper: 3,000,000 x 0.85 / 0.15 GPU-h of R&D, 75% evaluation, half of it shareable, fully open.
    assert juniper.brings.area == "evaluation"
    assert juniper.brings.gpu_hours == pytest.approx(3e6 * 0.85 / 0.15 * 0.75 * 0.5)
    assert juniper.brings.needing == ("Lab B", "Lab C")
    assert juniper.reason.startswith(
        "Juniper brings 6.4M H100-equivalent GPU-hours a year of shareable evaluation research, "
        "an area where 2 members put at least 20% of their research; "
    )
    if juniper.better_off == 3:
        assert "every member saves more" in juniper.reason
    sharer = next(v for v in advice.joins if v.lab == "Sharer")
    assert sharer.brings.area == "pretraining_data"
    assert sharer.brings.needing == ("Lab A", "Lab C")
    lab_b = next(v for v in advice.leaves if v.lab == "Lab B")
    assert lab_b.reason.startswith("Lab B's leaving takes away ")
    assert "shareable evaluation research, an area where 1 member puts at least 20% of its research" in lab_b.reason


def test_custom_game_scenarios_are_not_eligible(adv, client):
    client.force_login(adv.coordinator)
    url = reverse("consortium:advisor", args=["c"])
    page = client.get(url, {"scenario": adv.custom.pk})
    assert page.status_code == 400
    assert "is a custom game (custom table of coalition costs)" in page.content.decode()
    # The htmx fragment carries the same message with a 200, which htmx swaps into the panel.
    fragment = client.get(url, {"scenario": adv.custom.pk}, HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    assert "is a custom game (custom table of coalition costs)" in fragment.content.decode()
    assert "advisor-joining" not in fragment.content.decode()


@pytest.mark.parametrize("value", ["999999", "abc", "-1"])
def test_unknown_scenarios_are_refused_with_a_message(adv, client, value):
    client.force_login(adv.coordinator)
    response = client.get(reverse("consortium:advisor", args=["c"]), {"scenario": value})
    assert response.status_code == 400
    assert "Choose one of this consortium&#x27;s active scenarios." in response.content.decode()


def test_another_consortiums_scenario_is_refused_with_a_message(adv, client):
    client.force_login(adv.coordinator)
    response = client.get(reverse("consortium:advisor", args=["c"]), {"scenario": adv.other_scenario.pk})
    assert response.status_code == 400
    assert "Choose one of this consortium&#x27;s active scenarios." in response.content.decode()


def test_too_many_labs_is_refused_with_a_message(adv, client, settings):
    settings.ADVISOR_MAX_LABS = 2
    client.force_login(adv.coordinator)
    response = client.get(reverse("consortium:advisor", args=["c"]), {"scenario": adv.scenario.pk})
    assert response.status_code == 400
    assert "has 3 labs; the advisor works on scenarios of at most 2" in response.content.decode()


def test_panel_defaults_to_the_newest_cost_model_scenario_and_lists_candidates_in_order(adv, client):
    newer = _copy(adv.scenario, [adv.lab_a, adv.lab_b])
    client.force_login(adv.coordinator)
    response = client.get(reverse("consortium:advisor", args=["c"]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-advisor-scenario="{newer.pk}"' in html
    assert "<html" not in html
    advice = advisor_get(scenario=newer).advice
    positions = [html.index(f'data-lab="{v.lab}"') for v in advice.joins]
    assert positions == sorted(positions)
    assert "Lab C" in [v.lab for v in advice.joins]  # in the consortium, not in this scenario
    page = client.get(reverse("consortium:advisor", args=["c"]), {"scenario": adv.scenario.pk})
    assert "<html" in page.content.decode() and "Membership advisor" in page.content.decode()
    assert 'data-label="Members\' savings change"' in page.content.decode()


def test_advisor_result_is_reused_until_an_input_changes(adv):
    first = advisor_get(scenario=adv.scenario)
    again = advisor_get(scenario=adv.scenario)
    assert not first.cached and again.cached
    adv.juniper.openness = 0.2
    adv.juniper.save()
    assert not advisor_get(scenario=adv.scenario).cached


def test_no_cost_model_scenario_says_so(world, client):
    world.scenario.delete()
    client.force_login(world.coordinator)
    response = client.get(reverse("consortium:advisor", args=["c"]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "No cost-model scenario yet." in response.content.decode()


@pytest.mark.parametrize(
    ("role", "page", "panel"),
    [
        ("coordinator", True, 200),
        ("user_a", False, 403),
        ("user_b", False, 403),
        ("other_coordinator", None, 404),
        ("user_d", None, 404),
    ],
)
def test_only_coordinators_see_the_advisor(adv, client, role, page, panel):
    client.force_login(getattr(adv, role))
    detail = client.get(reverse("consortium:detail", args=["c"]))
    if page is None:
        assert detail.status_code == 404
    else:
        assert detail.status_code == 200
        assert ('id="advisor"' in detail.content.decode()) is page
    response = client.get(reverse("consortium:advisor", args=["c"]), {"scenario": adv.scenario.pk})
    assert response.status_code == panel
    if panel != 200:
        assert "Juniper" not in response.content.decode()


def test_anonymous_is_sent_to_log_in(adv, client):
    response = client.get(reverse("consortium:advisor", args=["c"]))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize(
    ("role", "status"),
    [("anonymous", 401), ("user_a", 403), ("token", 403), ("user_b", 403), ("coordinator", 200),
     ("other_coordinator", 404)],
)  # fmt: skip
def test_api_permissions(adv, client_as, role, status):
    response = client_as(role).get(f"/api/v1/scenarios/{adv.scenario.pk}/advisor/")
    assert response.status_code == status
    if status != 200:
        assert set(response.json()) == {"error"}
        assert "Juniper" not in response.content.decode()


def test_api_returns_the_ranked_figures(adv, client_as):
    response = client_as("coordinator").get(f"/api/v1/scenarios/{adv.scenario.pk}/advisor/")
    assert response.status_code == 200
    body = response.json()
    advice = advisor_get(scenario=adv.scenario).advice
    assert [row["lab"]["name"] for row in body["joining"]] == [v.lab for v in advice.joins]
    assert [row["rank"] for row in body["joining"]] == list(range(1, len(advice.joins) + 1))
    first = body["joining"][0]
    assert first["lab"] == {"id": adv.juniper.pk, "name": "Juniper"}
    assert first["sources"] == ["applied"]
    assert first["members_savings_change"] == pytest.approx(advice.joins[0].total_change)
    assert [m["lab"]["name"] for m in first["members"]] == ["Lab A", "Lab B", "Lab C"]
    assert first["brings"]["members_needing"] == [{"id": adv.lab_b.pk, "name": "Lab B"},
                                                   {"id": adv.lab_c.pk, "name": "Lab C"}]  # fmt: skip
    assert body["rule"] == "shapley" and body["currency"] == "USD"
    assert [row["lab"]["name"] for row in body["leaving"]] == [v.lab for v in advice.leaves]


@pytest.mark.parametrize(
    ("target", "status", "message"),
    [
        ("custom", 409, "is a custom game"),
        ("other_scenario", 404, None),
        ("missing", 404, None),
    ],
)
def test_api_refuses_scenarios_it_cannot_advise_on(adv, client_as, target, status, message):
    pk = 999_999 if target == "missing" else getattr(adv, target).pk
    response = client_as("coordinator").get(f"/api/v1/scenarios/{pk}/advisor/")
    assert response.status_code == status
    error = response.json()["error"]
    assert error["status"] == status
    if message:
        assert message in error["message"]


def test_lab_inputs_of_the_spec_are_unchanged_by_the_refactor(adv):
    """scenario_spec_build and the advisor's candidates share one conversion of a lab to engine inputs."""
    spec = scenario_spec_build(scenario=adv.scenario, draws=0)
    lab_a = next(lab for lab in spec.labs if lab.name == "Lab A")
    assert lab_a.price_per_gpu_hour == pytest.approx(2.40 * engine.params.ALL_IN_UPLIFT)
    assert dataclasses.asdict(lab_a)["area_weights"] == tuple(AREA_WEIGHTS["Lab A"].values())


def test_a_candidate_the_engine_refuses_is_skipped_with_its_reason(adv, client_as):
    """A lab name with '+' cannot be a player (coalitions are written A+B): that candidate is named, not advised on."""
    adv.sharer.name = "Sharer+Co"
    adv.sharer.save()
    report = advisor_get(scenario=adv.scenario)
    assert "Sharer+Co" not in [v.lab for v in report.advice.joins]
    assert report.skipped == ("Sharer+Co: lab name 'Sharer+Co' must not contain '+'",)
    body = client_as("coordinator").get(f"/api/v1/scenarios/{adv.scenario.pk}/advisor/").json()
    assert body["candidates_skipped"] == list(report.skipped)


def test_under_ledger_openness_a_candidate_joins_as_its_run_would(adv):
    """With the scenario's openness from the ledger, a candidate with evidence joins with its measured
    openness: the join's figures equal a run of the scenario with the candidate added."""
    import datetime

    today = datetime.date.today()
    f.ArtifactFactory(lab=adv.juniper, openness="internal_fork", reproduction_gpu_hours=300, release_date=today)
    f.ArtifactFactory(lab=adv.juniper, openness="open", reproduction_gpu_hours=100, release_date=today)
    adv.scenario.openness_source = "ledger"
    adv.scenario.save()
    report = advisor_get(scenario=adv.scenario)
    variant = next(v for v in report.advice.joins if v.lab == "Juniper")
    joined = _copy(adv.scenario, [*adv.scenario.labs.all(), adv.juniper])
    joined.openness_source = "ledger"
    joined.save()
    spec = scenario_spec_build(scenario=joined, draws=0)
    assert {lab.name: lab.openness for lab in spec.labs}["Juniper"] == pytest.approx(0.25)
    cost, after = _central(joined, adv.scenario.rules[0])
    assert variant.grand_cost == pytest.approx(cost, rel=1e-12)
    assert variant.own_savings == pytest.approx(after["Juniper"], rel=1e-12, abs=1e-6)
