"""Reads of runs and their results: the one path for pages, CSV downloads and the API."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import F, QuerySet, Window
from django.db.models.functions import RowNumber

from consortium import access
from consortium.models import Membership, Scenario

from .models import MemberResult, SimulationRun, StabilityResult, YearResult


@dataclass
class RunResults:
    run: SimulationRun
    rules: list[str]
    members: dict[str, list[MemberResult]] = field(default_factory=dict)
    stability: dict[str, StabilityResult] = field(default_factory=dict)
    years: dict[str, list[YearResult]] = field(default_factory=dict)


@dataclass
class MemberSavings:
    """One line of the dashboard headline: a lab's savings in one consortium's scenario."""

    membership: Membership
    lab: object
    consortium: object
    scenario: Scenario
    run: SimulationRun
    result: MemberResult | None


def visible_runs(*, user) -> QuerySet[SimulationRun]:
    """Runs of the consortia the user may read (members of a current lab, coordinators, staff)."""
    return SimulationRun.objects.filter(scenario__consortium__in=access.visible_consortia(user)).select_related(
        "scenario", "scenario__consortium", "created_by"
    )


def scenario_runs(*, scenario: Scenario) -> QuerySet[SimulationRun]:
    return scenario.runs.select_related("created_by").order_by("-created_at", "-id")


def latest_run_get(*, scenario: Scenario, succeeded: bool = True) -> SimulationRun | None:
    runs = scenario.runs.all()
    if succeeded:
        return runs.filter(status=SimulationRun.Status.SUCCEEDED).order_by("-finished_at", "-id").first()
    return runs.order_by("-created_at", "-id").first()


def latest_runs_get(*, scenarios, succeeded: bool = True) -> dict[int, SimulationRun]:
    """`latest_run_get` for many scenarios in one query: {scenario id: its latest run}; scenarios
    without one are left out. Same choice per scenario (the newest by finish or creation, then id)."""
    runs = SimulationRun.objects.filter(scenario__in=[scenario.pk for scenario in scenarios])
    if succeeded:
        runs = runs.filter(status=SimulationRun.Status.SUCCEEDED)
        newest_first = [F("finished_at").desc(), F("id").desc()]
    else:
        newest_first = [F("created_at").desc(), F("id").desc()]
    ranked = runs.annotate(rank=Window(RowNumber(), partition_by=[F("scenario")], order_by=newest_first))
    return {run.scenario_id: run for run in ranked.filter(rank=1)}


def run_results_get(*, run: SimulationRun) -> RunResults:
    """A run's stored results, rules in the scenario's order and members by name within each rule."""
    spec_rules = list(run.inputs.get("spec", {}).get("rules", []))
    members: dict[str, list[MemberResult]] = {}
    for row in MemberResult.objects.filter(run=run).order_by("rule", "lab_name"):
        members.setdefault(row.rule, []).append(row)
    rules = [rule for rule in spec_rules if rule in members] + sorted(set(members) - set(spec_rules))
    stability = {row.rule: row for row in StabilityResult.objects.filter(run=run)}
    years: dict[str, list[YearResult]] = {}
    for row in YearResult.objects.filter(run=run).order_by("lab_name", "year"):
        years.setdefault(row.lab_name, []).append(row)
    return RunResults(
        run=run, rules=rules, members={rule: members[rule] for rule in rules}, stability=stability, years=years
    )


def member_savings_get(*, user) -> list[MemberSavings]:
    """For each of the user's labs' current memberships, each scenario of that consortium including the
    lab, with its latest successful run and the lab's result under the run's first rule.

    Four queries however many memberships and scenarios: memberships, (scenario, lab) pairs, latest
    runs, results."""
    if not user.is_authenticated:
        return []
    memberships = list(
        Membership.objects.current()
        .filter(lab__in=access.user_lab_ids(user))
        .select_related("lab", "consortium")
        .order_by("consortium__name", "lab__name")
    )
    if not memberships:
        return []
    pairs = (
        Scenario.labs.through.objects.filter(
            lab_id__in={m.lab_id for m in memberships},
            scenario__consortium_id__in={m.consortium_id for m in memberships},
        )
        .select_related("scenario")
        .order_by("scenario__name", "scenario_id")
    )
    scenarios_of: dict[tuple[int, int], list[Scenario]] = {}
    for pair in pairs:
        scenarios_of.setdefault((pair.scenario.consortium_id, pair.lab_id), []).append(pair.scenario)
    runs = latest_runs_get(scenarios=[scenario for found in scenarios_of.values() for scenario in found])
    results: dict[tuple[int, str, int], MemberResult] = {}
    for row in MemberResult.objects.filter(run__in=runs.values(), lab__in={m.lab_id for m in memberships}):
        results.setdefault((row.run_id, row.rule, row.lab_id), row)
    lines = []
    for membership in memberships:
        for scenario in scenarios_of.get((membership.consortium_id, membership.lab_id), []):
            run = runs.get(scenario.pk)
            if run is None:
                continue
            # The run's own rules, not the scenario's current ones: the scenario may have changed since.
            rules = run.inputs.get("spec", {}).get("rules") or scenario.rules
            lines.append(
                MemberSavings(
                    membership=membership,
                    lab=membership.lab,
                    consortium=membership.consortium,
                    scenario=scenario,
                    run=run,
                    result=results.get((run.pk, rules[0], membership.lab_id)),
                )
            )
    return lines
