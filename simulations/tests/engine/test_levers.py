"""Design levers: the value found holds (P(in core) >= target over the draws) and one step beyond fails."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from simulations.engine import Params, ScenarioSpec, simulate_chunk
from simulations.engine.errors import InvalidParameterError
from simulations.engine.levers import EMBARGO_STEP, OVERHEAD_STEP, embargo_lever, overhead_lever

from .helpers import random_labs

DRAWS = 40


def spec(labs_seed: int = 21) -> ScenarioSpec:
    return ScenarioSpec(
        labs=tuple(random_labs(5, labs_seed)), params=Params(horizon_years=3), rules=("shapley",), draws=DRAWS, seed=3
    )


def share_in_core(s: ScenarioSpec, fixed: tuple[str, ...]) -> float:
    """P(in core) recomputed from scratch, the lever fixed rather than drawn."""
    trial = dataclasses.replace(s, uncertain=tuple(n for n in s.uncertain if n not in fixed))
    chunk = simulate_chunk(trial, 0, trial.draws)
    return float(np.mean(chunk.stability.in_core[0] > 0.5))


def test_embargo_lever_holds_at_its_value_and_fails_one_step_shorter() -> None:
    s = spec()
    lever = embargo_lever(s, target=0.9, draws=DRAWS)
    assert lever.value is not None and lever.beyond is not None
    assert 0 < lever.value - lever.beyond <= EMBARGO_STEP
    at = dataclasses.replace(s, params=dataclasses.replace(s.params, embargo_months=lever.value))
    short = dataclasses.replace(s, params=dataclasses.replace(s.params, embargo_months=lever.beyond))
    assert share_in_core(at, ("embargo_months",)) == lever.prob_at_value >= 0.9
    assert share_in_core(short, ("embargo_months",)) == lever.prob_beyond < 0.9
    assert f"embargo of at least {lever.value:.2f} months" in lever.sentence and "Shapley value" in lever.sentence


def test_overhead_lever_holds_at_its_value_and_fails_one_step_above() -> None:
    s = spec(22)  # Shapley in the core in every draw at 1x the overhead, in 17 % at 20x
    lever = overhead_lever(s, target=0.9, draws=DRAWS)
    assert lever.value is not None and lever.beyond is not None
    assert 0 < lever.beyond - lever.value <= OVERHEAD_STEP

    def scaled(k: float) -> ScenarioSpec:
        p = dataclasses.replace(
            s.params,
            coordination_fixed=s.params.coordination_fixed * k,
            coordination_per_member=s.params.coordination_per_member * k,
        )
        return dataclasses.replace(s, params=p)

    fixed = ("coordination_fixed", "coordination_per_member")
    assert share_in_core(scaled(lever.value), fixed) >= 0.9 > share_in_core(scaled(lever.beyond), fixed)
    assert lever.stderr_at_value == pytest.approx(np.sqrt(lever.prob_at_value * (1 - lever.prob_at_value) / DRAWS))


def test_an_unreachable_target_gives_no_value_and_says_so() -> None:
    """Equal split on labs of very different sizes is blocked in most draws whatever the embargo."""
    s = dataclasses.replace(spec(), rules=("equal",))
    lever = embargo_lever(s, target=1.0, draws=20)
    assert lever.value is None and "No embargo up to 24 months keeps Equal split in the core" in lever.sentence


def test_a_bad_target_is_refused() -> None:
    with pytest.raises(InvalidParameterError, match="target probability"):
        embargo_lever(spec(), target=1.5)


def test_a_lever_that_holds_over_the_whole_range_says_the_edge_lies_beyond_it() -> None:
    lever = overhead_lever(spec(21), target=0.9, draws=DRAWS)
    assert (lever.value, lever.beyond) == (20.0, None) and lever.prob_at_value >= 0.9
    assert lever.sentence.endswith("20.00 times is the end of the range searched, so the edge lies beyond it.")
