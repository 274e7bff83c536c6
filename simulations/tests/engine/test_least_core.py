"""The least-core rule: the projection of the proportional split onto the least core.

Checked against an independent solver (SLSQP over every coalition), for uniqueness (any seed of
the working set gives the same point) and, for the least-distance step, on hand-solved cases.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from simulations.engine import ExplicitGame, Params, build_game
from simulations.engine._bits import masks_to_bool, subset_sums
from simulations.engine.errors import EngineError
from simulations.engine.rules.nucleolus import least_core, least_core_epsilon, least_distance

from .helpers import concave_game, random_game, random_labs


def games() -> list[ExplicitGame]:
    return [
        *(random_game(n, seed) for n, seed in ((3, 1), (4, 2), (5, 3), (6, 4))),
        *(concave_game(n, seed) for n, seed in ((4, 5), (6, 6))),
        *(build_game(random_labs(n, seed), Params()).to_explicit() for n, seed in ((5, 7), (6, 8), (7, 9))),
    ]


def proportional(game: ExplicitGame) -> np.ndarray:
    alone = game.standalone()
    return alone / alone.sum() * game.grand_cost()


@pytest.mark.parametrize("game", games(), ids=lambda g: f"n{g.n}")
def test_the_point_is_the_nearest_least_core_point_found_by_an_independent_solver(game: ExplicitGame) -> None:
    """SLSQP minimizes the Euclidean distance to the proportional split over every coalition's
    constraint at the least-core epsilon; both points agree to 1e-6 of c(N)."""
    eps, x = least_core(game)
    eps_alone, _ = least_core_epsilon(game)
    assert eps == pytest.approx(eps_alone, abs=1e-9 * abs(game.grand_cost()))
    n, grand = game.n, game.grand_cost()
    masks = np.arange(1, (1 << n) - 1, dtype=np.int64)
    members = masks_to_bool(masks, n).astype(np.float64)
    bound = game.costs[masks] + eps + 1e-9 * max(1.0, np.abs(game.costs).max())
    unit = abs(grand)  # SLSQP works in units of c(N): in dollars its line search fails
    a = proportional(game) / unit
    peer = minimize(
        lambda y: 0.5 * float((y - a) @ (y - a)),
        a,
        jac=lambda y: y - a,
        method="SLSQP",
        constraints=[
            {"type": "eq", "fun": lambda y: np.array([y.sum() - grand / unit]), "jac": lambda y: np.ones((1, n))},
            {"type": "ineq", "fun": lambda y: bound / unit - members @ y, "jac": lambda y: -members},
        ],
        options={"ftol": 1e-15, "maxiter": 500},
    )
    assert peer.success, peer.message
    np.testing.assert_allclose(x / unit, peer.x, rtol=0, atol=1e-6)
    excess = subset_sums(x) - game.costs
    assert (excess[masks] + game.costs[masks] - bound).max() <= 1e-12 * abs(grand)  # in the least core
    assert x.sum() == pytest.approx(grand, rel=1e-12)


@pytest.mark.parametrize("seed", range(12))
def test_the_point_does_not_depend_on_the_working_set_it_starts_from(seed: int) -> None:
    """A projection onto a convex set is unique, so seeding the LPs with any coalitions (as Monte
    Carlo does, from the central game) gives the cold point to 1e-12 of c(N). The max-norm point
    engine 2.3 reported could move by several percent of c(N) with the seed."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 11))
    game = build_game(random_labs(n, 100 + seed), Params()).to_explicit() if seed % 2 else random_game(n, seed)
    eps, cold = least_core(game)
    full = (1 << n) - 1
    for _ in range(3):
        masks = rng.integers(1, full, size=int(rng.integers(1, 4 * n)))
        eps_seeded, seeded = least_core(game, seed=masks)
        assert eps_seeded == pytest.approx(eps, abs=1e-9 * abs(game.grand_cost()))
        np.testing.assert_allclose(seeded, cold, rtol=0, atol=1e-12 * abs(game.grand_cost()))


def test_a_proportional_split_already_in_the_least_core_is_kept() -> None:
    """Nothing to move: the 1, 2, 3 airport's proportional split is in its least core."""
    costs = np.array([0, 1, 2, 2, 3, 3, 3, 3], dtype=np.float64)
    eps, x = least_core(ExplicitGame(("A", "B", "C"), costs))
    assert eps == pytest.approx(-0.5, abs=1e-12)
    np.testing.assert_allclose(x, [0.5, 1.0, 1.5], atol=1e-12)


