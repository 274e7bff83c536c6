"""Core checks: enumeration, the structured mixed-integer search, and their agreement."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from simulations.engine import ExplicitGame, Params, allocate, build_game, check_stability
from simulations.engine import stability as stability_module

from .helpers import random_game, random_labs


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("exponent", [1.0, 1.5])
def test_structured_search_finds_the_enumerated_largest_excess(seed: int, exponent: float) -> None:
    """On 9-lab model games the MILP finds the same largest excess as full enumeration, for
    allocations inside and outside the core, with linear and faster-than-linear overhead."""
    params = Params(
        horizon_years=2, coordination_exponent=exponent, coordination_per_member=5e6, shared_base_model=seed % 2 == 1
    )
    game = build_game(random_labs(9, seed), params)
    explicit = game.to_explicit()
    for rule in ("shapley", "equal", "proportional"):
        x = allocate(game, rule).values
        _, value, optimal = stability_module._max_excess_structured(game, x)
        _, expected = stability_module._max_excess_enumerated(explicit, x)
        assert optimal
        assert value == pytest.approx(expected, rel=1e-9, abs=1e-6)


def test_large_structured_games_use_the_exact_search(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above the enumeration limit the check says how it was done and that it is exhaustive."""
    monkeypatch.setattr(stability_module, "MAX_ENUMERATED_PLAYERS", 4)
    monkeypatch.setattr(stability_module, "LEAST_CORE_SECONDS", 2.0)
    game = build_game(random_labs(8, 2), Params())
    x = allocate(game, "shapley").values
    fast = check_stability(game, x)
    monkeypatch.setattr(stability_module, "MAX_ENUMERATED_PLAYERS", 20)
    full = check_stability(game, x)
    assert fast.exhaustive and "mixed-integer" in fast.method
    assert fast.in_core == full.in_core
    assert fast.max_excess == pytest.approx(full.max_excess, rel=1e-9)
    assert fast.least_core_epsilon >= full.least_core_epsilon - 1e-6 * abs(full.least_core_epsilon)


def test_blocking_coalition_is_named() -> None:
    """A split that overcharges two players names them as the blocking coalition."""
    costs = np.array([0, 4, 4, 6, 4, 8, 8, 9], dtype=float)
    game = ExplicitGame(("a", "b", "c"), costs)
    s = check_stability(game, [4.0, 4.0, 1.0])
    assert not s.in_core and s.blocking_coalition == ("a", "b")
    assert s.max_excess == pytest.approx(2.0)
    assert s.individually_rational


def test_inefficient_allocation_is_not_in_the_core() -> None:
    game = random_game(3, 1)
    s = check_stability(game, game.standalone() * 0)
    assert not s.in_core and "does not sum" in s.method


def test_empty_core_gives_a_positive_least_core_epsilon() -> None:
    """Three players, any pair costs 1, the whole group 2: every split leaves a pair paying more
    than 1 on average, so the least-core epsilon is 1/3 (x = 2/3 each)."""
    costs = np.array([0, 1, 1, 1, 1, 1, 1, 2], dtype=float)
    game = ExplicitGame(("a", "b", "c"), costs)
    x = allocate(game, "nucleolus").values
    np.testing.assert_allclose(x, [2 / 3] * 3)
    s = check_stability(game, x)
    assert s.least_core_epsilon == pytest.approx(1 / 3)
    assert not s.in_core and s.max_excess == pytest.approx(1 / 3)


def test_stability_round_trips_through_a_dict() -> None:
    s = check_stability(random_game(3, 2), allocate(random_game(3, 2), "shapley").values)
    again = stability_module.Stability.from_dict(s.to_dict())
    assert dataclasses.asdict(again) == dataclasses.asdict(s)
