"""Core checks: enumeration, the mixed-integer searches beyond it, and their agreement."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from simulations.engine import ExplicitGame, Params, allocate, build_game, check_stability
from simulations.engine import stability as stability_module
from simulations.engine.rules.nucleolus import least_core_epsilon

from .helpers import h100_lab, random_game, random_labs, random_structured_game


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("exponent", [1.0, 1.5])
def test_structured_search_finds_the_enumerated_largest_excess(seed: int, exponent: float) -> None:
    """On 9-player airport-structured games the MILP finds the same largest excess as full
    enumeration, for allocations inside and outside the core, with linear and faster-than-linear
    overhead."""
    game = random_structured_game(9, seed, exponent=exponent)
    explicit = game.to_explicit()
    for rule in ("shapley", "equal", "proportional"):
        x = allocate(game, rule).values
        _, value, optimal = stability_module._max_excess_structured(game, x)
        _, expected = stability_module._max_excess_enumerated(explicit, x)
        assert optimal
        assert value == pytest.approx(expected, rel=1e-9, abs=1e-6)


def commons_labs(seed: int) -> list:
    """Nine labs of mixed GPU types, one of them closed and one on expensive H200s (a lab that,
    alone, would buy its research from the pool)."""
    labs = random_labs(9, seed)
    labs[1] = dataclasses.replace(labs[1], openness=0.0)
    labs[2] = dataclasses.replace(labs[2], gpu_type="H200", price_per_gpu_hour=6.0, final_run_gpu_hours=2e7)
    return labs


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("base_model", [False, True])
def test_commons_search_finds_the_enumerated_largest_excess(seed: int, base_model: bool) -> None:
    """Without spillover, the commons game's MILP finds the largest excess that enumerating all
    coalitions finds, on 9-lab games with a closed lab and a lab that would pool on its own."""
    exponent = 1.0 + 0.25 * seed
    params = Params(horizon_years=2, spillover_share=0.0, coordination_exponent=exponent, shared_base_model=base_model)
    game = build_game(commons_labs(seed), params)
    explicit = game.to_explicit()
    for rule in ("shapley", "equal", "proportional"):
        x = allocate(game, rule).values
        _, value, optimal = stability_module._max_excess_commons(game, x)
        _, expected = stability_module._max_excess_enumerated(explicit, x)
        assert optimal
        assert value == pytest.approx(expected, rel=1e-9, abs=1e-6 * max(1.0, game.grand_cost())), rule


def test_commons_search_finds_a_blocking_pair_that_does_best_apart() -> None:
    """A lab on expensive H200s that alone buys its research from the pool, a 2-hour lab, two
    ordinary labs; charging the first two 100k above their outside options each, {pooler, tiny}
    (no better off together than apart) blocks with excess 200k: the MILP must find it."""
    labs = [
        h100_lab("pooler", 2e7, price_per_gpu_hour=6.0, gpu_type="H200"),
        h100_lab("tiny", 2.0),
        h100_lab("c", 1e6),
        h100_lab("d", 1e6),
    ]
    game = build_game(labs, Params(spillover_share=0.0))
    x = game.standalone() + np.array([1e5, 1e5, 0.0, 0.0])
    x[2:] += (game.grand_cost() - x.sum()) / 2
    _, expected = stability_module._max_excess_enumerated(game.to_explicit(), x)
    assert expected == pytest.approx(2e5)
    _, value, optimal = stability_module._max_excess_commons(game, x)
    assert optimal
    assert value == pytest.approx(expected, rel=1e-9)


def test_large_structured_games_use_the_exact_search(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above the enumeration limit the check says how it was done and that it is exhaustive."""
    monkeypatch.setattr(stability_module, "MAX_ENUMERATED_PLAYERS", 4)
    monkeypatch.setattr(stability_module, "LEAST_CORE_SECONDS", 2.0)
    game = random_structured_game(8, 2)
    x = allocate(game, "shapley").values
    fast = check_stability(game, x)
    monkeypatch.setattr(stability_module, "MAX_ENUMERATED_PLAYERS", 20)
    full = check_stability(game, x)
    assert fast.exhaustive and "mixed-integer" in fast.method
    assert fast.in_core == full.in_core
    assert fast.max_excess == pytest.approx(full.max_excess, rel=1e-9)
    assert fast.least_core_epsilon >= full.least_core_epsilon - 1e-6 * abs(full.least_core_epsilon)


