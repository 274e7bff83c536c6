"""Differential tests against the peer library coopgame-py (a test-only dependency)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from simulations.engine import ExplicitGame, Params, allocate, build_game
from simulations.engine._bits import subset_sums

from .helpers import concave_game, random_game, random_labs

coopgame = pytest.importorskip("coopgame")


def peer_game(game: ExplicitGame):
    return coopgame.Game(game.costs[1:].tolist())


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 11, 14])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_shapley_equals_peer(n: int, seed: int) -> None:
    """Enumerated Shapley equals coopgame.shapley to 1e-9 on random games up to n = 14."""
    game = random_game(n, seed * 100 + n, scale=100.0)
    ours = allocate(game, "shapley").values
    theirs = np.array(coopgame.shapley(peer_game(game)))
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)


@pytest.mark.parametrize("n", [2, 5, 9, 12])
def test_normalized_banzhaf_equals_peer(n: int) -> None:
    """Normalized Banzhaf equals coopgame.normalize(banzhaf) scaled to c(N)."""
    game = random_game(n, 7 * n)
    ours = allocate(game, "banzhaf").values
    theirs = np.array(coopgame.normalize(coopgame.banzhaf(peer_game(game)))) * game.grand_cost()
    np.testing.assert_allclose(ours, theirs, atol=1e-9)


def _kohlberg_certified(game: ExplicitGame, x: np.ndarray) -> bool:
    """Certify x as the nucleolus of the cost game through the savings game's Kohlberg test."""
    alone = game.standalone()
    savings = subset_sums(alone) - game.costs
    verdict = coopgame.verify(coopgame.Game(savings[1:].tolist()), (alone - x).tolist(), "imputation")
    return bool(verdict["satisfied"])


CASES = (
    [("random", n, s) for n in (3, 5, 8, 10) for s in range(3)]
    + [("concave", n, s) for n in (4, 7, 10) for s in range(2)]
    + [("model", n, s) for n in (3, 6, 9) for s in range(2)]
)


@pytest.mark.parametrize(("kind", "n", "seed"), CASES)
def test_nucleolus_equals_peer(kind: str, n: int, seed: int) -> None:
    """Our nucleolus equals coopgame.cost_nucleolus within 1e-6 (relative to the game's scale),
    or is certified by the Kohlberg criterion."""
    if kind == "random":
        game = random_game(n, 1000 + 10 * n + seed)
    elif kind == "concave":
        game = concave_game(n, seed)
    else:
        game = build_game(random_labs(n, seed), Params(horizon_years=2)).to_explicit()
        game = ExplicitGame(game.players, game.costs / 1e6)
    ours = allocate(game, "nucleolus").values
    if game.standalone().sum() >= game.grand_cost():
        theirs = np.array(coopgame.cost_nucleolus(peer_game(game)))
    else:
        # No imputation exists (going alone is cheaper in total); both sides use pre-imputations.
        negated = coopgame.Game((-game.costs[1:]).tolist())
        theirs = -np.array(coopgame.prenucleolus(negated)["allocation"])
    if not np.allclose(ours, theirs, rtol=0, atol=1e-6 * max(1.0, game.grand_cost())):
        assert _kohlberg_certified(game, ours), (ours, theirs)


def model_game(n: int, seed: int, *, spillover: bool) -> ExplicitGame:
    """A v2 commons game in $M: mixed GPU types, one closed lab, one lab that would pool on its own,
    a shared base model for odd seeds, two years."""
    labs = random_labs(n, seed)
    labs[0] = dataclasses.replace(labs[0], openness=0.0)
    labs[-1] = dataclasses.replace(labs[-1], gpu_type="H200", price_per_gpu_hour=6.0)
    params = Params(horizon_years=2, shared_base_model=seed % 2 == 1, embargo_months=3.0, spillover_share=0.7)
    game = build_game(labs, params, spillover=spillover).to_explicit()
    return ExplicitGame(game.players, game.costs / 1e6)


@pytest.mark.parametrize("n", [2, 4, 7, 10, 12])
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("spillover", [True, False])
def test_shapley_of_commons_games_equals_peer(n: int, seed: int, spillover: bool) -> None:
    """Shapley of build_game(...).to_explicit() equals coopgame.shapley to 1e-9 of the game's scale."""
    game = model_game(n, seed, spillover=spillover)
    ours = allocate(game, "shapley").values
    theirs = np.array(coopgame.shapley(peer_game(game)))
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9 * float(np.abs(game.costs).max()))


@pytest.mark.parametrize("n", [3, 5, 8, 10])
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("spillover", [True, False])
def test_nucleolus_of_commons_games_equals_peer(n: int, seed: int, spillover: bool) -> None:
    """The nucleolus of v2 commons games equals coopgame's within 1e-6 of the game's scale, or
    passes the Kohlberg certificate."""
    game = model_game(n, seed, spillover=spillover)
    ours = allocate(game, "nucleolus").values
    if game.standalone().sum() >= game.grand_cost():
        theirs = np.array(coopgame.cost_nucleolus(peer_game(game)))
    else:
        negated = coopgame.Game((-game.costs[1:]).tolist())
        theirs = -np.array(coopgame.prenucleolus(negated)["allocation"])
    if not np.allclose(ours, theirs, rtol=0, atol=1e-6 * max(1.0, game.grand_cost())):
        assert _kohlberg_certified(game, ours), (ours, theirs)


def test_airport_closed_form_equals_peer() -> None:
    """Littlechild-Owen on a 12-plane airport equals coopgame.airport's Shapley value."""
    from simulations.engine.rules.shapley import airport_shapley

    demand = np.random.default_rng(5).random(12) * 10
    demand[7] = demand[3]  # a tie
    theirs = coopgame.airport(demand.tolist())["shapley"]
    np.testing.assert_allclose(airport_shapley(demand), theirs, atol=1e-9)


def test_sampled_shapley_covers_the_exact_value_at_the_stated_rate() -> None:
    """About 95% of nominal 95% intervals (estimate +- 1.96 se) contain the exact value; accept
    at least 88% over 30 runs x 8 players to keep the test stable."""
    game = random_game(8, 99)
    exact = np.array(coopgame.shapley(peer_game(game)))
    hits = total = 0
    for seed in range(30):
        est = allocate(game, "shapley", method="sampling", seed=seed, tolerance=0.05)
        assert not est.exact and est.stderr is not None
        hits += int((np.abs(est.values - exact) <= 1.96 * est.stderr).sum())
        total += game.n
    assert hits / total >= 0.88, hits / total


def test_sampled_shapley_agrees_with_peer_sampling() -> None:
    """Our sampled estimate and coopgame's are within their combined standard errors."""
    game = random_game(9, 3)
    ours = allocate(game, "shapley", method="sampling", seed=1, tolerance=0.05)
    theirs = coopgame.shapley_sampling(peer_game(game), 1000, seed=1)
    se = np.hypot(ours.stderr, np.array(theirs["standard_errors"]))
    assert (np.abs(ours.values - np.array(theirs["values"])) <= 5 * se).all()
