"""Report builders for API clients: savings, comparison, contributions, reuse.

Numbers come from the selectors pages use (`simulations.selectors` for run results,
`labs.selectors.contribution_totals` for the ledger); this module only picks, renames (units in
the names) and lines them up. Each report has a cheap `*_source_get` that finds what the report
depends on and its freshness, so a conditional request is answered before the report is built.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.db.models import Count, F, Max, Sum

from consortium.models import Consortium, Membership, Scenario
from labs.models import ArtifactReuse, ComputeContribution
from labs.selectors import contribution_totals
from simulations.models import MemberResult, SimulationRun
from simulations.selectors import (
    COMPARISON_FIGURES,
    MEMBER_FIGURE_COLUMNS,
    ComparisonError,
    attribution_cell,
    attribution_csv_columns,
    attribution_csv_values,
    attribution_figures,
    comparison_attribution_get,
    comparison_cell_figures,
    latest_run_get,
    member_figures,
    run_results_get,
    scenario_comparison_get,
)

from .authentication import api_key_with_consortium
from .models import ApiKey
from .rows import RowQuery, Selection

CURRENCY = "USD"
# The run CSV download's figures, after the lab's id and name (simulations.selectors.MEMBER_FIGURES).
SAVINGS_COLUMNS = ("lab", "lab_name", *MEMBER_FIGURE_COLUMNS)
CONTRIBUTION_GROUPS = {"lab": "lab", "period": "quarter", "gpu_type": "gpu_type"}
CONTRIBUTION_FIGURES = (
    "entries",
    "gpu_hours_pledged",
    "gpu_hours_delivered",
    "delivery_rate_pct",
    "pledged_value_usd",
    "delivered_value_usd",
    "cash_usd",
)
REUSE_GROUPS = ("reusing_lab", "owning_lab")
REUSE_COLUMNS = ("lab", "lab_name", "gpu_hours_saved", "reuses", "artifacts")
# Run results are immutable once stored; the cache only bounds memory.
ROWS_CACHE_SECONDS = 3600
WINDOWS = ("last-quarter", "quarter-to-date", "last-year", "year-to-date", "last-30-days", "all")


class ReportNotFound(Exception):
    """What the report needs does not exist: no such scenario or run, no succeeded run yet, no
    results for the rule. The message starts with the parameter it is about."""


class ReportConflict(Exception):
    """The report's run exists but is not in a state to report on (not succeeded)."""


def _pct(value: float) -> float:
    return round(float(value), 4)


