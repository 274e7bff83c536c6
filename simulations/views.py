"""Scenario editor, runs with a live progress bar, results, comparison, member reports and CSV downloads.

Every figure shown comes from simulations.selectors, so a page, its CSV and the API agree. Reading
needs `can_view_consortium`; editing a scenario or starting/cancelling a run needs a coordinator (403).
"""

from __future__ import annotations

import numpy as np
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from consortium import access
from consortium import services as consortium_services
from consortium.csv_export import csv_response
from consortium.models import Consortium, Scenario
from labs.forms import add_service_errors
from simulations.engine import RULE_LABELS
from simulations.engine.custom import custom_game_size, custom_player_names
from simulations.engine.scenario import settlement_transfers

from . import selectors, services
from .focus import FOCUS_COLUMNS, focus_rows
from .forms import MIN_COMPARED, CompareForm, CustomGameForm, ScenarioForm
from .models import SimulationRun


def _visible_consortium(request, slug: str) -> Consortium:
    consortium = get_object_or_404(Consortium, slug=slug)
    if not access.can_view_consortium(request.user, consortium):
        raise Http404("No such consortium.")
    return consortium


def _visible_scenario(request, pk: int) -> Scenario:
    scenario = get_object_or_404(Scenario.objects.select_related("consortium"), pk=pk)
    if not access.can_view_consortium(request.user, scenario.consortium):
        raise Http404("No such scenario.")
    return scenario


def _coordinated_scenario(request, pk: int) -> Scenario:
    # 404 before 403: a scenario the user cannot see must look like one that does not exist.
    scenario = _visible_scenario(request, pk)
    if not access.is_coordinator(request.user, scenario.consortium):
        raise PermissionDenied("Only the consortium's coordinators change its scenarios and start runs.")
    return scenario


def _visible_run(request, pk: int) -> SimulationRun:
    run = get_object_or_404(SimulationRun.objects.select_related("scenario__consortium"), pk=pk)
    if not access.can_view_consortium(request.user, run.scenario.consortium):
        raise Http404("No such run.")
    return run


# Scenario editor ----------------------------------------------------------------------------------


def _form_page(request, *, form, template: str, context: dict, save, add_errors, success):
    """GET shows the form. A valid POST calls `save(form)` (a service) and redirects to what it
    returns, with `success(saved)` as the message; bad input, or a service's ValidationError put on
    the form by `add_errors`, shows the page again with status 400 and nothing saved."""
    context = {**context, "form": form}
    if request.method == "POST":
        if form.is_valid():
            try:
                saved = save(form)
            except ValidationError as error:
                add_errors(form, error)
            else:
                messages.success(request, success(saved))
                return redirect(saved)
        return render(request, template, context, status=400)
    return render(request, template, context)


def _require_coordinator(request, consortium: Consortium) -> None:
    if not access.is_coordinator(request.user, consortium):
        raise PermissionDenied("Only the consortium's coordinators create scenarios.")


@login_required
@require_http_methods(["GET", "POST"])
def scenario_new(request, slug: str):
    consortium = _visible_consortium(request, slug)
    _require_coordinator(request, consortium)
    return _form_page(
        request,
        form=ScenarioForm(request.POST or None, consortium=consortium),
        template="simulations/scenario_form.html",
        context={"consortium": consortium},
        save=lambda form: consortium_services.scenario_create(
            consortium=consortium, created_by=request.user, **form.service_values()
        ),
        add_errors=_add_scenario_errors,
        success=lambda scenario: f"Scenario “{scenario.name}” saved. Run it to see each member's savings.",
    )


@login_required
@require_http_methods(["GET", "POST"])
def scenario_edit(request, pk: int):
    scenario = _coordinated_scenario(request, pk)
    if scenario.is_custom:
        return redirect("simulations:custom_game_edit", pk=scenario.pk)
    return _form_page(
        request,
        form=ScenarioForm(request.POST or None, instance=scenario, consortium=scenario.consortium),
        template="simulations/scenario_form.html",
        context={"consortium": scenario.consortium, "scenario": scenario},
        save=lambda form: consortium_services.scenario_update(scenario=scenario, **form.service_values()),
        add_errors=_add_scenario_errors,
        success=lambda _: "Scenario saved. Earlier runs keep the inputs they used.",
    )


