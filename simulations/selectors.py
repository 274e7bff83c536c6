"""Reads of runs and their results: the one path for pages, CSV downloads and the API."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db.models import F, QuerySet, Window
from django.db.models.functions import RowNumber

from consortium import access
from consortium.models import LAB_OVERRIDE_FIELDS, Membership, Scenario
from simulations import engine, services
from simulations.engine.evidence import commons_draws
from simulations.engine.params import AREA_LABELS, AREAS

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


# A member's figures as CSV downloads and the API's savings report give them: the unit in each name,
# money rounded to cents. Figures of cost model v2 are None in the rows of runs made by engine 1.0.0.
MEMBER_FIGURES = (
    ("standalone_cost_usd", "standalone_cost", "money"),
    ("allocated_cost_usd", "allocated_cost", "money"),
    ("savings_usd", "savings", "money"),
    ("savings_pct", "savings_pct", "pct"),
    ("savings_p10_usd", "savings_p10", "money"),
    ("savings_p50_usd", "savings_p50", "money"),
    ("savings_p90_usd", "savings_p90", "money"),
    ("savings_pct_p10", "savings_pct_p10", "pct"),
    ("savings_pct_p50", "savings_pct_p50", "pct"),
    ("savings_pct_p90", "savings_pct_p90", "pct"),
    ("prob_saving", "prob_saving", "pct"),
    ("delivered_value_usd", "delivered_value", "money"),
    ("settlement_usd", "settlement", "money"),
    ("savings_central_usd", "savings_central", "money"),
    ("savings_pct_central", "savings_pct_central", "pct"),
    ("no_consortium_cost_usd", "no_consortium_cost", "money"),
    ("savings_vs_no_consortium_usd", "savings_vs_no_consortium", "money"),
    ("savings_vs_no_consortium_pct", "savings_vs_no_consortium_pct", "pct"),
    ("savings_vs_no_consortium_p10_usd", "savings_vs_no_consortium_p10", "money"),
    ("savings_vs_no_consortium_p90_usd", "savings_vs_no_consortium_p90", "money"),
    ("direct_cost_usd", "direct_cost", "money"),
    ("prob_above_outside", "prob_above_outside", "pct"),
    ("prob_above_outside_stderr", "prob_above_outside_stderr", "pct"),
    ("note", "note", "text"),
)
MEMBER_FIGURE_COLUMNS = tuple(column for column, _, _ in MEMBER_FIGURES)
_ROUNDING = {"money": 2, "pct": 4}


def member_figures(row: MemberResult) -> dict[str, float | str | None]:
    """One member's stored figures under the names of MEMBER_FIGURE_COLUMNS (None where not stored)."""
    figures: dict[str, float | str | None] = {}
    for column, name, kind in MEMBER_FIGURES:
        value = getattr(row, name)
        if kind == "text":
            figures[column] = value
        else:
            figures[column] = None if value is None else round(float(value), _ROUNDING[kind])
    return figures


