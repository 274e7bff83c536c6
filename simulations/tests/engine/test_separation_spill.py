"""The separation program with spillover (separation.commons_max_excess_spill) against enumeration.

With spillover a coalition's cost depends on the level the rest of the players pool to, the
rest's own optimum: the program writes those levels with binaries and must find the same largest
excess as the 2^n table, under every arrangement (no commons, one joint commons, members apart)."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from simulations.engine import Params, allocate, build_game
from simulations.engine import stability as stability_module
from simulations.engine._bits import masks_to_bool, subset_sums
from simulations.engine.commons import CommonsGame
from simulations.engine.rules.nucleolus import least_core
from simulations.engine.separation import commons_max_excess_bound, commons_max_excess_spill

from .helpers import random_labs


def random_commons(n: int, seed: int) -> CommonsGame:
    """One to three terms, some players with nothing to pool, spillover on at least one term, and
    overheads from negligible to prohibitive, so all three arrangements occur."""
    rng = np.random.default_rng(seed)
    terms = int(rng.integers(1, 4))
    demand = rng.uniform(0, 10, (terms, n)) * (rng.random((terms, n)) < 0.8)
    if rng.random() < 0.3:
        demand[:, 0] = 0.0
    unit = rng.uniform(1, 3, terms)
    gain = rng.uniform(0, 2, (terms, n)) * unit[:, None]
    spill = rng.uniform(0, 1, terms) * (rng.random(terms) < 0.9)
    spill[0] = max(spill[0], 0.1)
    return CommonsGame(
        tuple(f"p{i}" for i in range(n)),
        alone=(gain * demand).sum(axis=0) + rng.uniform(0, 20, n),
        demand=demand,
        gain=gain,
        unit_cost=unit,
        spill=spill,
        overhead_fixed=float(rng.uniform(0, 10)),
        overhead_per_member=float(rng.uniform(0, 3)),
        overhead_exponent=float(rng.uniform(1, 2)),
    )


def enumerated(game: CommonsGame, x: np.ndarray) -> np.ndarray:
    """Every coalition's excess, -inf outside 2 <= |S| <= n - 1 (the program's range)."""
    n = game.n
    excess = subset_sums(x) - game.to_explicit().costs
    sizes = masks_to_bool(np.arange(1 << n, dtype=np.int64), n).sum(axis=1)
    excess[(sizes < 2) | (sizes > n - 1)] = -np.inf
    return excess


def value_of(excess: np.ndarray, members: np.ndarray) -> float:
    return float(excess[int(sum(1 << int(i) for i in np.flatnonzero(members)))])


@pytest.mark.parametrize("near_core", [False, True])
def test_the_program_finds_the_enumerated_largest_excess_under_every_arrangement(near_core: bool) -> None:
    """40 random games of 5 to 9 players, at random allocations and at the least-core point (where
    many coalitions tie near the top): proven optimal, the coalition's exact excess and the bound
    both equal the table's largest excess."""
    modes: collections.Counter[str] = collections.Counter()
    for seed in range(40):
        n = 5 + seed % 5
        game = random_commons(n, seed)
        rng = np.random.default_rng(seed + 1000)
        x = least_core(game.to_explicit())[1] if near_core else game.standalone() * rng.uniform(0.5, 1.2, n)
        excess = enumerated(game, x)
        members, optimal, ceiling = commons_max_excess_spill(game, x, time_limit=60.0)
        scale = max(1.0, float(np.abs(game.to_explicit().costs).max()))
        assert optimal and members is not None
        assert value_of(excess, members) == pytest.approx(excess.max(), abs=1e-7 * scale)
        assert ceiling == pytest.approx(excess.max(), abs=1e-6 * scale)
        best = int(np.argmax(excess))
        modes[game.arrangement(((best >> np.arange(n)) & 1).astype(bool)).mode] += 1
    assert set(modes) == {"none", "together", "apart"}, modes  # every arrangement was the answer somewhere


@pytest.mark.parametrize("n", [12, 16, 20])
def test_the_program_agrees_with_enumeration_on_model_games_up_to_20_labs(n: int) -> None:
    """Model games with spillover (half of every layer below the rest's level read for free), the
    rules' allocations: the program's coalition and bound equal the enumerated largest excess, or,
    stopped by its time limit on a loaded machine, bracket it."""
    game = build_game(random_labs(n, 200 + n), Params(horizon_years=2, spillover_share=0.5))
    table = game.to_explicit()
    slack = 1e-6 * max(1.0, table.grand_cost())
    proven = 0
    for rule in ("shapley", "equal", "proportional"):
        x = allocate(game, rule).values
        _, want = stability_module._max_excess_enumerated(table, x)
        members, optimal, ceiling = commons_max_excess_bound(game, x, time_limit=60.0)
        assert members is not None
        found = float(x[members].sum() - game.costs_of(members[None, :])[0])
        if optimal:
            proven += 1
            assert found == pytest.approx(want, abs=slack)
            assert ceiling == pytest.approx(want, abs=10 * slack)
        else:
            assert found <= want + slack <= ceiling + 2 * slack
    assert proven, "the program should prove its optimum for most allocations"


def test_a_time_limit_leaves_a_bracket_around_the_largest_excess() -> None:
    """Stopped almost at once on a 40-lab game, the program still returns a real coalition or none,
    and a bound no lower than any coalition's excess that the local search finds."""
    game = build_game(random_labs(40, 9), Params(horizon_years=2, spillover_share=0.5))
    x = allocate(game, "equal").values
    members, optimal, ceiling = commons_max_excess_spill(game, x, time_limit=0.05)
    searched, value = stability_module._max_excess_searched(game, x)
    assert not optimal
    assert searched is not None and value <= ceiling
    if members is not None:
        assert float(x[members].sum() - game.costs_of(members[None, :])[0]) <= ceiling


def test_check_stability_beyond_the_table_with_spillover_names_a_real_blocker() -> None:
    """A 22-lab game with spillover: the central core check settles the equal split's verdict
    (the local search's blocker, or the program's) with a coalition that really blocks it, and the
    nucleolus's verdict, in the core or not, by the program."""
    game = build_game(random_labs(22, 4), Params(horizon_years=2, spillover_share=0.5))
    x = allocate(game, "equal").values
    result = stability_module.check_stability(game, x, least_core=False)
    assert result.blocking_coalition is not None and not result.in_core
    members = np.array([p in result.blocking_coalition for p in game.players])
    assert float(x[members].sum() - game.costs_of(members[None, :])[0]) == pytest.approx(result.max_excess)
    assert result.max_excess > 0
    assert result.exhaustive or "found by local search proves the verdict" in result.method
