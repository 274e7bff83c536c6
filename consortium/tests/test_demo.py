"""`manage.py load_demo`: an illustrative consortium that is loaded once, however often it runs."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

from consortium import access
from consortium.demo import demo_data
from consortium.demo.loader import DEFAULT_PASSWORD, demo_load
from consortium.models import Consortium, Membership, Scenario
from labs.models import Artifact, ArtifactReuse, ComputeContribution, Lab, LabMember
from labs.selectors import contribution_totals
from simulations.models import SimulationRun

pytestmark = pytest.mark.django_db

MODELS = (
    get_user_model(),
    Consortium,
    Lab,
    LabMember,
    Membership,
    ComputeContribution,
    Artifact,
    ArtifactReuse,
    Scenario,
    SimulationRun,
    Token,
)


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def load(*args: str) -> str:
    out = io.StringIO()
    call_command("load_demo", "--force", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def demo():
    """The demo loaded without queueing runs (no broker traffic from these tests)."""
    return demo_load(queue_runs=False)


def test_loading_twice_changes_nothing():
    load("--no-runs")
    first = counts()
    second_output = load("--no-runs")
    assert counts() == first
    assert "already loaded; nothing changed" in second_output


def test_first_load_creates_the_whole_consortium():
    load("--no-runs")
    assert counts() | {"User": 0} == {
        "User": 0,
        "Consortium": 1,
        "Lab": 11,
        "LabMember": 12,
        "Membership": 12,
        "ComputeContribution": 35,
        "Artifact": 20,
        "ArtifactReuse": 16,
        "Scenario": 3,
        "SimulationRun": 0,
        "Token": 1,
    }
    assert get_user_model().objects.count() == 14


def test_every_scenario_gets_one_queued_run_and_a_reload_queues_no_more(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        demo_load()
        demo_load()
    runs = SimulationRun.objects.all()
    assert runs.count() == 3
    assert {run.scenario.name for run in runs} == {scenario["name"] for scenario in demo_data()["scenarios"]}
    assert all(run.created_by.username == "coordinator" for run in runs)


def test_the_command_refuses_to_run_with_debug_off_unless_forced(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG off"):
        call_command("load_demo", "--no-runs", stdout=io.StringIO())
    assert not Lab.objects.exists()
    assert not get_user_model().objects.exists()


def test_the_command_runs_with_debug_on(settings):
    settings.DEBUG = True
    call_command("load_demo", "--no-runs", stdout=io.StringIO())
    assert Lab.objects.count() == 11


def test_the_command_prints_every_demo_user_with_role_and_password():
    output = load("--no-runs")
    assert "username" in output and "role" in output and "password" in output
    usernames = ["coordinator", "staff", *(lab["slug"] for lab in demo_data()["labs"])]
    for username in usernames:
        line = next(line for line in output.splitlines() if line.split()[:1] == [username])
        assert line.rstrip().endswith(DEFAULT_PASSWORD), line
    token = Token.objects.get(user__username="api-client").key
    assert f"token {token}" in output
    assert "Illustrative data" in output


def test_demo_password_comes_from_the_environment(monkeypatch, client):
    monkeypatch.setenv("DEMO_PASSWORD", "another-demo-secret")
    output = load("--no-runs")
    assert "another-demo-secret" in output
    assert client.login(username="coordinator", password="another-demo-secret")
    assert not client.login(username="coordinator", password=DEFAULT_PASSWORD)


def test_reset_passwords_restores_a_changed_demo_password(client):
    load("--no-runs")
    user = get_user_model().objects.get(username="alderbrook")
    user.set_password("changed-by-the-user")
    user.save()
    load("--no-runs")
    assert client.login(username="alderbrook", password="changed-by-the-user")
    load("--no-runs", "--reset-passwords")
    assert client.login(username="alderbrook", password=DEFAULT_PASSWORD)


def test_demo_users_cover_every_role(demo):
    users = {user.username: user for user in get_user_model().objects.all()}
    assert access.is_coordinator(users["coordinator"], demo.consortium)
    assert users["staff"].is_staff and users["staff"].is_superuser
    assert not users["coordinator"].is_staff
    for lab in Lab.objects.all():
        assert access.can_edit_lab(users[lab.slug], lab)
        assert access.can_view_consortium(users[lab.slug], demo.consortium)
    assert access.can_edit_lab(users["api-client"], Lab.objects.get(slug="alderbrook"))


def test_the_api_token_authenticates_the_api_client(demo, api_client):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {demo.token}")
    response = api_client.get("/api/v1/labs/")
    assert response.status_code == 200
    names = {lab["name"] for lab in response.json()["results"]}
    assert "Alderbrook Models" in names


def test_every_lab_is_labelled_illustrative_with_its_sources(demo):
    assert "illustrative" in demo.consortium.name.lower()
    assert demo.consortium.charter.startswith("Illustrative")
    for lab in Lab.objects.all():
        assert lab.description.startswith("Illustrative lab with a made-up name."), lab
        assert "Magnitudes scaled from public figures" in lab.description
        assert lab.website.startswith("https://example.org/demo/")


def test_data_file_cites_the_public_figures_it_is_scaled_from():
    data = demo_data()
    figures = " ".join(source["figure"] for source in data["sources"])
    for figure in ("82%", "10-30%", "2.788M H800", "1.08M A100", "H100 $2.40", "H800 $2.00", "A100 $1.20", "1.3"):
        assert figure in figures, figure
    cited = {source["id"] for source in data["sources"]}
    for lab in data["labs"]:
        assert lab["basis"] and set(lab["basis"]) <= cited, lab["slug"]
    assert "made up" in data["notice"]


def test_lab_magnitudes_follow_the_public_figures(demo):
    labs = list(Lab.objects.all())
    assert 8 <= len(labs) <= 12
    final_runs = [lab.final_run_gpu_hours for lab in labs]
    assert min(final_runs) == 200_000
    assert max(final_runs) == 3_000_000
    assert all(0.70 <= lab.rd_share <= 0.85 for lab in labs)
    prices = {lab.gpu_type: lab.price_per_gpu_hour for lab in labs}
    assert prices == {
        "H100": Decimal("2.40"),
        "H800": Decimal("2.00"),
        "A100": Decimal("1.20"),
        "H200": Decimal("3.50"),
    }
    assert sum(lab.openness < 1 for lab in labs) >= 2
    forks = Artifact.objects.filter(openness=Artifact.Openness.INTERNAL_FORK)
    assert forks.count() == 2
    assert all(fork.lab.openness < 1 for fork in forks)


def test_memberships_mix_members_candidates_and_an_observer_with_history(demo):
    current = Membership.objects.current().filter(consortium=demo.consortium)
    statuses = sorted(current.values_list("status", flat=True))
    assert statuses.count("member") == 8
    assert statuses.count("candidate") == 2
    assert statuses.count("observer") == 1
    spells = Membership.objects.filter(lab__slug="hazelbank").order_by("joined_on")
    assert [(spell.status, str(spell.joined_on), str(spell.left_on)) for spell in spells] == [
        ("candidate", "2025-01-01", "2025-07-01"),
        ("member", "2025-07-01", "None"),
    ]


def test_ledger_has_four_quarters_with_pledged_and_delivered_differing(demo):
    quarters = contribution_totals(consortium=demo.consortium, group_by=("quarter",))
    assert [str(row["quarter"]) for row in quarters] == ["2025-01-01", "2025-04-01", "2025-07-01", "2025-10-01"]
    assert all(row["gpu_hours_delivered"] < row["gpu_hours_pledged"] for row in quarters)
    per_lab = {row["lab_name"]: row for row in contribution_totals(consortium=demo.consortium)}
    assert "Kestrelmoor AI" not in per_lab, "the observer pools no compute"
    assert per_lab["Glenmoor Open Models"]["gpu_hours_pledged"] == Decimal("560000.00")


def test_one_correction_shows_its_history_and_the_totals_use_the_replacement(demo):
    reversal = ComputeContribution.objects.get(entry_type=ComputeContribution.EntryType.REVERSAL)
    replacement = ComputeContribution.objects.get(entry_type=ComputeContribution.EntryType.REPLACEMENT)
    assert reversal.lab.slug == replacement.lab.slug == "birchfield"
    assert reversal.reverses == replacement.replaces
    assert reversal.gpu_hours_delivered == -reversal.reverses.gpu_hours_delivered
    assert replacement.gpu_hours_delivered == Decimal("97200.00")
    assert "outage" in replacement.reason
    second_quarter = contribution_totals(
        lab=reversal.lab, consortium=demo.consortium, start=replacement.period_start, end=replacement.period_start
    )
    assert second_quarter[0]["gpu_hours_delivered"] == Decimal("97200.00")


def test_reuse_only_of_other_labs_artifacts_after_their_release(demo):
    reuses = list(ArtifactReuse.objects.select_related("artifact"))
    assert len(reuses) == 16
    assert all(reuse.reusing_lab_id != reuse.artifact.lab_id for reuse in reuses)
    assert all(reuse.reused_on >= reuse.artifact.release_date for reuse in reuses)


def test_three_scenarios_over_current_members_and_candidates(demo):
    scenarios = {scenario.name: scenario for scenario in Scenario.objects.all()}
    assert set(scenarios) == {
        "All members, 1 year",
        "Members + candidates, 5 years with compounding",
        "Shared base model",
    }
    assert scenarios["All members, 1 year"].labs.count() == 8
    five_years = scenarios["Members + candidates, 5 years with compounding"]
    assert five_years.labs.count() == 10
    assert five_years.parameters["horizon_years"] == 5
    assert scenarios["Shared base model"].parameters["shared_base_model"] is True
    assert not Scenario.objects.filter(labs__slug="kestrelmoor").exists()


def test_shared_base_model_weighs_members_by_their_h100_equivalent_deliveries(demo):
    from simulations.services import scenario_spec_build

    scenario = Scenario.objects.get(name="Shared base model")
    assert "weighted" in scenario.rules
    assert (scenario.weight_basis, scenario.weight_values, scenario.weight_cap) == ("delivered", {}, None)
    spec = scenario_spec_build(scenario=scenario)
    weights = {lab.name: lab.weight for lab in spec.labs}
    assert sum(weights.values()) == pytest.approx(1.0)
    gpu_types = {lab.name: lab.gpu_type for lab in spec.labs}
    assert {"A100", "H100", "H200", "H800"} <= set(gpu_types.values())
    totals = {
        row["lab_name"]: row["h100_gpu_hours_delivered"]
        for row in contribution_totals(consortium=demo.consortium, h100_equivalent=True)
        if row["lab_name"] in weights
    }
    grand = sum(totals.values())
    for name, weight in weights.items():
        assert weight == pytest.approx(totals[name] / grand)
    # Birchfield delivered more GPU-hours than Dunlin, but A100 hours count at 312/989 of an H100 hour.
    raw = {row["lab_name"]: row["gpu_hours_delivered"] for row in contribution_totals(consortium=demo.consortium)}
    assert raw["Birchfield AI Institute"] > raw["Dunlin Foundation"]
    assert weights["Birchfield AI Institute"] < weights["Dunlin Foundation"]


@pytest.mark.parametrize(
    "name",
    ["All members, 1 year", "Members + candidates, 5 years with compounding", "Shared base model"],
)
def test_no_demo_member_is_worse_off_than_leaving_under_the_first_rule_without_saying_why(demo, name):
    """The demo tells a true story: at the scenario's own parameters each member under the first rule
    either pays no more than its outside option (going alone, reading what the rest publish), or its
    report says plainly by how much, which group is most tempted to leave and what would fix it.
    All but the two small academic labs save (per-member overhead weighs on them under Shapley; the
    nucleolus keeps them in), and the inputs raise no plausibility warning."""
    from simulations import engine
    from simulations.services import scenario_spec_build

    scenario = Scenario.objects.get(name=name)
    spec = scenario_spec_build(scenario=scenario, draws=20)
    result = engine.run_scenario(spec)
    first = result.rules[spec.rules[0]]
    for member in first.members:
        if member.savings_central >= 0:
            assert member.note == "", member.name
        else:
            assert f"{member.name} pays ${-member.savings_central:,.0f} more" in member.note
            assert "The group most tempted to leave is " in member.note
            assert "longer embargo" in member.note
    saving = [member for member in first.members if member.savings_central > 0]
    assert len(saving) >= len(first.members) - 2
    assert result.warnings == ()


def test_a_member_worse_off_than_leaving_gets_a_note_naming_the_group_that_would_leave(demo):
    """Under an equal split of the joint costs the demo's small academic labs pay more than going
    alone; their note says so, names the group most tempted to leave and what would fix it."""
    from simulations import engine
    from simulations.services import scenario_spec_build

    scenario = Scenario.objects.get(name="All members, 1 year")
    spec = scenario_spec_build(scenario=scenario, draws=0)
    spec = engine.ScenarioSpec(labs=spec.labs, params=spec.params, rules=("equal",), draws=0, seed=1)
    equal = engine.run_scenario(spec).rules["equal"]
    worse = [member for member in equal.members if member.savings_central < 0]
    assert worse
    for member in worse:
        assert f"{member.name} pays $" in member.note
        assert "would rather leave" in member.note
        assert "The group most tempted to leave is " in member.note
        assert "longer embargo" in member.note


def test_demo_labs_are_listed_in_the_directory_except_the_observer(demo):
    """A demo user who founds a consortium of their own finds the demo labs to invite."""
    listed = set(Lab.objects.filter(listed_in_directory=True).values_list("slug", flat=True))
    assert len(listed) == 10
    assert "kestrelmoor" not in listed
    founder = get_user_model().objects.get(username="alderbrook")
    mine = Consortium.objects.create(name="Founded in the demo", slug="founded")
    mine.coordinators.add(founder)
    assert set(access.invitable_labs(mine, founder).values_list("slug", flat=True)) == listed
