"""The compiled core check (_excess.check_allocations) against plain numpy enumeration."""

from __future__ import annotations

import numpy as np
import pytest

from simulations.engine._bits import subset_sums
from simulations.engine._excess import LOW_BITS, check_allocations


def reference(costs: np.ndarray, x: np.ndarray, tol: float, keep: int):
    excess = subset_sums(x) - costs
    excess[0] = excess[-1] = -np.inf
    order = sorted(np.flatnonzero(excess > tol), key=lambda m: (-excess[m], m))[:keep]
    return excess, bool(len(order)), order


@pytest.mark.parametrize("seed", range(40))
def test_the_compiled_check_equals_enumeration(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = [2, 3, 5, LOW_BITS, LOW_BITS + 1, LOW_BITS + 3][seed % 6]
    costs = rng.uniform(0, 10, 1 << n).round(int(rng.integers(0, 3)))  # rounding makes ties
    costs[0] = 0.0
    scale = [0.2, 1.0, 5.0, 20.0][seed % 4]  # from no blocker to nearly every coalition blocking
    allocations = rng.uniform(0, scale, (3, n)).round(2)
    keep = [1, 3, 8][seed % 3]
    tol = 1e-9
    max_excess, blocked, masks, excess = check_allocations(costs, allocations, tol, keep)
    for r, x in enumerate(allocations):
        every, any_block, order = reference(costs, x, tol, keep)
        assert max_excess[r] == pytest.approx(every.max(), abs=1e-12)
        assert blocked[r] == any_block
        found = masks[r, : len(order)]
        assert (masks[r, len(order) :] == -1).all() and np.isnan(excess[r, len(order) :]).all()
        # The same blockers, largest first; where sums tie to rounding, either of the tied masks.
        np.testing.assert_allclose(excess[r, : len(order)], every[order], atol=1e-12)
        np.testing.assert_allclose(every[found], excess[r, : len(order)], atol=1e-12)
        assert len(set(found.tolist())) == len(order) and (every[found] > tol).all()
        for q, mask in enumerate(order):
            if np.count_nonzero(np.abs(every - every[mask]) <= 1e-9) == 1:  # no tie: the very mask
                assert found[q] == mask


def test_the_random_cases_reach_both_verdicts() -> None:
    """The test above is only as good as its cases: some allocations must block, some not."""
    verdicts = set()
    for seed in range(40):
        rng = np.random.default_rng(seed)
        n = [2, 3, 5, LOW_BITS, LOW_BITS + 1, LOW_BITS + 3][seed % 6]
        costs = rng.uniform(0, 10, 1 << n).round(int(rng.integers(0, 3)))
        costs[0] = 0.0
        allocations = rng.uniform(0, [0.2, 1.0, 5.0, 20.0][seed % 4], (3, n)).round(2)
        verdicts |= set(check_allocations(costs, allocations, 1e-9, 3)[1].tolist())
    assert verdicts == {True, False}


def test_the_grand_and_empty_coalitions_are_not_checked() -> None:
    """With every proper excess negative the largest excess is negative, whatever x(N) - c(N)."""
    n = LOW_BITS + 2
    costs = np.full(1 << n, 100.0)
    costs[0] = 0.0
    costs[-1] = 1.0  # the grand coalition would block with a large excess
    max_excess, blocked, masks, _ = check_allocations(costs, np.full((1, n), 1.0), 1e-9, 4)
    assert not blocked[0] and max_excess[0] < 0 and (masks == -1).all()
