"""The membership advisor for the consortium page and the API: who might join, and the engine's advice.

Candidates for a scenario are the labs outside it that have a pending application to the consortium,
an open spell in it (member, candidate or observer) or artifacts reused between them and the
scenario's labs (either direction); every lab of the scenario is advised on leaving. The engine
(simulations.engine.advisor) computes each move at central parameters; the result is kept in the
process's local cache under a digest of every input, so a page load with nothing changed reuses it.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from consortium.models import Application, Membership, Scenario
from consortium.services import scenario_weights_check
from labs.models import ArtifactReuse, Lab
from labs.selectors import evidence_window, lab_evidence_get
from simulations.engine import ENGINE_VERSION
from simulations.engine.advisor import Advice, Variant, advise
from simulations.engine.errors import EngineError, InvalidParameterError
from simulations.engine.params import AREA_LABELS, LabInput

from .services import _ledger_deliveries, lab_input_build, scenario_spec_build

CACHE_SECONDS = 600
SOURCES = {
    "applied": "applied to join",
    "member": "member, not in this scenario",
    "candidate": "candidate of the consortium",
    "observer": "observer of the consortium",
    "shares": "shares artifacts with the scenario's labs",
}
_PRIORITY = {"applied": 0, "member": 1, "candidate": 2, "observer": 3, "shares": 4}


class AdvisorError(Exception):
    """The advisor cannot work on this scenario; the message says why (a form error, or 409 on the API)."""


@dataclass(frozen=True)
class Candidate:
    lab: Lab
    sources: tuple[str, ...]


@dataclass(frozen=True)
class AdvisorReport:
    scenario: Scenario
    advice: Advice
    candidates: dict[str, Candidate]
    lab_ids: dict[str, int]
    left_off: int
    seconds: float
    cached: bool
    skipped: tuple[str, ...] = ()


def advisor_scenarios(*, consortium) -> QuerySet[Scenario]:
    """The scenarios the advisor offers: active cost-model scenarios, newest first (the first is the default)."""
    return consortium.scenarios.active().filter(kind=Scenario.Kind.MODEL).order_by("-created_at", "-id")


def advisor_candidates_get(*, scenario: Scenario) -> tuple[list[Candidate], int]:
    """Labs outside the scenario that might join it (module docstring), in one query, with why each is listed.

    Ordered applicants first, then labs with a spell, then labs that only share artifacts, by name
    within each; at most ADVISOR_MAX_CANDIDATES, and the count of those left off.
    """
    consortium = scenario.consortium
    inside = Scenario.labs.through.objects.filter(scenario=scenario).values("lab_id")
    applied = Application.objects.filter(consortium=consortium, status=Application.Status.PENDING, lab=OuterRef("pk"))
    spell = Membership.objects.current().filter(consortium=consortium, lab=OuterRef("pk")).values("status")[:1]
    reused = ArtifactReuse.objects.filter(artifact__lab=OuterRef("pk"), reusing_lab__in=inside)
    reusing = ArtifactReuse.objects.filter(reusing_lab=OuterRef("pk"), artifact__lab__in=inside)
    rows = (
        Lab.objects.exclude(pk__in=inside)
        .annotate(applied=Exists(applied), spell=Subquery(spell), reused=Exists(reused), reusing=Exists(reusing))
        .filter(Q(applied=True) | Q(spell__isnull=False) | Q(reused=True) | Q(reusing=True))
    )
    found = []
    for lab in rows:
        sources = (("applied",) if lab.applied else ()) + ((lab.spell,) if lab.spell else ())
        sources += ("shares",) if lab.reused or lab.reusing else ()
        found.append(Candidate(lab=lab, sources=sources))
    found.sort(key=lambda c: (min(_PRIORITY[s] for s in c.sources), c.lab.name))
    most = settings.ADVISOR_MAX_CANDIDATES
    return found[:most], max(len(found) - most, 0)


def _weigh(scenario: Scenario, labs: dict[str, Lab]):
    """The weighted rule's weights of a variant's labs, by the scenario's basis (as a run of that variant would)."""
    delivered = {
        lab_id: None if row["entries_without_factor"] else row["h100_gpu_hours_delivered"]
        for lab_id, row in _ledger_deliveries(consortium=scenario.consortium).items()
    }

    def weigh(inputs: tuple[LabInput, ...]) -> list[float]:
        chosen = [labs[item.name] for item in inputs]
        ids = {str(lab.pk) for lab in chosen}
        try:
            shares = scenario_weights_check(
                consortium=scenario.consortium,
                labs=chosen,
                rules=scenario.rules,
                basis=scenario.weight_basis,
                values={key: value for key, value in scenario.weight_values.items() if key in ids},
                cap=scenario.weight_cap,
                delivered=delivered,
            )
        except ValidationError as error:
            raise InvalidParameterError(" ".join(error.messages)) from None
        return [shares.get(lab.pk, 1.0) for lab in chosen]

    return weigh, delivered