def test_least_distance_on_hand_solved_cases() -> None:
    # The shortest y with y_1 + y_2 >= 2 is (1, 1).
    np.testing.assert_allclose(least_distance(np.array([[1.0, 1.0]]), np.array([2.0])), [1.0, 1.0], atol=1e-12)
    # Already feasible at 0: y = 0.
    np.testing.assert_allclose(least_distance(np.array([[1.0, 0.0]]), np.array([-1.0])), [0.0, 0.0], atol=1e-12)
    # Two constraints, both binding: y_1 >= 1, y_2 >= 2.
    np.testing.assert_allclose(least_distance(np.eye(2), np.array([1.0, 2.0])), [1.0, 2.0], atol=1e-12)
    # y_1 >= 1 and -y_1 >= 0 cannot both hold.
    with pytest.raises(EngineError, match="no feasible point"):
        least_distance(np.array([[1.0], [-1.0]]), np.array([1.0, 0.0]))


@pytest.mark.parametrize("seed", range(16))
def test_the_nucleolus_first_stage_proves_the_least_core_epsilon_only_when_its_bounds_cannot_matter(seed: int) -> None:
    """Monte Carlo hands least_core the epsilon the nucleolus's first stage proves (over
    pre-imputations, at an epsilon of at most 0, or when the imputation bounds' duals times the
    epsilon are within the tolerance). It must equal the least core's own LP, and the point found
    from it (seeded with the stage's tight coalitions) the cold point. The games cover both signs."""
    from simulations.engine.rules.nucleolus import nucleolus

    rng = np.random.default_rng(50 + seed)
    n = int(rng.integers(4, 10))
    game = build_game(random_labs(n, 200 + seed), Params()).to_explicit() if seed % 2 else random_game(n, seed)
    solved = nucleolus(game)
    eps, point = least_core(game)
    tol = 1e-9 * abs(game.grand_cost())
    first = float(solved.levels[0])
    assert eps <= first + tol  # the bounds only ever raise the first stage's epsilon
    if first <= 0 or solved.domain == "preimputation":
        assert solved.least_core_epsilon is not None
    if solved.least_core_epsilon is None:
        return  # the bounds may bind (test_the_nucleolus_withholds_the_epsilon_when_the_imputation_bounds_bind)
    assert solved.least_core_epsilon == pytest.approx(eps, abs=tol)
    given_eps, given_point = least_core(game, seed=solved.least_core_tight, epsilon=solved.least_core_epsilon)
    assert given_eps == solved.least_core_epsilon
    np.testing.assert_allclose(given_point, point, rtol=0, atol=1e-12 * abs(game.grand_cost()))


def test_zero_bound_duals_prove_a_positive_least_core_epsilon() -> None:
    """Games with an empty core whose imputation bounds carry no dual at the first stage: the
    nucleolus proves the positive epsilon, and it is the least core's own. Model games of 20
    labs are mostly of this kind (about a third of a bench run's draws), so this is the case
    that spares Monte Carlo the LP."""
    from simulations.engine.rules.nucleolus import nucleolus

    proven = 0
    for seed in range(40):
        game = random_game(6, 4000 + seed)
        solved = nucleolus(game)
        if solved.domain == "imputation" and solved.levels[0] > 0 and solved.least_core_epsilon is not None:
            eps, _ = least_core(game)
            assert solved.least_core_epsilon == pytest.approx(eps, abs=1e-9 * abs(game.grand_cost()))
            proven += 1
    assert proven >= 3


def test_the_nucleolus_withholds_the_epsilon_when_the_imputation_bounds_bind() -> None:
    """A game whose least-core epsilon is positive and below the imputation-constrained one: the
    nucleolus must not claim its first-stage epsilon (it would overstate the least core's), and
    least_core without it solves the LP."""
    from simulations.engine.rules.nucleolus import nucleolus

    for seed in range(200):
        game = random_game(5, 1000 + seed)
        solved = nucleolus(game)
        eps, _ = least_core(game)
        if solved.levels[0] > eps + 1e-6 * abs(game.grand_cost()):
            assert solved.least_core_epsilon is None
            assert least_core(game, seed=solved.least_core_tight)[0] == pytest.approx(
                eps, abs=1e-9 * abs(game.grand_cost())
            )
            return
    pytest.fail("no random game has binding imputation bounds at its least core")
