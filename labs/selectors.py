"""Reads of the ledger shared by pages, reports and the API, so they never disagree.

Totals are plain sums over the ledger: a reversal carries negated amounts, so an original and its
reversal cancel and a replacement counts once. Money values are US$ (GPU-hours x price per GPU-hour).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import (
    BooleanField,
    Case,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    FloatField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, TruncQuarter

from consortium.access import visible_contributions
from simulations.engine.params import GPU_TYPES, OTHER_GPU

from .models import Artifact, ArtifactReuse, ComputeContribution, Lab

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


# Measured openness (docs/model.md, "Openness from the ledger"): each artifact counts with its
# reproduction GPU-hours times the weight of its openness. Planning assumptions, not measurements:
# a partially open artifact (weights, no data; code under a restrictive licence) is taken as half as
# useful to the commons as an open one, an internal fork as not useful at all.
OPENNESS_WEIGHTS = {
    Artifact.Openness.OPEN: 1.0,
    Artifact.Openness.PARTIAL: 0.5,
    Artifact.Openness.INTERNAL_FORK: 0.0,
}
# The window a scenario reads the ledger over by default: this many months before the run (or today).
EVIDENCE_MONTHS_DEFAULT = 24
EVIDENCE_MONTHS_MAX = 120


def months_before(day: datetime.date, months: int) -> datetime.date:
    """The same day `months` calendar months earlier (the month's last day where it has no such day)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    for last in (31, 30, 29, 28):
        try:
            return datetime.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover - every month has a 28th


def evidence_window(months: int, *, today: datetime.date | None = None) -> tuple[datetime.date, datetime.date]:
    """[start, end] of the `months` months up to `today` (both days included)."""
    end = today or datetime.date.today()
    return months_before(end, months), end


@dataclass(frozen=True)
class LabEvidence:
    """What the ledger says of one lab's openness and reuse over a window [start, end].

    `measured_openness` is the GPU-hour-weighted openness of the artifacts it released in the window
    (OPENNESS_WEIGHTS), None when there is no evidence: no artifact released in the window, or only
    artifacts that cost nothing to reproduce. `reuse_of_its_work` is the GPU-hours other labs logged
    saving by reusing its artifacts (any release date) in the window; `reuse_by_it` the GPU-hours it
    logged saving by reusing other labs' artifacts in the window. GPU-hours as logged (of whatever
    GPU the reusing lab used).
    """

    lab: int
    start: datetime.date
    end: datetime.date
    artifacts: int = 0
    reproduction_gpu_hours: float = 0.0
    by_openness: dict[str, float] = field(default_factory=dict)
    reuse_of_its_work: float = 0.0
    reuse_by_it: float = 0.0

    @property
    def measured_openness(self) -> float | None:
        if self.reproduction_gpu_hours <= 0:
            return None
        weighted = sum(OPENNESS_WEIGHTS[kind] * hours for kind, hours in self.by_openness.items())
        return weighted / self.reproduction_gpu_hours

    @property
    def has_evidence(self) -> bool:
        return self.measured_openness is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "artifacts": self.artifacts,
            "reproduction_gpu_hours": round(self.reproduction_gpu_hours, 2),
            "reproduction_gpu_hours_by_openness": {kind: round(hours, 2) for kind, hours in self.by_openness.items()},
            "measured_openness": self.measured_openness,
            "reuse_of_its_work_gpu_hours": round(self.reuse_of_its_work, 2),
            "reuse_by_it_gpu_hours": round(self.reuse_by_it, 2),
        }


def lab_evidence_get(
    *,
    labs: Iterable[Lab | int],
    start: datetime.date,
    end: datetime.date,
    reusing_labs: QuerySet[Lab] | None = None,
) -> dict[int, LabEvidence]:
    """Measured openness and reuse of each lab over [start, end], in two queries whatever the number of labs.

    An artifact counts when it was released in the window, a reuse when it happened in it; a lab's
    reuse of its own artifact never counts (the ledger refuses it, old rows aside). With
    `reusing_labs`, only reuse by those labs (of the lab's work) and of their artifacts (by the lab)
    counts: the lab page shows a reader who is not the lab's the reuse it may see.
    """
    ids = [lab if isinstance(lab, int) else lab.pk for lab in labs]
    found: dict[int, dict[str, Any]] = {pk: {"by_openness": {}} for pk in ids}
    rows = (
        Artifact.objects.filter(lab_id__in=ids, release_date__gte=start, release_date__lte=end)
        .values("lab_id", "openness")
        .annotate(count=Count("id"), hours=Sum("reproduction_gpu_hours"))
        .order_by()
    )
    for row in rows:
        facts = found[row["lab_id"]]
        facts["artifacts"] = facts.get("artifacts", 0) + row["count"]
        hours = float(row["hours"] or 0)
        facts["reproduction_gpu_hours"] = facts.get("reproduction_gpu_hours", 0.0) + hours
        facts["by_openness"][row["openness"]] = facts["by_openness"].get(row["openness"], 0.0) + hours
    reuses = ArtifactReuse.objects.filter(reused_on__gte=start, reused_on__lte=end).filter(
        Q(artifact__lab_id__in=ids) | Q(reusing_lab_id__in=ids)
    )
    reuses = reuses.exclude(reusing_lab_id=F("artifact__lab_id"))
    pairs = reuses.values("artifact__lab_id", "reusing_lab_id")
    if reusing_labs is not None:
        # In the same query: whether the reader may see each side of the pair.
        pairs = pairs.annotate(
            reuser_seen=ExpressionWrapper(Q(reusing_lab__in=reusing_labs), output_field=BooleanField()),
            owner_seen=ExpressionWrapper(Q(artifact__lab__in=reusing_labs), output_field=BooleanField()),
        )
    for row in pairs.annotate(saved=Sum("gpu_hours_saved")).order_by():
        owner, reuser, saved = row["artifact__lab_id"], row["reusing_lab_id"], float(row["saved"] or 0)
        if owner in found and row.get("reuser_seen", True):
            found[owner]["reuse_of_its_work"] = found[owner].get("reuse_of_its_work", 0.0) + saved
        if reuser in found and row.get("owner_seen", True):
            found[reuser]["reuse_by_it"] = found[reuser].get("reuse_by_it", 0.0) + saved
    return {pk: LabEvidence(lab=pk, start=start, end=end, **facts) for pk, facts in found.items()}