@login_required
@require_http_methods(["GET", "POST"])
def custom_game_new(request, slug: str):
    """Bring your own game: a table of coalition costs or an airport game, split by the chosen rules."""
    consortium = _visible_consortium(request, slug)
    _require_coordinator(request, consortium)

    def save(form):
        data = form.cleaned_data
        return consortium_services.custom_game_create(
            consortium=consortium,
            created_by=request.user,
            name=data["name"],
            description=data["description"],
            kind=data["kind"],
            text=data["game_text"],
            rules=data["rules"],
        )

    return _form_page(
        request,
        form=CustomGameForm(request.POST or None, request.FILES or None),
        template="simulations/custom_game_form.html",
        context={"consortium": consortium},
        save=save,
        add_errors=_add_game_errors,
        success=lambda scenario: f"Game “{scenario.name}” saved. Run it to split its cost.",
    )


@login_required
@require_http_methods(["GET", "POST"])
def custom_game_edit(request, pk: int):
    scenario = _coordinated_scenario(request, pk)
    if not scenario.is_custom:
        return redirect("simulations:scenario_edit", pk=scenario.pk)

    def save(form):
        data = form.cleaned_data
        return consortium_services.custom_game_update(
            scenario=scenario,
            name=data["name"],
            description=data["description"],
            text=data["game_text"],
            rules=data["rules"],
        )

    return _form_page(
        request,
        form=CustomGameForm(request.POST or None, request.FILES or None, scenario=scenario),
        template="simulations/custom_game_form.html",
        context={"consortium": scenario.consortium, "scenario": scenario},
        save=save,
        add_errors=_add_game_errors,
        success=lambda _: "Game saved. Earlier runs keep the table they used.",
    )


def _add_game_errors(form: CustomGameForm, error: ValidationError) -> None:
    for field, messages_ in error.message_dict.items():
        target = field if field in form.fields else None
        if field == "game":
            target = "upload" if form.cleaned_data.get("upload") else "text"
        for message in messages_:
            form.add_error(target, message)


def _add_scenario_errors(form: ScenarioForm, error: ValidationError) -> None:
    if hasattr(error, "error_dict") and "parameters" in error.error_dict:
        # Parameter errors name the parameter first ("replication = 9 is outside ..."); put each beside its input.
        for message in error.message_dict.pop("parameters"):
            name = message.split(" ", 1)[0].split("[", 1)[0].split("=", 1)[0].strip()
            target = f"p_{name}" if f"p_{name}" in form.fields else None
            form.add_error(target, message)
        error = ValidationError(error.message_dict) if error.message_dict else None
    if error is not None:
        add_service_errors(form, error)


@login_required
def scenario_detail(request, pk: int):
    scenario = _visible_scenario(request, pk)
    if scenario.is_custom:
        return _custom_game_detail(request, scenario)
    return scenario_page(request, scenario)


def scenario_page(request, scenario: Scenario, *, whatif: dict | None = None, status: int = 200):
    """A model scenario's page; `whatif` fills in its what-if panel (simulations.whatif_views)."""
    is_coordinator = access.is_coordinator(request.user, scenario.consortium)
    if is_coordinator and whatif is None:
        from .whatif_views import WhatIfForm, panel_context

        whatif = panel_context(scenario=scenario, form=WhatIfForm(scenario=scenario))
    runs = scenario.runs.all()[:10]
    latest = selectors.latest_run_get(scenario=scenario)
    specs = ScenarioForm(consortium=scenario.consortium, instance=scenario).parameter_rows
    values = scenario.effective_parameters()
    override_rows = selectors.scenario_override_rows_get(scenario=scenario)
    return render(
        request,
        "simulations/scenario_detail.html",
        {
            "scenario": scenario,
            "consortium": scenario.consortium,
            "is_coordinator": is_coordinator,
            "runs": runs,
            "latest": latest,
            "active": next((run for run in runs if not run.is_finished), None),
            "parameters": [(row, values.get(row.spec.name)) for row in specs],
            "rule_labels": [RULE_LABELS.get(rule, rule) for rule in scenario.rules],
            "labs": scenario.labs.order_by("name"),
            "warnings": selectors.scenario_warnings_get(scenario=scenario),
            **_lever_card(request, scenario),
            "override_rows": override_rows,
            "overridden_labs": {row.lab_name for row in override_rows},
            "whatif": whatif if is_coordinator else None,
            "openness": selectors.scenario_openness_get(scenario=scenario),
        },
        status=status,
    )