def scenario_warnings_get(*, scenario: Scenario) -> list[str]:
    """What the engine would warn about the scenario's current inputs, before any run.

    A scenario the engine cannot take as it stands (no labs, a bad parameter) gets one sentence
    saying why, instead of an error.
    """
    try:
        spec = services.scenario_spec_build(scenario=scenario)
        return list(engine.plausibility_warnings(spec.labs, spec.params))
    except (engine.EngineError, ValidationError) as error:
        reason = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
        return [f"The scenario cannot be simulated as it stands: {reason}"]


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
    """For each of the user's labs' current memberships, each active (not archived) scenario of that
    consortium including the lab, with its latest successful run and the lab's result under the run's first rule.

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
            scenario__archived_at__isnull=True,
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


# Comparison: the one computation behind the compare page, its CSV and the API report ----------------

# Per scenario, in this order; the CSV names them `scenario_<id>_<figure>` (docs/api.md).
COMPARISON_FIGURES = (
    "standalone_cost_usd",
    "allocated_cost_usd",
    "savings_usd",
    "savings_pct",
    "savings_diff_usd",
    "savings_pct_diff_points",
    "no_consortium_cost_usd",
    "savings_vs_no_consortium_usd",
    "savings_vs_no_consortium_pct",
)


class ComparisonError(Exception):
    """The scenarios cannot be compared. `field` is the parameter at fault (`scenarios` or `rule`);
    the message starts with it. `missing` lists the scenarios without a succeeded run."""

    def __init__(self, field: str, message: str, missing: list[Scenario] | None = None) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.detail = message
        self.missing = missing or []


@dataclass
class ComparisonColumn:
    """One scenario's run in a comparison. `by_run`: the comparison names runs, not scenarios (two
    runs of one scenario, say), so a column is keyed and labelled by its run."""

    scenario: Scenario
    run: SimulationRun
    by_run: bool = False

    @property
    def prefix(self) -> str:
        """The CSV's column prefix: `scenario_<id>_`, or `run_<id>_` when comparing runs."""
        return f"run_{self.run.pk}_" if self.by_run else f"scenario_{self.scenario.pk}_"

    @property
    def label(self) -> str:
        return f"{self.scenario.name} · run #{self.run.pk}" if self.by_run else self.scenario.name

    @property
    def anchor(self) -> str:
        return f"run-{self.run.pk}" if self.by_run else str(self.scenario.pk)


@dataclass
class ComparisonCell:
    row: MemberResult | None
    diff: float | None = None
    diff_pct: float | None = None


@dataclass
class ComparisonLine:
    lab: int | None
    lab_name: str
    cells: list[ComparisonCell]


@dataclass
class ScenarioComparison:
    rule: str
    common_rules: list[str]
    columns: list[ComparisonColumn]
    rows: list[ComparisonLine]


def _run_rules(run: SimulationRun, stored: set[str]) -> list[str]:
    spec_rules = list(run.inputs.get("spec", {}).get("rules", []))
    return [rule for rule in spec_rules if rule in stored] + sorted(stored - set(spec_rules))


def scenario_comparison_get(
    *,
    scenarios: list[Scenario],
    rule: str | None = None,
    runs: list[SimulationRun] | None = None,
    by_run: bool = False,
) -> ScenarioComparison:
    """Each lab's results in the scenarios' latest succeeded runs (or the `runs` given, one per
    scenario), under one rule, with differences from the first scenario (the baseline). With
    `by_run` the columns are the runs given, which may be runs of one scenario (runs_comparison_get).

    The rule is the one asked for, which every run must have, or else the first of the baseline's
    rules that every run has. Labs are matched by lab id, so a lab renamed between runs is one line
    (under its current name); results of deleted labs fall back to the name stored with the run.
    Two queries (latest runs, results) whatever the number of scenarios and members.
    """
    if runs is None:
        latest = latest_runs_get(scenarios=scenarios)
        missing = [scenario for scenario in scenarios if scenario.pk not in latest]
        if missing:
            names = ", ".join(f"{s.pk} ({s.name})" for s in missing)
            raise ComparisonError("scenarios", f"no succeeded run yet for scenario {names}.", missing)
        runs = [latest[scenario.pk] for scenario in scenarios]
    columns = [ComparisonColumn(scenario, run, by_run) for scenario, run in zip(scenarios, runs, strict=True)]
    results = MemberResult.objects.filter(run__in=runs).select_related("lab").order_by("run", "rule", "lab_name")
    by_run: dict[int, dict[str, list[MemberResult]]] = {run.pk: {} for run in runs}
    for row in results:
        by_run[row.run_id].setdefault(row.rule, []).append(row)
    rules_of = [_run_rules(column.run, set(by_run[column.run.pk])) for column in columns]
    common = [r for r in rules_of[0] if all(r in rules for rules in rules_of[1:])]
    if rule is not None:
        for column, rules in zip(columns, rules_of, strict=True):
            if rule not in rules:
                has = ", ".join(rules) or "no results"
                raise ComparisonError(
                    "rule",
                    f"run {column.run.pk} of scenario {column.scenario.pk} ({column.scenario.name}) has no results "
                    f"for rule {rule!r}; it has {has}.",
                )
    elif not common:
        raise ComparisonError("rule", "the scenarios' runs have no cost-sharing rule in common; run them again.")
    chosen = rule or common[0]

    def key(row: MemberResult) -> tuple[str, object]:
        return ("lab", row.lab_id) if row.lab_id is not None else ("name", row.lab_name)

    per_column = [{key(row): row for row in by_run[column.run.pk][chosen]} for column in columns]
    names: dict[tuple[str, object], str] = {}
    for found in per_column:
        for lab_key, row in found.items():
            names.setdefault(lab_key, row.lab.name if row.lab is not None else row.lab_name)
    lines = []
    for lab_key in sorted(names, key=lambda k: (names[k], str(k))):
        base = per_column[0].get(lab_key)
        cells = []
        for index, found in enumerate(per_column):
            row = found.get(lab_key)
            cell = ComparisonCell(row)
            if index and row is not None and base is not None:
                cell.diff = row.savings - base.savings
                cell.diff_pct = row.savings_pct - base.savings_pct
            cells.append(cell)
        lab_id = lab_key[1] if lab_key[0] == "lab" else None
        lines.append(ComparisonLine(lab_id, names[lab_key], cells))  # type: ignore[arg-type]
    return ScenarioComparison(chosen, common, columns, lines)