def _tag(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


# Time windows ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    start: datetime.date | None
    end: datetime.date | None
    name: str


def _quarter_start(day: datetime.date) -> datetime.date:
    return datetime.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def window_resolve(
    *,
    today: datetime.date,
    window: str | None = None,
    start: datetime.date | None = None,
    end: datetime.date | None = None,
) -> Window:
    """Dates of a named window (`last-quarter`, `year-to-date`, ...) or of explicit start/end dates.

    Windows end today or at the end of the last whole period; `all` (the default) is unbounded.
    """
    if window and (start or end):
        raise ValidationError({"window": "Give either a window keyword or start/end dates, not both."})
    if start and end and start > end:
        raise ValidationError({"end": f"The end date {end} is before the start date {start}."})
    if not window:
        return Window(start, end, "custom" if start or end else "all")
    this_quarter = _quarter_start(today)
    if window == "last-quarter":
        last = _quarter_start(this_quarter - datetime.timedelta(days=1))
        return Window(last, this_quarter - datetime.timedelta(days=1), window)
    if window == "quarter-to-date":
        return Window(this_quarter, today, window)
    if window == "year-to-date":
        return Window(datetime.date(today.year, 1, 1), today, window)
    if window == "last-year":
        return Window(datetime.date(today.year - 1, 1, 1), datetime.date(today.year - 1, 12, 31), window)
    if window == "last-30-days":
        return Window(today - datetime.timedelta(days=29), today, window)
    if window == "all":
        return Window(None, None, window)
    raise ValidationError({"window": f"Unknown window {window!r}; choose from {', '.join(WINDOWS)}."})


# Savings -----------------------------------------------------------------------------------


@dataclass
class SavingsSource:
    run: SimulationRun

    @property
    def scenario(self) -> Scenario:
        # Loaded on first use: an answer from the report cache never needs it.
        return self.run.scenario

    @property
    def last_modified(self) -> datetime.datetime | None:
        return self.run.finished_at

    def etag(self, *variant: object) -> str:
        return _tag("savings", self.run.pk, self.run.finished_at, *variant)


# The run of a savings report, in fixed statements (reports/rows.py says why not the ORM); other
# fields of the run are deferred. A run of another consortium's scenario is never found.
_RUN_NAMES = {
    "run": SimulationRun._meta.db_table,
    "scenario": Scenario._meta.db_table,
    "run_pk": SimulationRun._meta.pk.column,
    "run_scenario": SimulationRun._meta.get_field("scenario").column,
    "run_status": SimulationRun._meta.get_field("status").column,
    "run_finished": SimulationRun._meta.get_field("finished_at").column,
    "scenario_pk": Scenario._meta.pk.column,
    "scenario_consortium": Scenario._meta.get_field("consortium").column,
}
_RUN_FIELDS = ("id", "scenario", "status", "finished_at", "engine_version", "headline", "warnings", "outsider_share")
_RUN_OF_SCENARIO = (
    'FROM {run} "r" INNER JOIN {scenario} "s" ON "s".{scenario_pk} = "r".{run_scenario} '
    'WHERE "r".{run_scenario} = %s AND "s".{scenario_consortium} = %s'
)
GIVEN_RUN = RowQuery(
    [Selection(SimulationRun, "r", _RUN_FIELDS)], _RUN_OF_SCENARIO + ' AND "r".{run_pk} = %s', _RUN_NAMES
)
# The same choice as simulations.selectors.latest_run_get (order_by("-finished_at", "-id")): plain
# DESC, as the ORM writes it, so NULLs sort as they do there on every backend.
LATEST_SUCCEEDED_RUN = RowQuery(
    [Selection(SimulationRun, "r", _RUN_FIELDS)],
    _RUN_OF_SCENARIO + ' AND "r".{run_status} = %s ORDER BY "r".{run_finished} DESC, "r".{run_pk} DESC LIMIT 1',
    _RUN_NAMES,
)


# An API key and its consortium with the latest succeeded run of one scenario of that consortium
# (NULLs when there is none): the savings report's two lookups in one round trip.
KEY_AND_LATEST_SUCCEEDED_RUN = RowQuery(
    [Selection(ApiKey, "k"), Selection(Consortium, "c"), Selection(SimulationRun, "r", _RUN_FIELDS)],
    'FROM {key} "k" INNER JOIN {consortium} "c" ON "c".{consortium_pk} = "k".{key_consortium} '
    'LEFT OUTER JOIN {run} "r" ON "r".{run_scenario} = %s AND "r".{run_pk} = ('
    'SELECT "r2".{run_pk} FROM {run} "r2" INNER JOIN {scenario} "s" ON "s".{scenario_pk} = "r2".{run_scenario} '
    'WHERE "r2".{run_scenario} = %s AND "s".{scenario_consortium} = "k".{key_consortium} AND "r2".{run_status} = %s '
    'ORDER BY "r2".{run_finished} DESC, "r2".{run_pk} DESC LIMIT 1) '
    'WHERE "k".{prefix} = %s',
    _RUN_NAMES
    | {
        "key": ApiKey._meta.db_table,
        "consortium": Consortium._meta.db_table,
        "consortium_pk": Consortium._meta.pk.column,
        "key_consortium": ApiKey._meta.get_field("consortium").column,
        "prefix": ApiKey._meta.get_field("prefix").column,
    },
)


def api_key_and_latest_run_get(*, prefix: str, scenario_id: int) -> tuple[ApiKey | None, SimulationRun | None]:
    """The key with this prefix (its consortium loaded) and the latest succeeded run of the scenario
    if the scenario belongs to the key's consortium. The caller still checks the key itself."""
    succeeded = SimulationRun.Status.SUCCEEDED.value
    found = KEY_AND_LATEST_SUCCEEDED_RUN.fetch([scenario_id, scenario_id, succeeded, prefix])
    if found is None:
        return None, None
    api_key, consortium, run = found
    return api_key_with_consortium(api_key, consortium), run  # type: ignore[arg-type,return-value]


def savings_source_get(*, consortium: Consortium, scenario_id: int, run_id: int | None = None) -> SavingsSource:
    """The run a savings report reads: the given run of the scenario, or its latest succeeded run.

    One query when the run is there (the report's hot path); the reason is looked up only when not.
    """
    if run_id is not None:
        found = GIVEN_RUN.fetch([scenario_id, consortium.pk, run_id])
    else:
        found = LATEST_SUCCEEDED_RUN.fetch([scenario_id, consortium.pk, SimulationRun.Status.SUCCEEDED.value])
    run = found[0] if found else None
    if run is None:
        scenario = Scenario.objects.filter(pk=scenario_id, consortium=consortium).first()
        if scenario is None:
            raise ReportNotFound(f"scenario: no scenario {scenario_id} in consortium {consortium.slug}.")
        if run_id is not None:
            raise ReportNotFound(f"run: no run {run_id} of scenario {scenario_id}.")
        raise ReportNotFound(f"scenario: scenario {scenario_id} ({scenario.name}) has no succeeded run yet.")
    if run.status != SimulationRun.Status.SUCCEEDED:
        raise ReportConflict(f"run: run {run_id} has not succeeded (status: {run.status}).")
    return SavingsSource(run)


def savings_row(result: MemberResult) -> dict[str, Any]:
    return {"lab": result.lab_id, "lab_name": result.lab_name, **member_figures(result)}


@dataclass
class SavingsReport:
    scenario: Scenario
    run: SimulationRun
    rule: str
    rules: list[str]
    rows: list[dict[str, Any]]

    def meta(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.pk,
            "scenario_name": self.scenario.name,
            "run": self.run.pk,
            "run_finished_at": self.run.finished_at,
            "rule": self.rule,
            "rules": self.rules,
            "currency": CURRENCY,
            **run_meta(self.run),
        }


def run_meta(run: SimulationRun) -> dict[str, Any]:
    """What a report says about the run its figures come from (blank for runs of engine 1.0.0)."""
    return {
        "engine_version": run.engine_version,
        "headline": run.headline,
        "warnings": list(run.warnings or []),
        "outsider_share": run.outsider_share,
    }


def _rule_pick(rules: list[str], rule: str | None, *, what: str) -> str:
    if not rules:
        raise ReportNotFound(f"run: {what} has no stored results.")
    if rule is None:
        return rules[0]
    if rule not in rules:
        raise ReportNotFound(f"rule: {what} has no results for rule {rule!r}; it has {', '.join(rules)}.")
    return rule


def run_savings_rows(run: SimulationRun) -> tuple[list[str], dict[str, list[dict[str, Any]]]]:
    """A succeeded run's rules and, per rule, its members' report rows (by lab name).

    Read through simulations.selectors.run_results_get, the pages' own path, then cached: stored
    results never change once a run has succeeded, and the key carries the run's finish time.
    """
    key = f"reports:savings-rows:{run.pk}:{run.finished_at.isoformat() if run.finished_at else ''}"
    cached = caches["local"].get(key)
    if cached is None:
        results = run_results_get(run=run)
        rows = {rule: [savings_row(result) for result in members] for rule, members in results.members.items()}
        cached = (list(results.rules), rows)
        caches["local"].set(key, cached, timeout=ROWS_CACHE_SECONDS)
    return cached


def savings_report_get(*, source: SavingsSource, rule: str | None = None) -> SavingsReport:
    rules, rows = run_savings_rows(source.run)
    chosen = _rule_pick(rules, rule, what=f"Run {source.run.pk}")
    return SavingsReport(source.scenario, source.run, chosen, rules, rows[chosen])


# Comparison --------------------------------------------------------------------------------


@dataclass
class ComparisonSource:
    sources: list[SavingsSource]
    # The runs were named (`runs=`), not the scenarios: columns are keyed by run.
    by_run: bool = False

    @property
    def last_modified(self) -> datetime.datetime | None:
        stamps = [source.run.finished_at for source in self.sources if source.run.finished_at]
        return max(stamps) if stamps else None

    def etag(self, *variant: object) -> str:
        return _tag("comparison", self.by_run, [(s.run.pk, s.run.finished_at) for s in self.sources], *variant)


def comparison_source_get(*, consortium: Consortium, scenario_ids: list[int]) -> ComparisonSource:
    """The latest succeeded run of each scenario, in the order given (the first is the baseline)."""
    found = {s.pk: s for s in Scenario.objects.filter(pk__in=scenario_ids, consortium=consortium)}
    missing = [str(pk) for pk in scenario_ids if pk not in found]
    if missing:
        raise ReportNotFound(f"scenarios: no scenario {', '.join(missing)} in consortium {consortium.slug}.")
    sources = []
    for pk in scenario_ids:
        run = latest_run_get(scenario=found[pk])
        if run is None:
            raise ReportNotFound(f"scenarios: scenario {pk} ({found[pk].name}) has no succeeded run yet.")
        sources.append(SavingsSource(run))
    return ComparisonSource(sources)


def comparison_runs_source_get(*, consortium: Consortium, run_ids: list[int]) -> ComparisonSource:
    """The runs given, of any scenarios of the consortium (two runs of one scenario, say), in the
    order given (the first is the baseline); each must have succeeded."""
    found = {
        run.pk: run
        for run in SimulationRun.objects.filter(pk__in=run_ids, scenario__consortium=consortium).select_related(
            "scenario"
        )
    }
    missing = [str(pk) for pk in run_ids if pk not in found]
    if missing:
        raise ReportNotFound(f"runs: no run {', '.join(missing)} in consortium {consortium.slug}.")
    unfinished = [found[pk] for pk in run_ids if found[pk].status != SimulationRun.Status.SUCCEEDED]
    if unfinished:
        names = ", ".join(f"{run.pk} (status: {run.status})" for run in unfinished)
        raise ReportConflict(f"runs: only succeeded runs can be compared; not run {names}.")
    return ComparisonSource([SavingsSource(found[pk]) for pk in run_ids], by_run=True)


@dataclass
class ComparisonReport:
    rule: str
    scenarios: list[dict[str, Any]]
    rows: list[dict[str, Any]] = field(default_factory=list)
    # simulations.selectors.attribution_figures per scenario after the baseline.
    explained: list[dict[str, Any]] = field(default_factory=list)
    attribution_columns: list[str] = field(default_factory=list)
    # Per row, its attribution columns for the CSV (attribution_csv_columns).
    csv_extra: list[dict[str, Any]] = field(default_factory=list)
    # Per compared run, its CSV column prefix (`scenario_<id>_`, or `run_<id>_` comparing runs).
    prefixes: list[str] = field(default_factory=list)


def comparison_report_get(*, source: ComparisonSource, rule: str | None = None) -> ComparisonReport:
    """Each lab's figures in every scenario, and the differences from the first (baseline) scenario:
    simulations.selectors.scenario_comparison_get, the compare page's own computation.

    A lab missing from a scenario has nulls there, and so do its differences.
    """
    try:
        comparison = scenario_comparison_get(
            scenarios=[item.scenario for item in source.sources],
            runs=[item.run for item in source.sources],
            rule=rule,
            by_run=source.by_run,
        )
    except ComparisonError as error:
        raise ReportNotFound(str(error)) from None
    scenarios = [
        {
            "scenario": column.scenario.pk,
            "scenario_name": column.scenario.name,
            "run": column.run.pk,
            **run_meta(column.run),
        }
        for column in comparison.columns
    ]
    explained = comparison_attribution_get(comparison)
    by_run = {result.column.run.pk: result for result in explained}

    def cell_of(index: int, column, cell, line) -> dict[str, Any]:
        figures = comparison_cell_figures(column, cell, baseline=index == 0)
        result = by_run.get(column.run.pk) if index else None
        if result is None:
            figures.update({"savings_central_change_usd": None, "attribution_usd": None})
        else:
            figures.update(attribution_cell(result, line.lab, line.lab_name))
        return figures

    rows = [
        {
            "lab": line.lab,
            "lab_name": line.lab_name,
            "scenarios": [
                cell_of(index, column, cell, line)
                for index, (column, cell) in enumerate(zip(comparison.columns, line.cells, strict=True))
            ],
        }
        for line in comparison.rows
    ]
    return ComparisonReport(
        comparison.rule,
        scenarios,
        rows,
        explained=[attribution_figures(result) for result in explained],
        attribution_columns=attribution_csv_columns(explained),
        csv_extra=[attribution_csv_values(explained, line.lab, line.lab_name) for line in comparison.rows],
        prefixes=[column.prefix for column in comparison.columns],
    )


def comparison_csv_columns(report: ComparisonReport) -> list[str]:
    # The compare page's CSV has these columns too (simulations.selectors.comparison_csv_columns).
    columns = ["lab", "lab_name"]
    for prefix in report.prefixes:
        columns += [prefix + figure for figure in COMPARISON_FIGURES]
    return columns + report.attribution_columns


def comparison_csv_row(
    row: dict[str, Any], extra: dict[str, Any] | None = None, prefixes: list[str] | None = None
) -> dict[str, Any]:
    flat = {"lab": row["lab"], "lab_name": row["lab_name"]}
    skip = {"scenario", "run", "savings_central_change_usd", "attribution_usd"}
    for index, cell in enumerate(row["scenarios"]):
        prefix = prefixes[index] if prefixes else f"scenario_{cell['scenario']}_"
        flat.update({prefix + key: value for key, value in cell.items() if key not in skip})
    flat.update(extra or {})
    return flat


# Contributions -----------------------------------------------------------------------------


@dataclass
class LedgerSource:
    """Freshness of an append-only table: its row count and newest row (None: no Last-Modified)."""

    count: int
    latest: datetime.datetime | None
    extra: tuple[Any, ...] = ()

    @property
    def last_modified(self) -> datetime.datetime | None:
        return self.latest

    def etag(self, *variant: object) -> str:
        return _tag("ledger", self.count, self.latest, self.extra, *variant)


def contributions_source_get(*, consortium: Consortium) -> LedgerSource:
    # The ledger is append-only: its row count and newest entry change whenever any total does.
    # The rows also name their labs, and a lab may be renamed.
    stats = ComputeContribution.objects.filter(consortium=consortium).aggregate(
        count=Count("id"), latest=Max("recorded_at"), labs_edited=Max("lab__updated_at")
    )
    stamps = [stamp for stamp in (stats["latest"], stats["labs_edited"]) if stamp is not None]
    return LedgerSource(stats["count"], max(stamps) if stamps else None, (stats["labs_edited"],))


def contributions_report_get(
    *, consortium: Consortium, window: Window, group_by: tuple[str, ...], lab: Any = None
) -> list[dict[str, Any]]:
    """Pledged versus delivered GPU-hours and their value (US$) per group, for entries starting in the window."""
    totals = contribution_totals(
        consortium=consortium,
        lab=lab,
        start=window.start,
        end=window.end,
        group_by=tuple(CONTRIBUTION_GROUPS[name] for name in group_by),
    )
    rows = []
    for total in totals:
        row: dict[str, Any] = {}
        if "lab" in group_by:
            row |= {"lab": total["lab"], "lab_name": total["lab_name"]}
        if "period" in group_by:
            quarter = total["quarter"]
            row |= {"period": f"{quarter.year}-Q{(quarter.month - 1) // 3 + 1}", "period_start": quarter}
        if "gpu_type" in group_by:
            row["gpu_type"] = total["gpu_type"]
        pledged = Decimal(total["gpu_hours_pledged"])
        delivered = Decimal(total["gpu_hours_delivered"])
        row |= {
            "entries": total["entries"],
            "gpu_hours_pledged": float(pledged),
            "gpu_hours_delivered": float(delivered),
            "delivery_rate_pct": _pct(delivered / pledged * 100) if pledged else None,
            "pledged_value_usd": float(total["pledged_value"]),
            "delivered_value_usd": float(total["delivered_value"]),
            "cash_usd": float(total["cash"]),
        }
        rows.append(row)
    return rows


def contributions_columns(group_by: tuple[str, ...]) -> list[str]:
    columns: list[str] = []
    if "lab" in group_by:
        columns += ["lab", "lab_name"]
    if "period" in group_by:
        columns += ["period", "period_start"]
    if "gpu_type" in group_by:
        columns.append("gpu_type")
    return columns + list(CONTRIBUTION_FIGURES)


# Reuse -------------------------------------------------------------------------------------


def _consortium_reuses(consortium: Consortium, window: Window):  # type: ignore[no-untyped-def]
    """Reuse inside the consortium: both the reusing and the owning lab are currently in it."""
    current = Membership.objects.current().filter(consortium=consortium).values("lab_id")
    reuses = ArtifactReuse.objects.filter(reusing_lab__in=current, artifact__lab__in=current)
    if window.start:
        reuses = reuses.filter(reused_on__gte=window.start)
    if window.end:
        reuses = reuses.filter(reused_on__lte=window.end)
    return reuses


def reuse_source_get(*, consortium: Consortium, window: Window) -> LedgerSource:
    # Reuse records are added, edited (gpu_hours_saved) and deleted, the labs they name may be renamed,
    # and a lab joining or leaving moves its reuse in or out of the report: all are in the ETag.
    stats = _consortium_reuses(consortium, window).aggregate(
        count=Count("id"),
        latest=Max("created_at"),
        edited=Max("updated_at"),
        reusing_lab_edited=Max("reusing_lab__updated_at"),
        owning_lab_edited=Max("artifact__lab__updated_at"),
    )
    spells = Membership.objects.filter(consortium=consortium).aggregate(spells=Count("id"), left=Count("left_on"))
    freshness = (stats["latest"], stats["edited"], stats["reusing_lab_edited"], stats["owning_lab_edited"])
    return LedgerSource(stats["count"], None, (*freshness, spells["spells"], spells["left"]))


def reuse_report_get(*, consortium: Consortium, window: Window, by: str) -> list[dict[str, Any]]:
    """GPU-hours saved through reuse of artifacts, per reusing lab or per owning lab."""
    if by not in REUSE_GROUPS:
        raise ValidationError({"by": f"Unknown grouping {by!r}; choose from {', '.join(REUSE_GROUPS)}."})
    lab = "reusing_lab" if by == "reusing_lab" else "artifact__lab"
    rows = (
        _consortium_reuses(consortium, window)
        .values(lab_id=F(lab), name=F(f"{lab}__name"))
        .annotate(saved=Sum("gpu_hours_saved"), reuses=Count("id"), artifacts=Count("artifact", distinct=True))
        .order_by("name")
    )
    return [
        {
            "lab": row["lab_id"],
            "lab_name": row["name"],
            "gpu_hours_saved": float(row["saved"] or 0),
            "reuses": row["reuses"],
            "artifacts": row["artifacts"],
        }
        for row in rows
    ]
