"""A run's allocation in the FinOps FOCUS convention (FOCUS 1.3, split cost allocation).

FOCUS describes a split cost allocation as one *origin charge* (here: the grand coalition's cost
c(N) of the run's scenario over its horizon, at central parameters) and one *allocated charge* per
recipient (here: each member), with the method in `AllocatedMethodId` and its factors in
`AllocatedMethodDetails`. The allocated charges of one rule add back to the origin charge to the
cent: each member's share is rounded to cents by the largest-remainder method, so the rounding
never creates or loses a cent.

The figures are planned costs, not invoices; `ChargeCategory` is `Usage` and `BilledCost` equals
`EffectiveCost` (nothing is billed by a third party). Columns and their meaning: docs/api.md.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import ROUND_FLOOR, Decimal

from simulations.engine import RULE_LABELS

from .selectors import RunResults

FOCUS_VERSION = "1.3"
FOCUS_COLUMNS = [
    "BillingCurrency",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "ChargeDescription",
    "ResourceId",
    "ResourceName",
    "BilledCost",
    "EffectiveCost",
    "AllocatedMethodId",
    "AllocatedMethodDetails",
    "AllocatedResourceId",
    "AllocatedResourceName",
    "AllocatedTags",
]
CENT = Decimal("0.01")


def cents_adding_up(values: list[float]) -> tuple[list[Decimal], Decimal]:
    """Each value rounded to cents so that they add up to their total rounded to cents.

    Largest remainder: floor every value to the cent, then give the cents left over to the values
    with the largest remainders (ties in order). Returns the rounded values and the rounded total.
    """
    exact = [Decimal(repr(float(v))) for v in values]
    total = sum(exact, Decimal(0)).quantize(CENT)
    floors = [v.quantize(CENT, rounding=ROUND_FLOOR) for v in exact]
    left = int(((total - sum(floors, Decimal(0))) / CENT).to_integral_value())
    order = sorted(range(len(values)), key=lambda i: (-(exact[i] - floors[i]), i))
    rounded = list(floors)
    for i in order[: max(0, left)]:
        rounded[i] += CENT
    return rounded, total


def _horizon_years(results: RunResults) -> int:
    return int(results.run.inputs.get("spec", {}).get("params", {}).get("horizon_years") or 1)


def _period(results: RunResults) -> tuple[str, str]:
    """The planning horizon, from the day the run started, in FOCUS's UTC date-time format."""
    run = results.run
    start = (run.started_at or run.created_at).replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + timedelta(days=round(365.25 * _horizon_years(results)))
    return start.strftime("%Y-%m-%dT%H:%M:%SZ"), end.strftime("%Y-%m-%dT%H:%M:%SZ")


def focus_rows(results: RunResults) -> list[list[object]]:
    """One allocated charge per member and rule, in FOCUS_COLUMNS order."""
    run = results.run
    scenario = run.scenario
    consortium = scenario.consortium
    start, end = _period(results)
    years = _horizon_years(results)
    horizon = f"{years} year{'s' if years != 1 else ''}"
    resource_id = f"consortium/{consortium.slug}/scenario/{scenario.pk}/run/{run.pk}"
    resource_name = f"{consortium.name}: shared research and coordination, scenario {scenario.name}"
    rows: list[list[object]] = []
    for rule in results.rules:
        members = results.members[rule]
        allocated, total = cents_adding_up([row.allocated_cost for row in members])
        label = RULE_LABELS.get(rule, rule)
        for row, charge in zip(members, allocated, strict=True):
            ratio = float(charge / total) if total else 0.0
            details = {
                "Elements": [
                    {
                        "AllocatedRatio": round(ratio, 12),
                        "UsageUnit": "USD of stand-alone cost",
                        "UsageQuantity": round(row.standalone_cost, 2),
                    }
                ],
                "x_Rule": rule,
                "x_RuleLabel": label,
                "x_OriginChargeUsd": str(total),
                "x_SavingsCentralUsd": None if row.savings_central is None else round(row.savings_central, 2),
                "x_EngineVersion": run.engine_version,
                "x_FocusVersion": FOCUS_VERSION,
            }
            details = {key: value for key, value in details.items() if value is not None}
            tags = {"consortium": consortium.slug, "scenario": scenario.name, "run": str(run.pk)}
            rows.append(
                [
                    "USD",
                    start,
                    end,
                    "Usage",
                    f"Planned cost over {horizon}, allocated by {label}",
                    resource_id,
                    resource_name,
                    str(charge),
                    str(charge),
                    f"consortium-planner/{rule}",
                    json.dumps(details, separators=(",", ":"), sort_keys=True),
                    f"lab/{row.lab.slug}" if row.lab_id and row.lab else f"member/{row.lab_name}",
                    row.lab_name,
                    json.dumps(tags, separators=(",", ":"), sort_keys=True),
                ]
            )
    return rows