def runs_comparison_get(*, runs: list[SimulationRun], rule: str | None = None) -> ScenarioComparison:
    """`scenario_comparison_get` of the runs given (the first is the baseline), keyed by run: runs of
    one scenario compare like scenarios do, attributed from their snapshots. Every run must have
    succeeded."""
    unfinished = [run for run in runs if run.status != SimulationRun.Status.SUCCEEDED]
    if unfinished:
        names = ", ".join(f"{run.pk} ({run.get_status_display().lower()})" for run in unfinished)
        raise ComparisonError("runs", f"only succeeded runs can be compared; not run {names}.")
    return scenario_comparison_get(scenarios=[run.scenario for run in runs], runs=runs, rule=rule, by_run=True)


def comparison_cell_figures(column: ComparisonColumn, cell: ComparisonCell, *, baseline: bool) -> dict[str, object]:
    """One scenario's figures for one lab, as the API and the CSV give them (units in the names); the
    baseline's differences from itself are 0 where the lab is in it."""
    row = cell.row
    if baseline and row is not None:
        cell = ComparisonCell(row, 0.0, 0.0)

    def money(value: float | None) -> float | None:
        return None if value is None else round(float(value), 2)

    def pct(value: float | None) -> float | None:
        return None if value is None else round(float(value), 4)

    return {
        "scenario": column.scenario.pk,
        "run": column.run.pk,
        "standalone_cost_usd": money(row and row.standalone_cost),
        "allocated_cost_usd": money(row and row.allocated_cost),
        "savings_usd": money(row and row.savings),
        "savings_pct": pct(row and row.savings_pct),
        "savings_diff_usd": money(cell.diff),
        "savings_pct_diff_points": pct(cell.diff_pct),
        "no_consortium_cost_usd": money(row and row.no_consortium_cost),
        "savings_vs_no_consortium_usd": money(row and row.savings_vs_no_consortium),
        "savings_vs_no_consortium_pct": pct(row and row.savings_vs_no_consortium_pct),
    }


def comparison_csv_columns(comparison: ScenarioComparison, explained: list | None = None) -> list[str]:
    columns = ["lab", "lab_name"]
    for column in comparison.columns:
        columns += [column.prefix + figure for figure in COMPARISON_FIGURES]
    return columns + attribution_csv_columns(explained or [])


