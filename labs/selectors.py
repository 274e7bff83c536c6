"""Reads of the ledger shared by pages, reports and the API, so they never disagree.

Totals are plain sums over the ledger: a reversal carries negated amounts, so an original and its
reversal cancel and a replacement counts once. Money values are US$ (GPU-hours x price per GPU-hour).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db.models import Case, Count, DecimalField, ExpressionWrapper, F, FloatField, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Cast, TruncQuarter

from consortium.access import visible_contributions
from simulations.engine.params import GPU_TYPES, OTHER_GPU

from .models import ComputeContribution, Lab

GROUP_BY_CHOICES = ("lab", "quarter", "gpu_type")
_AMOUNTS = ("gpu_hours_pledged", "gpu_hours_delivered", "pledged_value", "delivered_value", "cash")
_CENT = Decimal("0.01")
_MONEY = DecimalField(max_digits=24, decimal_places=4)
_GROUP_COLUMNS = {
    "lab": ("lab_id", "lab__name"),
    "quarter": ("quarter",),
    "gpu_type": ("gpu_type",),
}


def contribution_totals(
    *,
    consortium: Any = None,
    lab: Lab | None = None,
    start: datetime.date | None = None,
    end: datetime.date | None = None,
    group_by: Iterable[str] = ("lab",),
    user: Any = None,
    h100_equivalent: bool = False,
) -> list[dict[str, Any]]:
    """Ledger sums per group, in group order.

    An entry counts in [start, end] when its period starts within it. `group_by` takes items of
    GROUP_BY_CHOICES; an empty tuple gives one grand total. With `user`, only entries that user may
    see are summed. Each row holds the group keys (lab, lab_name, quarter as the quarter's first
    day, gpu_type), `entries`, `gpu_hours_pledged`, `gpu_hours_delivered`, `pledged_value`,
    `delivered_value` and `cash` (US$).

    With `h100_equivalent`, rows also hold `h100_gpu_hours_delivered` (a float: each entry's hours
    times its factor, see ComputeContribution.h100_factor) and `entries_without_factor`, the entries
    on GPU type "other" of a lab without a throughput factor, which that sum leaves out.
    """
    group_by = tuple(group_by)
    unknown = sorted(set(group_by) - set(GROUP_BY_CHOICES))
    if unknown:
        raise ValueError(f"Unknown grouping(s): {', '.join(unknown)}; choose from {', '.join(GROUP_BY_CHOICES)}.")
    entries = visible_contributions(user) if user is not None else ComputeContribution.objects.all()
    if consortium is not None:
        entries = entries.filter(consortium=consortium)
    if lab is not None:
        entries = entries.filter(lab=lab)
    if start is not None:
        entries = entries.filter(period_start__gte=start)
    if end is not None:
        entries = entries.filter(period_start__lte=end)
    # Annotation names must not shadow the summed fields, hence the prefix (dropped in _present).
    sums = {
        "n_entries": Count("id"),
        "sum_gpu_hours_pledged": Sum("gpu_hours_pledged"),
        "sum_gpu_hours_delivered": Sum("gpu_hours_delivered"),
        "sum_pledged_value": Sum(_times_price("gpu_hours_pledged")),
        "sum_delivered_value": Sum(_times_price("gpu_hours_delivered")),
        "sum_cash": Sum("cash"),
    }
    if h100_equivalent:
        sums["sum_h100_gpu_hours_delivered"] = Sum(
            Cast("gpu_hours_delivered", FloatField()) * _h100_factor(), output_field=FloatField()
        )
        sums["entries_without_factor"] = Count("id", filter=Q(gpu_type=OTHER_GPU, lab__throughput_factor__isnull=True))
    columns = [column for name in group_by for column in _GROUP_COLUMNS[name]]
    if not columns:
        return [_present(entries.aggregate(**sums))]
    rows = entries.annotate(quarter=TruncQuarter("period_start")).values(*columns).annotate(**sums).order_by(*columns)
    return [_present(row) for row in rows]


def _h100_factor() -> Case:
    """The entry's H100-equivalents per GPU-hour in SQL: its type's datasheet factor, else the lab's own."""
    listed = [When(gpu_type=name, then=Value(gpu.h100_factor)) for name, gpu in GPU_TYPES.items()]
    return Case(*listed, default=F("lab__throughput_factor"), output_field=FloatField())


def _times_price(field: str) -> ExpressionWrapper:
    return ExpressionWrapper(F(field) * F("price_per_gpu_hour"), output_field=_MONEY)


def _present(row: dict[str, Any]) -> dict[str, Any]:
    # An empty ledger sums to None in SQL; report zero instead.
    out = {key.removeprefix("sum_"): 0 if value is None else value for key, value in row.items()}
    out["entries"] = out.pop("n_entries")
    for key in _AMOUNTS:
        out[key] = Decimal(out[key]).quantize(_CENT)
    if "h100_gpu_hours_delivered" in out:
        out["h100_gpu_hours_delivered"] = float(out["h100_gpu_hours_delivered"])
    if "lab_id" in out:
        out["lab"] = out.pop("lab_id")
        out["lab_name"] = out.pop("lab__name")
    if isinstance(out.get("quarter"), datetime.datetime):
        out["quarter"] = out["quarter"].date()
    return out


def ledger_history(*, lab: Lab, consortium: Any = None) -> QuerySet[ComputeContribution]:
    """Every entry of a lab, oldest first, with what each reverses, replaces or is corrected by."""
    entries = ComputeContribution.objects.filter(lab=lab)
    if consortium is not None:
        entries = entries.filter(consortium=consortium)
    return entries.select_related(
        "lab", "consortium", "recorded_by", "reverses", "replaces", "reversed_by", "replaced_by"
    ).order_by("recorded_at", "id")