def test_large_commons_games_without_spillover_use_the_exact_search(monkeypatch: pytest.MonkeyPatch) -> None:
    """Beyond the enumeration limit a commons game without spillover gets the exact MILP check,
    which agrees with enumeration."""
    game = build_game(random_labs(8, 2), Params(spillover_share=0.0))
    x = allocate(game, "equal").values
    full = check_stability(game, x)
    monkeypatch.setattr(stability_module, "MAX_ENUMERATED_PLAYERS", 4)
    monkeypatch.setattr(stability_module, "LEAST_CORE_SECONDS", 2.0)
    fast = check_stability(game, x)
    assert fast.exhaustive and "mixed-integer" in fast.method
    assert fast.in_core == full.in_core
    assert fast.max_excess == pytest.approx(full.max_excess, rel=1e-9, abs=1e-6)
    assert fast.least_core_epsilon >= full.least_core_epsilon - 1e-6 * max(1.0, abs(full.least_core_epsilon))


@pytest.mark.parametrize("rule", ["shapley", "nucleolus", "equal"])
def test_large_commons_games_with_spillover_use_the_exact_search(monkeypatch: pytest.MonkeyPatch, rule: str) -> None:
    """With spillover too, beyond the enumeration limit the check is exact: the same verdict as
    enumeration, and the blocking coalition really blocks. Where the local search finds a blocker
    first, that settles the verdict (labelled, its largest excess a lower bound); otherwise the
    MILP (the rest's levels written with binaries) proves it, with the enumerated largest excess."""
    game = build_game(random_labs(8, 5), Params())
    assert (game.spill > 0).any()
    x = allocate(game, rule).values
    full = check_stability(game, x)
    monkeypatch.setattr(stability_module, "MAX_ENUMERATED_PLAYERS", 4)
    monkeypatch.setattr(stability_module, "LEAST_CORE_SECONDS", 5.0)
    fast = check_stability(game, x)
    assert fast.in_core == full.in_core
    if fast.exhaustive:
        assert "exact mixed-integer search" in fast.method
        assert fast.max_excess == pytest.approx(full.max_excess, rel=1e-9, abs=1e-6)
    else:
        assert "found by local search proves the verdict" in fast.method and not fast.in_core
        assert 0 < fast.max_excess <= full.max_excess + 1e-9 * game.grand_cost()
    assert fast.least_core_epsilon >= full.least_core_epsilon - 1e-6 * max(1.0, abs(full.least_core_epsilon))
    if fast.blocking_coalition:
        members = np.array([p in fast.blocking_coalition for p in game.players])
        assert x[members].sum() - game.costs_of(members[None, :])[0] == pytest.approx(fast.max_excess)


def test_a_member_charged_above_its_outside_option_blocks() -> None:
    """Charging one of two identical labs everything above its private cost makes it block alone."""
    game = build_game([h100_lab("a", 1e6), h100_lab("b", 1e6)], Params())
    x = game.private_costs() + np.array([game.joint_cost(), 0.0])
    s = check_stability(game, x)
    assert not s.in_core and s.blocking_coalition == ("a",)
    assert not s.individually_rational


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


@pytest.mark.parametrize(("n", "seed"), [(12, 0), (16, 1), (20, 2)])
def test_commons_separation_agrees_with_enumeration_up_to_20_labs(n: int, seed: int) -> None:
    """The separation MILP finds the enumerated largest excess of random 12- to 20-lab games without
    spillover, for rules' allocations and for random efficient allocations around them; and the
    least-core epsilon of its cutting planes equals the enumerated one."""
    params = Params(
        horizon_years=2,
        spillover_share=0.0,
        coordination_exponent=1.0 + 0.25 * seed,
        shared_base_model=seed % 2 == 0,
    )
    game = build_game(random_labs(n, 100 + seed), params)
    explicit = game.to_explicit()
    rng = np.random.default_rng(seed)
    allocations = [allocate(game, rule).values for rule in ("shapley", "equal", "proportional")]
    noise = rng.normal(0.0, 0.05, n) * game.standalone()
    allocations.append(allocations[0] + noise - noise.mean())
    proven = 0
    for x in allocations:
        _, value, optimal = stability_module._max_excess_commons(game, x)
        _, expected = stability_module._max_excess_enumerated(explicit, x)
        if optimal:
            proven += 1
            assert value == pytest.approx(expected, rel=1e-9, abs=1e-6 * max(1.0, game.grand_cost()))
        else:  # stopped at its time limit (a loaded machine): what it found is a lower bound
            assert value <= expected + 1e-6 * max(1.0, game.grand_cost())
    assert proven, "the search should prove optimality for most allocations"
    eps, note = stability_module._least_core_cutting(game, np.inf, stability_module._max_excess_commons)
    expected_eps, _ = least_core_epsilon(explicit)
    slack = 1e-6 * max(1.0, game.grand_cost())
    if note is None:
        assert eps == pytest.approx(expected_eps, rel=1e-7, abs=slack)
    else:
        # Stopped at its time limit: the bracket it names must hold the enumerated epsilon.
        lower, upper = (float(v) for v in re.search(r"in \[(\S+), (\S+)\]", note).groups())
        assert lower - 1e-5 * abs(lower) - slack <= expected_eps <= upper + 1e-5 * abs(upper) + slack
        assert eps == upper