def comparison_csv_rows(comparison: ScenarioComparison, explained: list | None = None) -> list[dict[str, object]]:
    """One flat row per lab: the CSV of the compare page and of the API report alike, with the
    attribution's columns when `explained` (comparison_attribution_get) is given."""
    rows = []
    for line in comparison.rows:
        flat: dict[str, object] = {"lab": line.lab, "lab_name": line.lab_name}
        for index, (column, cell) in enumerate(zip(comparison.columns, line.cells, strict=True)):
            figures = comparison_cell_figures(column, cell, baseline=index == 0)
            del figures["scenario"], figures["run"]
            flat.update({column.prefix + name: value for name, value in figures.items()})
        flat.update(attribution_csv_values(explained or [], line.lab, line.lab_name))
        rows.append(flat)
    return rows


# Explaining a comparison: what differs and how much of each member's change it makes ----------------

LAB_INPUT_LABELS = {
    "final_run_gpu_hours": "final run (GPU-hours per year)",
    "rd_share": "R&D share",
    "price_per_gpu_hour": "price per GPU-hour, all-in (US$)",
    "gpu_type": "GPU type",
    "area_weights": "research-area weights",
    "openness": "openness",
    "weight": "weight in the weighted rule",
}


@dataclass
class AttributionStep:
    """One difference between the baseline and a scenario, as pages, the CSV and the API show it.

    `key` names it in the CSV (`lab_added.Lab C`, `parameter.replication`, `lab_input.Lab B.rd_share`);
    `overridden` says the lab input was an override in either run."""

    key: str
    kind: str
    lab: str | None
    field: str | None
    label: str
    old: object
    new: object
    overridden: bool = False

    @property
    def old_text(self) -> str:
        return (
            "not a member"
            if self.kind == "lab_added"
            else "a member"
            if self.kind == "lab_removed"
            else _text(self.old)
        )

    @property
    def new_text(self) -> str:
        return (
            "a member"
            if self.kind == "lab_added"
            else "not a member"
            if self.kind == "lab_removed"
            else _text(self.new)
        )


