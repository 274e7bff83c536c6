"""One scenario at central parameters under one rule: the live what-if's figures.

The same computation as a run's central figures (`scenario.finalize`): the game at the
scenario's own parameters (`build_game`), the rule's allocation drawn from the run's central
generator stream (`[seed, CENTRAL_STREAM, index of the rule]`), and the core check of that
allocation (`check_stability`). The least-core epsilon is left out: a verdict does not need it,
and it is the one part that costs a linear program.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .model import build_game
from .rules import allocate
from .scenario import CENTRAL_STREAM, ScenarioSpec
from .stability import Stability, check_stability


@dataclass(frozen=True)
class CentralOutcome:
    """Each member's outside option, allocated cost and savings at central parameters under `rule`
    (money in the spec's currency; `savings_pct` None where the outside option is not positive),
    and the core check of the allocation."""

    rule: str
    names: tuple[str, ...]
    standalone: tuple[float, ...]
    allocated: tuple[float, ...]
    savings: tuple[float, ...]
    savings_pct: tuple[float | None, ...]
    stability: Stability


def central_outcome(spec: ScenarioSpec, rule: str | None = None) -> CentralOutcome:
    """The scenario's central figures under `rule` (its first rule by default), as a run stores them."""
    chosen = spec.rules[0] if rule is None else rule
    index = spec.rules.index(chosen)
    game = build_game(spec.labs, spec.params)
    weights = np.array([lab.weight for lab in spec.labs])
    x = allocate(game, chosen, weights=weights, rng=np.random.default_rng([spec.seed, CENTRAL_STREAM, index])).values
    standalone = game.standalone()
    savings = standalone - x
    return CentralOutcome(
        rule=chosen,
        names=tuple(lab.name for lab in spec.labs),
        standalone=tuple(float(v) for v in standalone),
        allocated=tuple(float(v) for v in x),
        savings=tuple(float(v) for v in savings),
        savings_pct=tuple(
            float(100.0 * s / a) if a > 0 and math.isfinite(s) else None
            for s, a in zip(savings, standalone, strict=True)
        ),
        stability=check_stability(game, x, least_core=False),
    )
