"""Lever studies: ORM -> engine levers -> ORM. The one place a study is created and executed.

A study searches, for a scenario's first rule, the smallest publication embargo and the largest
coordination overhead at which the rule stays in the core in at least `target` of the draws, and
the largest group of the scenario's labs that is stable on its own (simulations.engine.levers).

1. `lever_study_create` (coordinators) snapshots the scenario and hands the id to the broker after
   commit. Active studies count against CONSORTIUM_MAX_ACTIVE_RUNS together with runs
   (`services._check_active_runs`): both take the same workers. A broker that cannot be reached
   fails the study at once with that reason (a study takes seconds; starting it again is cheaper
   than a re-dispatcher).
2. `lever_study_execute` marks the study running with a conditional UPDATE (count 0: it has
   finished, so the delivery does nothing), computes the three findings one after the other,
   storing progress, the current step and the findings so far after each, and stores the results.
   A delivery of a study that is still running (a retry after a transient database error, a
   message re-delivered after its worker was lost) computes it again from the start: the search
   is deterministic and takes seconds, so this costs time, never a different answer.
"""

from __future__ import annotations

import dataclasses
import logging
import math

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from consortium import access
from consortium.models import Scenario
from consortium.services import scenario_labs_check
from simulations import engine
from simulations.engine.drawstability import MAX_DRAW_PLAYERS
from simulations.engine.errors import EngineError
from simulations.engine.levers import embargo_lever, largest_stable_coalition, overhead_lever

from .models import LeverStudy
from .services import _check_active_runs, scenario_spec_build

logger = logging.getLogger(__name__)

MIN_TARGET = 0.5
MAX_TARGET = 0.99
DEFAULT_TARGET = 0.9

# Share of the study done after each step: the two lever searches cost about the same (each
# checks every draw at a dozen trial values), the coalition search at central parameters little.
STEPS = (
    ("embargo", "Searching the smallest embargo", 0.45),
    ("overhead", "Searching the largest coordination overhead", 0.9),
    ("coalition", "Searching the largest stable group of labs", 1.0),
)


@transaction.atomic
def lever_study_create(*, scenario: Scenario, started_by, target: float = DEFAULT_TARGET) -> LeverStudy:
    """Snapshot the scenario into a queued study and hand it to the broker once the row is committed."""
    if not access.is_coordinator(started_by, scenario.consortium):
        raise PermissionDenied("Only the consortium's coordinators can search for levers.")
    if scenario.is_custom:
        raise ValidationError(
            {"scenario": "A custom game has no embargo or coordination overhead to vary; levers need a model scenario."}
        )
    if scenario.is_archived:
        raise ValidationError({"scenario": f"“{scenario.name}” is archived; unarchive it to study its levers."})
    if isinstance(target, bool) or not MIN_TARGET <= target <= MAX_TARGET:
        raise ValidationError(
            {"target": f"The target probability must be between {MIN_TARGET:g} and {MAX_TARGET:g}, got {target!r}."}
        )
    lab_count = scenario.labs.count()
    if lab_count < 2:
        raise ValidationError(
            {"labs": "Levers need at least two labs in the scenario: one lab alone is always stable."}
        )
    if lab_count > MAX_DRAW_PLAYERS:
        raise ValidationError(
            {
                "labs": f"Levers check every draw's core exhaustively, for at most {MAX_DRAW_PLAYERS} labs; "
                f"this scenario has {lab_count}."
            }
        )
    scenario_labs_check(consortium=scenario.consortium, labs=scenario.labs.all())
    _check_active_runs(consortium=scenario.consortium)
    draws = settings.LEVER_STUDY_DRAWS
    try:
        spec = scenario_spec_build(scenario=scenario, draws=draws)
    except EngineError as exc:
        raise ValidationError({"scenario": f"The scenario cannot be simulated: {exc}"}) from None
    study = LeverStudy.objects.create(
        scenario=scenario,
        rule=spec.rules[0],
        target=float(target),
        draws=draws,
        inputs={"spec": spec.to_dict()},
        engine_version=engine.ENGINE_VERSION,
        created_by=started_by,
    )
    transaction.on_commit(lambda: lever_study_dispatch(study=study))
    return study


def lever_study_dispatch(*, study: LeverStudy) -> bool:
    """Send the study to the workers; if the broker cannot be reached, fail it with that reason."""
    from . import dispatch
    from .tasks import run_lever_study

    if dispatch._publish(run_lever_study, study.pk):
        return True
    lever_study_fail(
        study_id=study.pk, error="The task queue could not be reached, so the study was not started; try again."
    )
    return False


def lever_study_fail(*, study_id: int, error: str) -> bool:
    """Mark an active study failed with a readable reason; False if it had already finished."""
    return bool(
        LeverStudy.objects.filter(pk=study_id, status__in=LeverStudy.ACTIVE).update(
            status=LeverStudy.Status.FAILED, error=error[:2000], finished_at=timezone.now()
        )
    )


def _plain(value):
    """JSON-safe: NaN and infinities become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value


def _finding(result) -> dict:
    return {key: _plain(value) for key, value in dataclasses.asdict(result).items()}


def lever_study_execute(*, study_id: int) -> bool:
    """Compute an active study and store its findings; False if it has finished (see the module docstring)."""
    claimed = LeverStudy.objects.filter(pk=study_id, status__in=LeverStudy.ACTIVE).update(
        status=LeverStudy.Status.RUNNING, started_at=timezone.now(), step=STEPS[0][1], progress=0.0
    )
    if not claimed:
        return False
    study = LeverStudy.objects.get(pk=study_id)
    spec = engine.ScenarioSpec.from_dict(study.inputs["spec"])
    searches = {
        "embargo": lambda: embargo_lever(spec, rule=study.rule, target=study.target, draws=study.draws),
        "overhead": lambda: overhead_lever(spec, rule=study.rule, target=study.target, draws=study.draws),
        "coalition": lambda: largest_stable_coalition(spec, rule=study.rule),
    }
    results: dict = {}
    for position, (key, _label, done) in enumerate(STEPS):
        results[key] = _finding(searches[key]())
        following = STEPS[position + 1][1] if position + 1 < len(STEPS) else ""
        # Progress and partial results are stored after each step; a study that finished meanwhile is left alone.
        LeverStudy.objects.filter(pk=study_id, status=LeverStudy.Status.RUNNING).update(
            progress=done, step=following, results=results
        )
    return bool(
        LeverStudy.objects.filter(pk=study_id, status=LeverStudy.Status.RUNNING).update(
            status=LeverStudy.Status.SUCCEEDED, progress=1.0, step="", results=results, finished_at=timezone.now()
        )
    )


def lever_study_latest(*, scenario: Scenario) -> LeverStudy | None:
    """The scenario's newest study, for its page."""
    return scenario.lever_studies.order_by("-created_at", "-id").first()