def _lever_card(request, scenario: Scenario) -> dict:
    """The levers card's context (simulations.lever_views), which imports this module."""
    from . import levers
    from .lever_views import lever_card_context

    return lever_card_context(
        study=levers.lever_study_latest(scenario=scenario),
        scenario=scenario,
        is_coordinator=access.is_coordinator(request.user, scenario.consortium),
    )


CUSTOM_PREVIEW_ROWS = 50


def _custom_game_detail(request, scenario: Scenario):
    runs = scenario.runs.all()[:10]
    game = scenario.game
    if scenario.kind == Scenario.Kind.TABLE:
        rows = list(game["coalitions"].items())
    else:
        rows = [(row["player"], row) for row in game["players"]]
    return render(
        request,
        "simulations/custom_game_detail.html",
        {
            "scenario": scenario,
            "consortium": scenario.consortium,
            "is_coordinator": access.is_coordinator(request.user, scenario.consortium),
            "runs": runs,
            "latest": selectors.latest_run_get(scenario=scenario),
            "active": next((run for run in runs if not run.is_finished), None),
            "rule_labels": [RULE_LABELS.get(rule, rule) for rule in scenario.rules],
            "players": custom_player_names(scenario.kind, game),
            "player_count": custom_game_size(scenario.kind, game),
            "matched": scenario.player_labs,
            "preview": rows[:CUSTOM_PREVIEW_ROWS],
            "preview_more": max(0, len(rows) - CUSTOM_PREVIEW_ROWS),
        },
    )


