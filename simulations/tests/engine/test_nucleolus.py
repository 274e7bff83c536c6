"""The nucleolus' two LP back ends agree: warm-started HiGHS and plain scipy linprog."""

from __future__ import annotations

import numpy as np
import pytest

from simulations.engine import ExplicitGame, Params, allocate, build_game
from simulations.engine.rules import _highs

from .helpers import concave_game, random_game, random_labs


@pytest.mark.parametrize(
    "game",
    [random_game(7, 1), concave_game(8, 2), build_game(random_labs(7, 3), Params()).to_explicit()],
    ids=["random", "concave", "model"],
)
def test_linprog_fallback_matches_the_incremental_solver(game, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without scipy's private HiGHS binding the engine falls back to linprog, same answer."""
    assert _highs.available()
    from simulations.engine.rules.nucleolus import nucleolus

    fast = allocate(game, "nucleolus").values
    fast_eps = nucleolus(game).least_core_epsilon
    monkeypatch.setattr(_highs, "available", lambda: False)
    slow = allocate(game, "nucleolus").values
    slow_eps = nucleolus(game).least_core_epsilon
    np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-9 * max(1.0, game.grand_cost()))
    # Both paths read the imputation bounds' duals (HiGHS's column duals, linprog's upper marginals).
    assert fast_eps is not None and slow_eps is not None
    assert slow_eps == pytest.approx(fast_eps, abs=1e-9 * max(1.0, game.grand_cost()))


def test_deleting_rows_in_any_order_deletes_exactly_those_rows() -> None:
    """HiGHS ignores a set of rows that is not in increasing order (an error status, no exception):
    the nucleolus's LP once kept every row it meant to delete between stages. Rows 0..4 bound z
    from below by 1..5; deleting rows 4, 1 and 3 leaves the bounds 1 and 3, so min z is 3."""
    lp = _highs.IncrementalLP(np.array([-10.0]), np.array([10.0]), np.array([1.0]))
    lp.add_rows(np.ones((5, 1)), np.arange(1.0, 6.0), np.full(5, np.inf))
    assert lp.solve()[0][0] == pytest.approx(5.0)
    lp.delete_rows(np.array([4, 1, 3]))
    assert lp.rows == 2
    values, row_duals, _ = lp.solve()
    assert values[0] == pytest.approx(3.0)
    assert len(row_duals) == 2


def _pruned_against_kept(seed: int, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Solve one game keeping every row, then keeping only the singletons and their complements
    between stages (KEEP_ROWS = 0); assert the same nucleolus to 1e-9 of c(N) and return how many
    slack rows each stage's start deleted."""
    from simulations.engine.rules import nucleolus as module

    rng = np.random.default_rng(seed)
    n = int(rng.integers(6, 13))
    game = build_game(random_labs(n, 300 + seed), Params()).to_explicit() if seed % 2 else random_game(n, seed)
    with monkeypatch.context() as patch:
        patch.setattr(module, "KEEP_ROWS", 1 << 20)
        kept = module.nucleolus(game).values
        patch.setattr(module, "KEEP_ROWS", 0)
        pruned_rows: list[int] = []
        original = module._Problem._slack_rows
        patch.setattr(module._Problem, "_slack_rows", lambda p: pruned_rows.append(len(r := original(p))) or r)
        pruned = module.nucleolus(game).values
    np.testing.assert_allclose(pruned, kept, rtol=0, atol=1e-9 * abs(game.grand_cost()))
    return pruned_rows


@pytest.mark.parametrize("seed", range(12))
def test_pruning_slack_rows_between_stages_does_not_change_the_nucleolus(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    _pruned_against_kept(seed, monkeypatch)


def test_the_pruning_games_do_prune(monkeypatch: pytest.MonkeyPatch) -> None:
    """The games of the test above exercise the pruning: slack rows are deleted in most of them."""
    pruning = [sum(_pruned_against_kept(seed, monkeypatch)) > 0 for seed in range(12)]
    assert sum(pruning) >= 6, pruning


@pytest.mark.parametrize("deficit", [0.0, 1e-10, 5e-10, 9e-10, 1e-8, 1e-3])
def test_nucleolus_exists_when_going_alone_is_cheaper_by_a_rounding_error(deficit: float) -> None:
    """Regression: c(N) above sum c({i}) by less than the 1e-9 tolerance kept the imputation domain
    but not its feasibility, and the LP failed. Every player of this symmetric game pays c(N) / 3,
    over imputations or, for a real deficit, pre-imputations."""
    costs = np.array([0, 1, 1, 1.5, 1, 1.5, 1.5, 3 + deficit])
    x = allocate(ExplicitGame(("a", "b", "c"), costs), "nucleolus").values
    np.testing.assert_allclose(x, [(3 + deficit) / 3] * 3, rtol=1e-9)


def test_nucleolus_of_a_spillover_game_whose_pair_reads_less_than_its_members_alone() -> None:
    """Regression (a Monte Carlo draw): alone, the 1-hour lab reads the big lab's published work;
    together it cannot, so c(N) exceeds sum c({i}) by $0.003 in $6.3M. The nucleolus still exists."""
    costs = np.array([0.0, 6267111.030993489, 1.514716671605486, 6267112.548489408])
    x = allocate(ExplicitGame(("big", "tiny"), costs), "nucleolus").values
    assert x.sum() == pytest.approx(costs[-1], rel=1e-12)
    np.testing.assert_allclose(x, costs[1:3] + (costs[-1] - costs[1] - costs[2]) / 2, rtol=1e-9)


@pytest.mark.parametrize("seed", range(40))
def test_span_masks_lists_exactly_the_coalitions_in_the_span(seed: int) -> None:
    """span_masks (pivots of the row echelon form) equals projecting every coalition's incidence
    vector onto the span of the rows, on random sets of 0/1 rows that include the grand coalition."""
    from simulations.engine._bits import masks_to_bool
    from simulations.engine.rules.nucleolus import span_masks

    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 9))
    rows = [np.ones(n)]
    for _ in range(int(rng.integers(0, n + 2))):
        rows.append((rng.random(n) < rng.uniform(0.2, 0.8)).astype(np.float64))
    a = np.array(rows)
    every = masks_to_bool(np.arange(1 << n, dtype=np.int64), n).astype(np.float64)
    coef, *_ = np.linalg.lstsq(a.T, every.T, rcond=None)
    in_span = np.abs(a.T @ coef - every.T).max(axis=0) < 1e-9
    expected = np.flatnonzero(in_span)
    assert sorted(span_masks(a, n).tolist()) == expected.tolist()