def advisor_get(*, scenario: Scenario) -> AdvisorReport:
    """What each candidate's joining and each member's leaving would do; AdvisorError when it cannot say."""
    if scenario.is_custom:
        raise AdvisorError(
            f"“{scenario.name}” is a custom game ({scenario.get_kind_display().lower()}): the advisor adds and "
            "removes labs in the cost model, which a custom game does not have. Choose a cost-model scenario."
        )
    labs = list(scenario.labs.order_by("name"))
    most = settings.ADVISOR_MAX_LABS
    if len(labs) > most:
        raise AdvisorError(
            f"“{scenario.name}” has {len(labs)} labs; the advisor works on scenarios of at most {most} "
            "(ADVISOR_MAX_LABS), whose variants it can compute on page load."
        )
    if not labs:
        raise AdvisorError(f"“{scenario.name}” has no labs yet; add labs to the scenario first.")
    try:
        spec = scenario_spec_build(scenario=scenario, draws=0)
    except ValidationError as error:
        raise AdvisorError(" ".join(error.messages)) from None
    except EngineError as error:
        raise AdvisorError(str(error)) from None
    candidates, left_off = advisor_candidates_get(scenario=scenario)
    inputs, usable, skipped = [], [], []
    # A candidate's openness comes from where the scenario takes a new lab's: the ledger (when it has
    # evidence on the candidate) or the candidate's own figure, as the scenario's runs would once it joined.
    measured: dict[int, float | None] = {}
    if scenario.openness_source == "ledger" and candidates:
        start, end = evidence_window(scenario.evidence_months)
        evidence = lab_evidence_get(labs=[c.lab for c in candidates], start=start, end=end)
        measured = {pk: item.measured_openness for pk, item in evidence.items()}
    for candidate in candidates:
        try:
            inputs.append(lab_input_build(candidate.lab, openness=measured.get(candidate.lab.pk)))
        except EngineError as error:
            skipped.append(f"{candidate.lab.name}: {error}")
        else:
            usable.append(candidate)
    candidates = usable
    by_name = {lab.name: lab for lab in labs} | {c.lab.name: c.lab for c in candidates}
    weigh, delivered = _weigh(scenario, by_name) if spec.rules[0] == "weighted" else (None, None)
    key_inputs = {
        "engine": ENGINE_VERSION,
        "spec": spec.to_dict(),
        "candidates": [item.to_dict() for item in inputs],
        "weights": [scenario.weight_basis, scenario.weight_values, scenario.weight_cap, delivered] if weigh else None,
    }
    digest = hashlib.sha256(json.dumps(key_inputs, sort_keys=True, default=str).encode()).hexdigest()
    key = f"advisor:{digest}"
    cache = caches["local"]
    stored = cache.get(key)
    if stored is not None:
        advice, seconds, cached = stored[0], stored[1], True
    else:
        started = time.perf_counter()
        try:
            advice = advise(spec, inputs, weigh=weigh)
        except EngineError as error:
            raise AdvisorError(str(error)) from None
        seconds, cached = time.perf_counter() - started, False
        cache.set(key, (advice, seconds), timeout=CACHE_SECONDS)
    return AdvisorReport(
        scenario=scenario,
        advice=advice,
        candidates={c.lab.name: c for c in candidates},
        lab_ids={name: lab.pk for name, lab in by_name.items()},
        left_off=left_off,
        seconds=seconds,
        cached=cached,
        skipped=tuple(skipped),
    )


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _variant_payload(report: AdvisorReport, variant: Variant, rank: int) -> dict[str, Any]:
    ids = report.lab_ids
    candidate = report.candidates.get(variant.lab)
    return {
        "rank": rank,
        "lab": {"id": ids.get(variant.lab), "name": variant.lab},
        "sources": list(candidate.sources) if candidate else [],
        "grand_cost": _finite(variant.grand_cost),
        "grand_cost_change": _finite(variant.grand_cost_change),
        "members_savings_change": None if variant.error else _finite(variant.total_change),
        "members_better_off": None if variant.error else variant.better_off,
        "members_worse_off": None if variant.error else variant.worse_off,
        "own_savings": _finite(variant.own_savings),
        "own_savings_pct": _finite(variant.own_savings_pct),
        "allocation_in_core": variant.in_core,
        "core_nonempty": variant.core_nonempty,
        "least_core_epsilon": _finite(variant.least_core_epsilon),
        "brings": {
            "area": variant.brings.area,
            "area_label": AREA_LABELS[variant.brings.area],
            "h100_gpu_hours_per_year": _finite(variant.brings.gpu_hours),
            "members_needing": [{"id": ids.get(name), "name": name} for name in variant.brings.needing],
        },
        "reason": variant.reason,
        "error": variant.error,
        "members": [
            {
                "lab": {"id": ids.get(change.name), "name": change.name},
                "savings_before": _finite(change.before),
                "savings_after": _finite(change.after),
                "savings_change": _finite(change.change),
                "savings_pct_before": _finite(change.pct_before),
                "savings_pct_after": _finite(change.pct_after),
            }
            for change in variant.changes
        ],
    }


def advisor_payload(report: AdvisorReport) -> dict[str, Any]:
    """The advisor as the API returns it (docs/api.md); money in the consortium's currency (US$)."""
    advice = report.advice
    return {
        "scenario": report.scenario.pk,
        "rule": advice.rule,
        "rule_label": advice.label,
        "currency": report.scenario.consortium.currency,
        "grand_cost": _finite(advice.grand_cost),
        "core_nonempty": advice.core_nonempty,
        "members": [
            {"lab": {"id": report.lab_ids.get(name), "name": name}, "savings": _finite(value)}
            for name, value in advice.savings.items()
        ],
        "ranking": advice.ranking,
        "joining": [_variant_payload(report, v, k) for k, v in enumerate(advice.joins, start=1)],
        "leaving": [_variant_payload(report, v, k) for k, v in enumerate(advice.leaves, start=1)],
        "candidates_left_off": report.left_off,
        "candidates_skipped": list(report.skipped),
        "seconds": report.seconds,
        "cached": report.cached,
    }