@login_required
@require_POST
def scenario_duplicate(request, pk: int):
    """A copy of the scenario's fields and labs; the coordinator goes on to edit the copy."""
    scenario = _coordinated_scenario(request, pk)
    try:
        copy = consortium_services.scenario_duplicate(scenario=scenario, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(scenario)
    messages.success(request, f"“{copy.name}” is a copy of “{scenario.name}” without its runs. Change it and save.")
    return redirect("simulations:scenario_edit", copy.pk)


@login_required
@require_POST
def scenario_archive(request, pk: int, archive: bool):
    scenario = _coordinated_scenario(request, pk)
    if archive:
        consortium_services.scenario_archive(scenario=scenario, by=request.user)
        messages.success(
            request,
            f"“{scenario.name}” is archived: it has left the lists and starts no new runs; its runs stay readable.",
        )
    else:
        consortium_services.scenario_unarchive(scenario=scenario, by=request.user)
        messages.success(request, f"“{scenario.name}” is back in the lists and can run again.")
    return redirect(scenario)


# Runs ---------------------------------------------------------------------------------------------


@login_required
@require_POST
def run_start(request, pk: int):

    scenario = _coordinated_scenario(request, pk)
    try:
        run = services.run_create(scenario=scenario, started_by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(scenario)
    except services.ActiveRunLimitError as error:
        messages.error(request, str(error))
        return redirect(scenario)
    return redirect(run)


@login_required
@require_POST
def run_cancel(request, pk: int):

    run = _visible_run(request, pk)
    if not access.is_coordinator(request.user, run.scenario.consortium):
        raise PermissionDenied("Only the consortium's coordinators cancel runs.")
    try:
        services.run_cancel(run=run, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect(run)


@login_required
def run_progress(request, pk: int):
    """The progress bar alone; htmx swaps it in every second until the run finishes."""
    run = _visible_run(request, pk)
    can_cancel = access.is_coordinator(request.user, run.scenario.consortium)
    return render(request, "simulations/partials/run_progress.html", {"run": run, "can_cancel": can_cancel})


def _chosen_rule(request, results) -> str:
    rule = request.GET.get("rule")
    return rule if rule in results.rules else results.rules[0]


# Settlements within half a currency unit of zero are even.
SETTLEMENT_TOLERANCE = 0.5


def _transfers(rows) -> list:
    """Who pays whom to clear a rule's settlement, by the engine's own netting (the pool takes the rest)."""
    return list(
        settlement_transfers(
            [row.lab_name for row in rows], np.array([row.settlement for row in rows]), SETTLEMENT_TOLERANCE
        )
    )


def _results_context(request, run: SimulationRun) -> dict:
    results = selectors.run_results_get(run=run)
    override_rows = selectors.override_rows_get(snapshot=run.inputs.get("overrides", {}))
    rule = _chosen_rule(request, results)
    rows = results.members[rule]
    lab_names = [row.lab_name for row in rows]
    by_lab = {name: dict.fromkeys(results.rules) for name in lab_names}
    for r in results.rules:
        for row in results.members[r]:
            by_lab.setdefault(row.lab_name, {})[r] = row
    charts = {
        "costs": {
            "labels": lab_names,
            "standalone_label": "Going alone" if run.is_cost_model_v1 else "Outside option (leaving)",
            "standalone": [row.standalone_cost for row in rows],
            "allocated": [row.allocated_cost for row in rows],
        },
        "savings": {
            "axis": f"Savings {run.baseline_short}",
            "labels": lab_names,
            "median": [row.savings_pct_p50 for row in rows],
            "band": [[row.savings_pct_p10, row.savings_pct_p90] for row in rows],
            "point": [row.savings_pct for row in rows],
        },
        "years": {
            "labels": sorted({year.year for series in results.years.values() for year in series}),
            "series": [
                {"label": name, "data": [year.cumulative_savings for year in series]}
                for name, series in sorted(results.years.items())
            ],
        },
    }
    checked = [(r, results.stability[r]) for r in results.rules if r in results.stability]
    checked = [(r, st) for r, st in checked if st.draws_checked]
    if checked:
        charts["stability"] = {
            "labels": [RULE_LABELS.get(r, r) for r, _ in checked],
            "prob_in_core": [round(100 * st.prob_in_core, 2) for _, st in checked],
            "stderr": [round(100 * st.prob_in_core_stderr, 2) for _, st in checked],
            "core_nonempty": round(100 * checked[0][1].prob_core_nonempty, 2),
            "draws": checked[0][1].draws_checked,
        }
    return {
        "results": results,
        "rule": rule,
        "rule_label": RULE_LABELS.get(rule, rule),
        "rule_tabs": [(r, RULE_LABELS.get(r, r)) for r in results.rules],
        "rows": rows,
        "by_lab": [(name, [(RULE_LABELS.get(r, r), by_lab[name].get(r)) for r in results.rules]) for name in lab_names],
        "stability": [(r, RULE_LABELS.get(r, r), results.stability.get(r)) for r in results.rules],
        "years": sorted(results.years.items()),
        "charts": charts,
        "transfers": _transfers(rows),
        "override_rows": override_rows,
        "overridden_labs": {row.lab_name for row in override_rows},
        "evidence": selectors.run_evidence_get(run=run),
    }


@login_required
def run_detail(request, pk: int):
    run = _visible_run(request, pk)
    context = {
        "run": run,
        "scenario": run.scenario,
        "consortium": run.scenario.consortium,
        "can_cancel": access.is_coordinator(request.user, run.scenario.consortium),
        "can_compare": run.scenario.consortium.scenarios.active().count() >= MIN_COMPARED,
        "currency": run.scenario.consortium.currency,
        "previous_run": _previous_run(run),
    }
    if run.is_custom:
        if run.status == SimulationRun.Status.SUCCEEDED:
            context.update(_custom_results_context(request, run))
        return render(request, "simulations/run_detail_custom.html", context)
    if run.status == SimulationRun.Status.SUCCEEDED:
        context.update(_results_context(request, run))
    return render(request, "simulations/run_detail.html", context)


def _previous_run(run: SimulationRun) -> SimulationRun | None:
    """The scenario's succeeded run before this one, to compare with (its inputs may differ: a lab edited since)."""
    if run.status != SimulationRun.Status.SUCCEEDED or run.is_custom:
        return None
    return (
        run.scenario.runs.filter(status=SimulationRun.Status.SUCCEEDED, created_at__lte=run.created_at)
        .exclude(pk=run.pk)
        .order_by("-created_at", "-id")
        .first()
    )


# A game of thousands of types lists the first ones on the page; the CSV has them all.
CUSTOM_RESULT_ROWS = 200


def _custom_results_context(request, run: SimulationRun) -> dict:
    """A custom game's results: each rule's allocation per member (or type), and its core check."""
    results = selectors.run_results_get(run=run)
    rule = request.GET.get("rule")
    if rule not in results.rules:
        rule = results.rules[0]
    rows = results.members[rule]
    counts = _type_counts(run)
    shown = rows[:CUSTOM_RESULT_ROWS]
    return {
        "rule": rule,
        "rule_label": RULE_LABELS.get(rule, rule),
        "rule_tabs": [(key, RULE_LABELS.get(key, key)) for key in results.rules],
        "rows": [(row, counts.get(row.lab_name, 1)) for row in shown],
        "rows_hidden": len(rows) - len(shown),
        "stability": [(key, RULE_LABELS.get(key, key), results.stability.get(key)) for key in results.rules],
        "kind": run.inputs["custom"]["kind"],
        "grand_cost": sum(row.allocated_cost for row in rows),
        "standalone_total": sum(row.standalone_cost for row in rows),
        "player_count": sum(counts.get(row.lab_name, 1) for row in rows),
        "member_count": len(rows),
        # An airport type's totals grow with its count; per player, the types compare.
        "charts": {
            "costs": {
                "labels": [row.lab_name for row in rows[:24]],
                "standalone_label": "Going alone" + (" (per player)" if counts else ""),
                "allocated_label": "Allocated" + (" (per player)" if counts else ""),
                "standalone": [round(row.standalone_cost / counts.get(row.lab_name, 1), 2) for row in rows[:24]],
                "allocated": [round(row.allocated_cost / counts.get(row.lab_name, 1), 2) for row in rows[:24]],
            }
        },
        "many": len(rows) > 24,
    }


def _type_counts(run: SimulationRun) -> dict[str, int]:
    custom = run.inputs["custom"]
    if custom["kind"] != Scenario.Kind.AIRPORT:
        return {}
    return {row["player"]: int(row.get("count", 1)) for row in custom["game"]["players"]}


@login_required
def member_report(request, pk: int, lab_id: int):
    """A printable savings report of one member in one run, under every rule of the run."""
    run = _visible_run(request, pk)
    if run.status != SimulationRun.Status.SUCCEEDED:
        raise Http404("This run has no results yet.")
    results = selectors.run_results_get(run=run)
    lines = [
        (rule, RULE_LABELS.get(rule, rule), row)
        for rule in results.rules
        for row in results.members[rule]
        if row.lab_id == lab_id
    ]
    if not lines:
        raise Http404("This lab is not in the run.")
    lab_name = lines[0][2].lab_name
    stability = [(label, results.stability.get(rule)) for rule, label, _ in lines]
    risks = [
        (
            label,
            row,
            s,
            [g for g in (s.blocking_draws if s else []) if lab_name in g["members"]],
        )
        for (rule, label, row), (_, s) in zip(lines, stability, strict=True)
    ]
    return render(
        request,
        "simulations/member_report.html",
        {
            "run": run,
            "scenario": run.scenario,
            "consortium": run.scenario.consortium,
            "currency": run.scenario.consortium.currency,
            "lab_name": lab_name,
            "headline": lines[0],
            "lines": lines,
            "stability": stability,
            "risks": risks,
            "years": results.years.get(lab_name, []),
            "override_rows": [
                row
                for row in selectors.override_rows_get(snapshot=run.inputs.get("overrides", {}))
                if row.lab_name == lab_name
            ],
        },
    )


# CSV downloads: the same selector as the page ---------------------------------------------------------


# The API's savings report has these figures too, after the lab's id and name (docs/api.md).
MEMBER_COLUMNS = ["rule", "lab", *selectors.MEMBER_FIGURE_COLUMNS]


def _member_row(rule: str, row) -> list:
    return [rule, row.lab_name, *selectors.member_figures(row).values()]


CSV_TABLES = ("members", "stability", "years", "settlement", "transfers", "focus", "evidence")
EVIDENCE_COLUMNS = [
    "lab",
    "window_start",
    "window_end",
    "ledger_reuse_gpu_hours",
    "ledger_reuse_gpu_hours_per_year",
    "model_drawn_gpu_hours_per_year",
    "model_saved_gpu_hours_per_year",
    "model_saved_base_model_gpu_hours_per_year",
    "model_over_ledger",
    "model_ahead_of_evidence",
    "openness_assumed",
    "openness_measured",
    "openness_source_asked",
    "openness_source_used",
    "openness_used",
    "sentence",
]

# Stability over the Monte Carlo draws (empty cells for runs without it): column, field, rounding.
STABILITY_DRAWS = (
    ("draws_checked", "draws_checked", None),
    ("prob_in_core", "prob_in_core", 4),
    ("prob_in_core_stderr", "prob_in_core_stderr", 4),
    ("prob_core_nonempty", "prob_core_nonempty", 4),
    ("prob_core_nonempty_stderr", "prob_core_nonempty_stderr", 4),
    ("max_excess_p10_usd", "max_excess_p10", 2),
    ("max_excess_p50_usd", "max_excess_p50", 2),
    ("max_excess_p90_usd", "max_excess_p90", 2),
    ("least_core_epsilon_p10_usd", "least_core_epsilon_p10", 2),
    ("least_core_epsilon_p50_usd", "least_core_epsilon_p50", 2),
    ("least_core_epsilon_p90_usd", "least_core_epsilon_p90", 2),
)
STABILITY_DRAW_COLUMNS = [column for column, _, _ in STABILITY_DRAWS] + ["blocking_most_often"]


def _stability_draw_cells(s) -> list:
    cells: list = []
    for _, name, digits in STABILITY_DRAWS:
        value = getattr(s, name)
        cells.append("" if value is None else value if digits is None else round(value, digits))
    cells.append(
        "; ".join(
            f"{' + '.join(g['members'])}: {g['share']:.4f} ± {g['share_stderr']:.4f} of draws, "
            f"median gain {g['gain_p50']:.2f}"
            for g in s.blocking_draws or []
        )
    )
    return cells


def _evidence_rows(run: SimulationRun) -> list[list]:
    """One row per member: the ledger's reuse beside the model's, and the openness used (none for older runs)."""
    evidence = selectors.run_evidence_get(run=run)
    if evidence is None:
        return []
    openness = {row.lab_name: row for row in evidence.openness}
    rows = []
    for member in evidence.members:
        figures = member.to_dict()
        used = openness.get(member.lab_name)
        rows.append(
            [
                member.lab_name,
                evidence.start,
                evidence.end,
                figures["ledger_reuse_gpu_hours"],
                figures["ledger_reuse_gpu_hours_per_year"],
                figures["model_drawn_gpu_hours_per_year"],
                figures["model_saved_gpu_hours_per_year"],
                figures["model_saved_base_model_gpu_hours_per_year"],
                figures["model_over_ledger"],
                figures["model_ahead_of_evidence"],
                used.assumed if used else None,
                used.measured if used else None,
                used.asked if used else None,
                used.source if used else None,
                used.value if used else None,
                member.sentence,
            ]
        )
    return rows


@login_required
def run_csv(request, pk: int, table: str):
    run = _visible_run(request, pk)
    if table not in CSV_TABLES or run.status != SimulationRun.Status.SUCCEEDED:
        raise Http404("No such table.")
    results = selectors.run_results_get(run=run)
    name = f"run-{run.pk}-{table}.csv"
    if table == "members":
        rows = [_member_row(rule, row) for rule in results.rules for row in results.members[rule]]
        return csv_response(name, MEMBER_COLUMNS, rows)
    if table == "focus":
        return csv_response(f"run-{run.pk}-allocation-focus.csv", FOCUS_COLUMNS, focus_rows(results))
    if table == "evidence":
        return csv_response(name, EVIDENCE_COLUMNS, _evidence_rows(run))
    if table == "stability":
        return csv_response(
            name,
            [
                "rule",
                "in_core",
                "individually_rational",
                "blocking_coalition",
                "max_excess_usd",
                "least_core_epsilon_usd",
                "exhaustive",
                "method",
                *STABILITY_DRAW_COLUMNS,
            ],
            [
                [
                    rule,
                    s.in_core,
                    s.individually_rational,
                    " + ".join(s.blocking_coalition or []),
                    round(s.max_excess, 2),
                    round(s.least_core_epsilon, 2),
                    s.exhaustive,
                    s.method,
                    *_stability_draw_cells(s),
                ]
                for rule in results.rules
                if (s := results.stability.get(rule)) is not None
            ],
        )
    if table == "years":
        return csv_response(
            name,
            ["lab", "year", "standalone_cost_usd", "consortium_cost_usd", "cumulative_savings_usd"],
            [
                [
                    name_,
                    y.year,
                    round(y.standalone_cost, 2),
                    round(y.consortium_cost, 2),
                    round(y.cumulative_savings, 2),
                ]
                for name_, series in sorted(results.years.items())
                for y in series
            ],
        )
    if table == "transfers":
        return csv_response(
            name,
            ["rule", "payer", "payee", "amount_usd"],
            [
                [rule, t.payer, t.payee, round(t.amount, 2)]
                for rule in results.rules
                for t in _transfers(results.members[rule])
            ],
        )
    return csv_response(
        name,
        ["rule", "lab", "allocated_cost_usd", "delivered_value_usd", "settlement_usd", "direction"],
        [
            [
                rule,
                row.lab_name,
                round(row.allocated_cost, 2),
                round(row.delivered_value, 2),
                round(row.settlement, 2),
                "pays" if row.settlement > 0 else "receives" if row.settlement < 0 else "even",
            ]
            for rule in results.rules
            for row in results.members[rule]
        ],
    )


# Comparison ---------------------------------------------------------------------------------------


def _waterfall_charts(explained: list) -> dict:
    """The waterfalls' chart data, keyed by canvas id: each step a floating bar from the running
    total before it to the one after, first and last bars the savings in the baseline and the scenario."""
    charts = {}
    for index, result in enumerate(explained):
        for member_index, member in enumerate(result.members):
            labels = ["Baseline", *[step.label for step in result.steps], result.column.label]
            bars = [[0, member.start], *[[before, after] for _, _, before, after in member.steps], [0, member.end]]
            charts[f"waterfall-{index}-{member_index}"] = {"member": member.lab_name, "labels": labels, "bars": bars}
    return charts


def _comparison(comparison) -> dict:
    """The page's view of selectors.scenario_comparison_get: the table, the rule tabs and the chart."""
    names = [line.lab_name for line in comparison.rows]
    chart = {
        "axis": "Savings vs leaving (vs going alone for cost model v1 runs)"
        if any(column.run.is_cost_model_v1 for column in comparison.columns)
        else "Savings vs leaving",
        "labels": names,
        "series": [
            {
                "label": column.label,
                "data": [line.cells[index].row and line.cells[index].row.savings_pct for line in comparison.rows],
            }
            for index, column in enumerate(comparison.columns)
        ],
    }
    explained = selectors.comparison_attribution_get(comparison)
    return {
        "by_run": comparison.columns[0].by_run,
        "explained": explained,
        "waterfalls": _waterfall_charts(explained),
        "columns": comparison.columns,
        "rule": comparison.rule,
        "rule_label": RULE_LABELS.get(comparison.rule, comparison.rule),
        "common_rules": [(r, RULE_LABELS.get(r, r)) for r in comparison.common_rules],
        "rows": comparison.rows,
        # Each cell with its scenario's name, the label a stacked row shows on a phone.
        "lines": [
            (line, [(column.label, cell) for column, cell in zip(comparison.columns, line.cells, strict=True)])
            for line in comparison.rows
        ],
        "chart": chart,
    }


def _given_ids(request, name: str) -> list[int]:
    return list(dict.fromkeys(int(value) for value in request.GET.getlist(name) if value.strip().isdigit()))


def _in_given_order(request, scenarios) -> list[Scenario]:
    """The scenarios in the order the user listed them: the first one is the baseline."""
    order = {pk: position for position, pk in enumerate(_given_ids(request, "scenarios"))}
    return sorted(scenarios, key=lambda scenario: order.get(scenario.pk, len(order)))


def _compared(request, form) -> list[Scenario]:
    """The scenarios to compare, the chosen baseline first, else in the order the user listed them."""
    chosen = _in_given_order(request, form.cleaned_data["scenarios"])
    baseline = form.cleaned_data.get("baseline")
    if baseline is not None:
        chosen = [baseline] + [scenario for scenario in chosen if scenario.pk != baseline.pk]
    return chosen


def _compare_form(request, consortium):
    data = request.GET if "scenarios" in request.GET or "runs" in request.GET else None
    return CompareForm(data, consortium=consortium)


def _comparison_get(request, form):
    """The comparison a valid form asks for: its scenarios' latest runs, or the runs it names, in the order given."""
    rule = request.GET.get("rule") or None
    runs = form.cleaned_data.get("runs")
    if runs:
        order = {pk: position for position, pk in enumerate(_given_ids(request, "runs"))}
        chosen = sorted(runs, key=lambda run: order.get(run.pk, len(order)))
        return selectors.runs_comparison_get(runs=chosen, rule=rule)
    return selectors.scenario_comparison_get(scenarios=_compared(request, form), rule=rule)


@login_required
def compare(request, slug: str):
    consortium = _visible_consortium(request, slug)
    form = _compare_form(request, consortium)
    context = {"consortium": consortium, "form": form, "currency": consortium.currency}
    status = 200
    if form.is_bound:
        if form.is_valid():
            try:
                context["comparison"] = _comparison(_comparison_get(request, form))
                context["query"] = request.GET.urlencode()
            except selectors.ComparisonError as error:
                if error.missing:
                    names = ", ".join(s.name for s in error.missing)
                    form.add_error("scenarios", f"No finished run yet for: {names}. Run them first, then compare.")
                else:
                    form.add_error(None, str(error))
                status = 400
        else:
            status = 400
    return render(request, "simulations/compare.html", context, status=status)


@login_required
def compare_csv(request, slug: str):
    consortium = _visible_consortium(request, slug)
    form = _compare_form(request, consortium)
    if not form.is_valid():
        return HttpResponse(
            "Pick 2 to 4 scenarios (?scenarios=<id>&scenarios=<id>) or 2 to 4 finished runs (?runs=<id>&runs=<id>).",
            status=400,
            content_type="text/plain",
        )
    try:
        comparison = _comparison_get(request, form)
    except selectors.ComparisonError as error:
        return HttpResponse(str(error), status=400, content_type="text/plain")
    # The same columns as the API's comparison report (docs/api.md).
    explained = selectors.comparison_attribution_get(comparison)
    columns = selectors.comparison_csv_columns(comparison, explained)
    rows = [[row[name] for name in columns] for row in selectors.comparison_csv_rows(comparison, explained)]
    return csv_response(f"{consortium.slug}-comparison-{comparison.rule}.csv", columns, rows)
