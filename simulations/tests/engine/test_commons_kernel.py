"""The compiled table of the commons game (_kernels) against evaluating each coalition directly.

Raw CommonsGames with random demands, gains, unit costs, spillover and overheads reach branches the
model's games rarely do: members whose commons of one pays only with little outside reading
("kinked"), ties in demand, terms no coalition pools, and more players than the walk's suffix.
"""

from __future__ import annotations

import numpy as np
import pytest

from simulations.engine._bits import masks_to_bool
from simulations.engine._kernels import LOW_BITS
from simulations.engine.commons import CommonsGame


def random_commons(seed: int, n: int) -> CommonsGame:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 4))
    demand = rng.uniform(0, 10, (k, n)) * (rng.random((k, n)) < 0.8)
    if rng.random() < 0.3:
        demand[:, : n // 2] = demand[:, :1]  # ties
    gain = rng.uniform(0, 3, (k, n))
    return CommonsGame(
        players=tuple(f"p{i}" for i in range(n)),
        alone=rng.uniform(50, 200, n),
        demand=demand,
        gain=gain,
        unit_cost=rng.uniform(0.5, 4, k),
        spill=rng.uniform(0, 1, k) * (rng.random(k) < 0.8),
        overhead_fixed=float(rng.uniform(0, 20)),
        overhead_per_member=float(rng.uniform(0, 5)),
        overhead_exponent=float(rng.uniform(0.5, 1.5)),
    )


def kinked(game: CommonsGame) -> int:
    h1 = game.overhead_fixed + game.overhead_per_member
    margin = game._own_margin  # type: ignore[attr-defined]
    least = (margin * game.demand).sum(axis=0) - (game.spill[:, None] * margin * game.demand).sum(axis=0)
    return int(sum(1 for i in game._own_possible if least[i] < h1))  # type: ignore[attr-defined]


@pytest.mark.parametrize("seed", range(60))
def test_the_compiled_table_equals_each_coalition_evaluated(seed: int) -> None:
    n = 2 + seed % 9 if seed < 50 else LOW_BITS + 1 + seed % 3
    game = random_commons(seed, n)
    every = masks_to_bool(np.arange(1 << n, dtype=np.int64), n)
    direct = game.costs_of(every)
    table = game.to_explicit().costs
    np.testing.assert_allclose(table, direct, rtol=1e-9, atol=1e-12 * float(np.abs(direct).max()))


def test_the_random_games_reach_kinked_members() -> None:
    """The differential test above is only as good as its games: some must have kinked members."""
    assert sum(kinked(random_commons(seed, 2 + seed % 9)) > 0 for seed in range(50)) >= 5


@pytest.mark.parametrize("seed", range(3))
def test_the_pipelined_table_equals_each_coalition_evaluated(seed: int) -> None:
    """From PIPELINE_PLAYERS on, the next term is walked on a second thread while one is gathered."""
    from simulations.engine._kernels import PIPELINE_PLAYERS

    n = PIPELINE_PLAYERS + seed % 2
    game = random_commons(100 + seed, n)
    every = masks_to_bool(np.arange(1 << n, dtype=np.int64), n)
    direct = game.costs_of(every)
    np.testing.assert_allclose(game.to_explicit().costs, direct, rtol=1e-9, atol=1e-12 * float(np.abs(direct).max()))


def test_one_thread_or_two_give_the_same_table_bit_for_bit() -> None:
    """Monte Carlo builds its next draw's table on one thread (split=False); the values must not
    depend on that, or a draw's numbers would depend on where its chunk starts."""
    from simulations.engine._kernels import PIPELINE_PLAYERS

    game = random_commons(7, PIPELINE_PLAYERS)
    split = game._build_explicit(split=True).costs
    assert np.array_equal(game._build_explicit(split=False).costs, split)
    # and the per-game values kept on the game equal the table's entries
    full = (1 << game.n) - 1
    assert game.grand_cost() == pytest.approx(split[full], rel=1e-12)
    np.testing.assert_allclose(game.standalone(), split[1 << np.arange(game.n)], rtol=1e-9)
    held = game.standalone()
    held[0] = -1.0  # a caller's copy: what the game keeps does not change
    assert game.standalone()[0] != -1.0