def _text(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ", ".join(_text(item) for item in value)
    if isinstance(value, float):
        return f"{value:,.6g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(value)


@dataclass
class MemberWaterfall:
    """A member's savings at central parameters in the baseline (`start`) and the scenario (`end`),
    and the change each step made (`bars`, one per step, summing to `total`). `lab` is its lab id
    (None for a lab deleted since)."""

    lab_name: str
    start: float
    end: float
    total: float
    bars: list[float]
    lab: int | None = None

    @property
    def steps(self) -> list[tuple[int, float, float, float]]:
        """(index, change, running total before, after) per step, for the waterfall."""
        out, running = [], self.start
        for index, bar in enumerate(self.bars):
            out.append((index, bar, running, running + bar))
            running += bar
        return out


@dataclass
class ColumnAttribution:
    """Why a scenario's savings differ from the baseline's; `error` says why it could not be computed."""

    column: ComparisonColumn
    rule: str
    steps: list[AttributionStep] = field(default_factory=list)
    members: list[MemberWaterfall] = field(default_factory=list)
    error: str = ""

    def member(self, lab_name: str, lab: int | None = None) -> MemberWaterfall | None:
        """The member by lab id if given (a lab renamed since the runs), else by name."""
        if lab is not None:
            found = next((member for member in self.members if member.lab == lab), None)
            if found is not None:
                return found
        return next(
            (member for member in self.members if member.lab_name == lab_name and (lab is None or member.lab is None)),
            None,
        )


def _step_of(difference, overrides: set[tuple[str, str]]) -> AttributionStep:
    kind, lab, name = difference.kind, difference.lab, difference.field
    if kind == "parameter":
        spec = engine.PARAMETER_SPECS[name]
        label = spec.label + (f" ({spec.unit})" if spec.unit else "")
        key = f"parameter.{name}"
    elif kind == "lab_input":
        label = f"{lab}: {LAB_INPUT_LABELS.get(name, name)}"
        key = f"lab_input.{lab}.{name}"
    else:
        label = f"{lab} {'joins' if kind == 'lab_added' else 'leaves'}"
        key = f"{kind}.{lab}"
    return AttributionStep(
        key=key,
        kind=kind,
        lab=lab,
        field=name,
        label=label,
        old=difference.old,
        new=difference.new,
        overridden=kind == "lab_input"
        and ((lab, name) in overrides or (name == "gpu_type" and (lab, "throughput_factor") in overrides)),
    )


def comparison_attribution_get(comparison: ScenarioComparison) -> list[ColumnAttribution]:
    """For every scenario after the baseline: the differences of its run's inputs from the
    baseline run's, and each member's change in savings at central parameters attributed to them one
    at a time, in engine.attribution's fixed order (docs/model.md, "Explaining a comparison").

    Computed from the runs' snapshots, so it explains the runs compared even after the scenarios
    changed. The bars of each member sum to its total change at central parameters, which can
    differ from the difference of the headline figures (medians of the draws).
    """
    from simulations.engine.attribution import attribute

    base = comparison.columns[0].run
    found = []
    for column in comparison.columns[1:]:
        result = ColumnAttribution(column=column, rule=comparison.rule)
        found.append(result)
        if "custom" in base.inputs or "custom" in column.run.inputs:
            result.error = "Custom games have no cost-model inputs to compare; only their results are compared."
            continue
        try:
            old = engine.ScenarioSpec.from_dict(base.inputs["spec"])
            new = engine.ScenarioSpec.from_dict(column.run.inputs["spec"])
            attribution = attribute(old, new, comparison.rule)
        except (engine.EngineError, KeyError, TypeError) as exc:
            result.error = f"The runs' inputs cannot be compared step by step: {exc}."
            continue
        overrides = {
            (lab, name) for run in (base, column.run) for lab, fields in run.overrides.items() for name in fields
        }
        result.steps = [_step_of(difference, overrides) for difference in attribution.differences]
        lab_ids = {**base.inputs.get("lab_ids", {}), **column.run.inputs.get("lab_ids", {})}
        result.members = [
            MemberWaterfall(
                lab_name=name,
                start=attribution.start[name],
                end=attribution.end[name],
                total=attribution.total(name),
                bars=list(attribution.bars[name]),
                lab=lab_ids.get(name),
            )
            for name in attribution.members
        ]
    return found


def attribution_cell(result: ColumnAttribution, lab: int | None, lab_name: str) -> dict[str, object]:
    """One lab's attribution in one scenario, for the comparison's JSON rows and CSV:
    `savings_central_change_usd` (its total change at central parameters) and `attribution_usd`
    {difference key: change}; nulls where it could not be computed."""
    member = result.member(lab_name, lab) if not result.error else None
    if member is None:
        return {"savings_central_change_usd": None, "attribution_usd": None}
    return {
        "savings_central_change_usd": member.total,
        "attribution_usd": {step.key: bar for step, bar in zip(result.steps, member.bars, strict=True)},
    }


def attribution_csv_columns(explained: list[ColumnAttribution]) -> list[str]:
    """The CSV's attribution columns: per scenario after the baseline, its total change at central
    parameters, then `scenario_<id>_due_to[<difference key>]_usd` per difference in order
    (`run_<id>_...` when comparing runs)."""
    columns = []
    for result in explained:
        prefix = result.column.prefix
        columns.append(prefix + "savings_central_change_usd")
        columns += [f"{prefix}due_to[{step.key}]_usd" for step in result.steps]
    return columns


def attribution_csv_values(explained: list[ColumnAttribution], lab: int | None, lab_name: str) -> dict[str, object]:
    flat: dict[str, object] = {}
    for result in explained:
        prefix = result.column.prefix
        cell = attribution_cell(result, lab, lab_name)
        flat[prefix + "savings_central_change_usd"] = cell["savings_central_change_usd"]
        bars = cell["attribution_usd"] or {}
        for step in result.steps:
            flat[f"{prefix}due_to[{step.key}]_usd"] = bars.get(step.key)
    return flat


def attribution_figures(result: ColumnAttribution) -> dict[str, object]:
    """One scenario's attribution as the API's comparison report gives it (money in US$, unrounded so
    that each member's `bars_usd` add up to its `change_usd`)."""
    return {
        "scenario": result.column.scenario.pk,
        "run": result.column.run.pk,
        "rule": result.rule,
        "error": result.error or None,
        "differences": [
            {
                "key": step.key,
                "kind": step.kind,
                "lab": step.lab,
                "field": step.field,
                "label": step.label,
                "old": step.old,
                "new": step.new,
                "overridden": step.overridden,
            }
            for step in result.steps
        ],
        "members": [
            {
                "lab_name": member.lab_name,
                "savings_central_baseline_usd": member.start,
                "savings_central_usd": member.end,
                "change_usd": member.total,
                "bars_usd": list(member.bars),
            }
            for member in result.members
        ],
    }


# Overrides of lab inputs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OverrideRow:
    """One overridden lab input as pages show it: the lab's own value beside the one the scenario uses."""

    lab_name: str
    field: str
    label: str
    lab_value: str
    value: str


def _override_text(name: str, value) -> str:
    if name == "final_run_gpu_hours":
        return f"{int(value):,} GPU-h"
    if name == "price_per_gpu_hour":
        return f"US${float(value):,.2f}/GPU-h"
    if name == "throughput_factor":
        return "datasheet factor" if value is None else f"{float(value):g} H100-eq./GPU-h"
    if name == "area_weights":
        return ", ".join(f"{AREA_LABELS[area]} {float(value.get(area, 0)):g}" for area in AREAS)
    if name == "gpu_type":
        return "Other" if value == "other" else str(value)
    return f"{float(value):g}"


def override_rows_get(*, snapshot: dict) -> list[OverrideRow]:
    """Rows of an overrides snapshot {lab name: {field: {"lab": own, "scenario": used}}} (a run's
    `inputs["overrides"]`, or services.scenario_overrides_snapshot for a scenario as it stands), by
    lab then in the order of LAB_OVERRIDE_FIELDS."""
    order = list(LAB_OVERRIDE_FIELDS)
    return [
        OverrideRow(
            lab_name=lab_name,
            field=name,
            label=LAB_OVERRIDE_FIELDS[name][:1].upper() + LAB_OVERRIDE_FIELDS[name][1:],
            lab_value=_override_text(name, pair["lab"]),
            value=_override_text(name, pair["scenario"]),
        )
        for lab_name, fields in sorted((snapshot or {}).items())
        for name, pair in sorted(fields.items(), key=lambda item: order.index(item[0]))
    ]


def scenario_override_rows_get(*, scenario: Scenario) -> list[OverrideRow]:
    """The scenario's overrides beside its labs' current values."""
    if not scenario.overrides:
        return []
    return override_rows_get(snapshot=services.scenario_overrides_snapshot(scenario=scenario))


# Openness and reuse from the ledger -----------------------------------------------------------------

# The model "runs ahead of the evidence" for a member when it expects the commons to save it more
# than this many times the reuse of others' work the ledger records (per year).
AHEAD_FACTOR = 2.0
SOURCE_LABELS = {"assumed": "assumed", "ledger": "from the ledger", "override": "scenario override"}


@dataclass(frozen=True)
class OpennessRow:
    """One lab's openness as a scenario (or a run) takes it: the assumed figure beside the measured one."""

    lab_name: str
    lab: int | None
    asked: str
    source: str
    value: float
    assumed: float
    measured: float | None
    fallback: bool
    reuse_of_its_work: float | None = None
    reuse_by_it: float | None = None
    artifacts: int | None = None

    @property
    def asked_label(self) -> str:
        return SOURCE_LABELS.get(self.asked, self.asked)

    @property
    def source_label(self) -> str:
        if self.fallback:
            return "assumed (no evidence in the ledger)"
        return SOURCE_LABELS.get(self.source, self.source)

    def to_dict(self) -> dict[str, object]:
        return {
            "lab": self.lab,
            "lab_name": self.lab_name,
            "asked": self.asked,
            "source": self.source,
            "value": self.value,
            "assumed": self.assumed,
            "measured": self.measured,
            "fallback": self.fallback,
        }


def _openness_rows(records: dict, evidence: dict, lab_ids: dict) -> list[OpennessRow]:
    rows = []
    for name, record in sorted(records.items()):
        facts = evidence.get(name) or {}
        rows.append(
            OpennessRow(
                lab_name=name,
                lab=lab_ids.get(name),
                asked=record["asked"],
                source=record["source"],
                value=record["value"],
                assumed=record["assumed"],
                measured=record["measured"],
                fallback=record["fallback"],
                reuse_of_its_work=facts.get("reuse_of_its_work_gpu_hours"),
                reuse_by_it=facts.get("reuse_by_it_gpu_hours"),
                artifacts=facts.get("artifacts"),
            )
        )
    return rows


@dataclass(frozen=True)
class ScenarioOpenness:
    """A scenario's openness per lab as it stands today, with the evidence window it reads."""

    months: int
    start: object
    end: object
    rows: list[OpennessRow]


def scenario_openness_get(*, scenario: Scenario) -> ScenarioOpenness:
    """Each of the scenario's labs: assumed and measured openness, the source asked and the value a run
    started now would use, and the reuse figures of the window (two queries for any number of labs)."""
    labs = list(scenario.labs.order_by("name"))
    evidence, records = services.scenario_evidence_get(scenario=scenario, labs=labs)
    snapshot = services.evidence_snapshot(scenario=scenario, labs=labs, evidence=evidence)
    rows = _openness_rows(records, snapshot["labs"], {lab.name: lab.pk for lab in labs})
    return ScenarioOpenness(
        months=scenario.evidence_months,
        start=datetime.date.fromisoformat(snapshot["start"]) if snapshot["start"] else None,
        end=datetime.date.fromisoformat(snapshot["end"]) if snapshot["end"] else None,
        rows=rows,
    )


@dataclass(frozen=True)
class EvidenceRow:
    """One member of a run: the reuse of others' work the ledger records beside what the model expects.

    `ledger_gpu_hours` is the reuse it logged in the window, `ledger_per_year` that over the window's
    length; `model_saved_per_year` the in-house compute the commons replaces in year 1 at central
    parameters (H100-equivalent GPU-hours), `model_drawn_per_year` what it draws from the commons.
    """

    lab_name: str
    lab: int | None
    ledger_gpu_hours: float
    ledger_per_year: float
    model_drawn_per_year: float
    model_saved_per_year: float
    model_saved_base_model: float

    @property
    def ratio(self) -> float | None:
        """Model over ledger (None when the ledger records no reuse)."""
        return None if self.ledger_per_year <= 0 else self.model_saved_per_year / self.ledger_per_year

    @property
    def ahead(self) -> bool:
        """The model expects much more than the ledger shows (AHEAD_FACTOR)."""
        if self.model_saved_per_year <= 0:
            return False
        return self.ledger_per_year <= 0 or self.model_saved_per_year > AHEAD_FACTOR * self.ledger_per_year

    @property
    def sentence(self) -> str:
        model = f"{_hours(self.model_saved_per_year)} GPU-hours a year"
        ledger = f"{_hours(self.ledger_per_year)} GPU-hours a year"
        if self.model_saved_per_year <= 0:
            return f"The model expects the commons to save {self.lab_name} nothing; the ledger records {ledger}."
        if self.ledger_per_year <= 0:
            return (
                f"The model expects the commons to save {self.lab_name} {model}, but the ledger records no reuse "
                "of others' work in the window: the model runs ahead of the evidence."
            )
        if self.ahead:
            return (
                f"The model expects the commons to save {self.lab_name} {model}, {self.ratio:.1f} times the "
                f"{ledger} of reuse the ledger records: the model runs ahead of the evidence."
            )
        return f"The model expects {model} for {self.lab_name}; the ledger records {ledger}, in line with it."

    def to_dict(self) -> dict[str, object]:
        return {
            "lab": self.lab,
            "lab_name": self.lab_name,
            "ledger_reuse_gpu_hours": round(self.ledger_gpu_hours, 2),
            "ledger_reuse_gpu_hours_per_year": round(self.ledger_per_year, 2),
            "model_drawn_gpu_hours_per_year": round(self.model_drawn_per_year, 2),
            "model_saved_gpu_hours_per_year": round(self.model_saved_per_year, 2),
            "model_saved_base_model_gpu_hours_per_year": round(self.model_saved_base_model, 2),
            "model_over_ledger": None if self.ratio is None else round(self.ratio, 4),
            "model_ahead_of_evidence": self.ahead,
            "sentence": self.sentence,
        }


def _hours(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:,.2f} million"
    return f"{value:,.0f}"


@dataclass(frozen=True)
class RunEvidence:
    """A run's evidence: the window its snapshot read, openness per lab, and the ledger against the model."""

    months: int
    start: str
    end: str
    weights: dict[str, float]
    openness: list[OpennessRow]
    members: list[EvidenceRow]

    ahead_factor: float = AHEAD_FACTOR

    @property
    def any_ahead(self) -> bool:
        return any(row.ahead for row in self.members)

    def to_dict(self) -> dict[str, object]:
        return {
            "window": {"months": self.months, "start": self.start, "end": self.end},
            "openness_weights": self.weights,
            "openness": [row.to_dict() for row in self.openness],
            "members": [row.to_dict() for row in self.members],
            "ahead_factor": AHEAD_FACTOR,
        }


def run_evidence_get(*, run: SimulationRun) -> RunEvidence | None:
    """The evidence a cost-model run recorded when it started, with the model's draws from the commons
    computed from its snapshot at central parameters (engine.evidence); None for runs made before
    runs recorded evidence, and for custom games. No query."""
    inputs = run.inputs or {}
    recorded = inputs.get("evidence")
    if not recorded or "spec" not in inputs or "custom" in inputs:
        return None
    spec = engine.ScenarioSpec.from_dict(inputs["spec"])
    draws = commons_draws(spec.labs, spec.params)
    lab_ids = inputs.get("lab_ids", {})
    start = datetime.date.fromisoformat(recorded["start"])
    end = datetime.date.fromisoformat(recorded["end"])
    years = ((end - start).days + 1) / 365.25
    members = []
    for lab in spec.labs:
        facts = recorded["labs"].get(lab.name, {})
        logged = float(facts.get("reuse_by_it_gpu_hours", 0.0))
        draw = draws[lab.name]
        members.append(
            EvidenceRow(
                lab_name=lab.name,
                lab=lab_ids.get(lab.name),
                ledger_gpu_hours=logged,
                ledger_per_year=logged / years,
                model_drawn_per_year=draw.drawn,
                model_saved_per_year=draw.saved,
                model_saved_base_model=draw.saved_base_model,
            )
        )
    return RunEvidence(
        months=int(recorded["months"]),
        start=recorded["start"],
        end=recorded["end"],
        weights=dict(recorded.get("weights", {})),
        openness=_openness_rows(inputs.get("openness", {}), recorded["labs"], lab_ids),
        members=members,
    )
