"""The compiled coalition passes (_scan) against the numpy code they replace."""

from __future__ import annotations

import numpy as np
import pytest

from simulations.engine import _scan
from simulations.engine._bits import masks_to_bool, subset_sums
from simulations.engine.rules.nucleolus import BATCH, FEAS_TOL, SPAN_TOL, _echelon, span_masks


def numpy_scan(x, costs, scale, free, threshold, k):
    """The numpy excess pass of the nucleolus's constraint generation before _scan."""
    excess = subset_sums(x) - costs / scale
    violated = np.flatnonzero((excess > threshold) & free)
    count = violated.size
    if violated.size > k:
        violated = violated[np.argpartition(excess[violated], -k)[-k:]]
    return count, set(violated.tolist()), excess


def compiled_scan(x, costs, scale, free, threshold, k):
    c32 = np.empty(len(costs), dtype=np.float32)
    _scan.costs_to_float32(costs, scale, c32)
    c32[~free] = _scan.NOT_FREE
    top_idx = np.empty(k, dtype=np.int64)
    top_val = np.empty(k)
    kept = _scan.excess_scan(x, c32, costs, scale, threshold, _scan.scan_margin(x, 1.0), top_idx, top_val)
    return kept, top_idx[:kept], top_val[:kept]


def random_case(seed: int, n: int):
    rng = np.random.default_rng(seed)
    costs = rng.uniform(-0.5, 2.0, 1 << n) * 10.0 ** rng.integers(-3, 7)
    costs[0] = 0.0
    scale = max(1.0, float(np.abs(costs).max()))
    free = rng.random(1 << n) < rng.uniform(0.3, 1.0)
    free[0] = free[-1] = False
    x = rng.normal(0.0, 1.0, n) * costs[(1 << n) - 1] / scale / n
    return rng, x, costs, scale, free


@pytest.mark.parametrize("n", [1, 2, 5, 11, 12, 15])
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("where", ["none", "few", "many", "most"])
def test_excess_scan_counts_and_keeps_the_same_coalitions_as_numpy(n: int, seed: int, where: str) -> None:
    """The BATCH most violated free coalitions (all when fewer) equal the numpy pass's, with
    none, a few (at most BATCH), many (four times BATCH) or most (half of them) violated."""
    _, x, costs, scale, free = random_case(seed, n)
    excess = subset_sums(x) - costs / scale
    ranked = np.sort(excess[free])[::-1]
    if ranked.size == 0:  # one player: only the empty and the grand coalition, neither free
        threshold = 0.0
    elif where == "none":
        threshold = float(ranked[0]) + 1e-12
    elif where == "few":
        threshold = float(ranked[min(len(ranked) - 1, 5)])
    elif where == "many":
        threshold = float(ranked[min(len(ranked) - 1, 4 * BATCH)])
    else:  # half of them: once BATCH are kept the pass raises its cut, and keeps the same ones
        threshold = float(ranked[len(ranked) // 2])
    want_count, want, values = numpy_scan(x, costs, scale, free, threshold, BATCH)
    count, idx, val = compiled_scan(x, costs, scale, free, threshold, BATCH)
    assert count == min(want_count, BATCH)
    assert set(idx.tolist()) == want
    np.testing.assert_array_equal(val, values[idx])  # the exact excess, bit for bit
    if where == "none" or ranked.size == 0:
        assert count == 0


@pytest.mark.parametrize("seed", range(8))
def test_excess_scan_decides_excesses_next_to_the_threshold_as_numpy(seed: int) -> None:
    """Coalitions whose excess sits within 1e-15 to 1e-7 of the threshold, on either side (inside
    the float32 filter's margin), are classified exactly as the float64 numpy pass does."""
    rng, x, costs, scale, free = random_case(seed, 14)
    threshold = 0.01 + FEAS_TOL
    sums = subset_sums(x)
    near = rng.choice(np.flatnonzero(free), 200, replace=False)
    offsets = rng.choice([-1, 1], 200) * 10.0 ** rng.uniform(-15, -7, 200)
    costs[near] = (sums[near] - threshold - offsets) * scale
    costs[0] = 0.0
    scale = max(1.0, float(np.abs(costs).max()))
    want_count, _, values = numpy_scan(x, costs, scale, free, threshold, 1 << 14)
    assert np.abs(values[near] - threshold).max() < 1e-7  # the case is what it says
    count, idx, _ = compiled_scan(x, costs, scale, free, threshold, 1 << 14)
    assert count == want_count
    assert sorted(idx.tolist()) == np.flatnonzero((values > threshold) & free).tolist()


def test_excess_scan_skips_what_is_not_free_and_the_empty_and_grand_coalitions() -> None:
    """A coalition marked NOT_FREE is never reported, however large its excess."""
    n = 10
    costs = np.full(1 << n, 5.0)
    costs[0] = 0.0
    free = np.ones(1 << n, dtype=bool)
    free[0] = free[-1] = False
    free[::3] = False
    x = np.ones(n)  # excess |S| - 1, above 4.5 from six members on
    count, idx, _ = compiled_scan(x, costs, 5.0, free, 4.5, 1 << n)
    members = masks_to_bool(np.arange(1 << n, dtype=np.int64), n).sum(axis=1)
    assert sorted(idx.tolist()) == np.flatnonzero((members > 5) & free).tolist()
    assert count == idx.size


def partition_rows(rng: np.random.Generator, n: int) -> np.ndarray:
    """Incidence rows of a random partition's blocks, the grand coalition and a few unions."""
    labels = rng.integers(0, max(1, n // 2), n)
    rows = [np.ones(n)]
    blocks = [(labels == b).astype(np.float64) for b in np.unique(labels)]
    rows += blocks[:-1]
    for _ in range(int(rng.integers(0, 3))):
        pick = rng.random(len(blocks)) < 0.5
        rows.append(np.clip(sum((blocks[i] for i in np.flatnonzero(pick)), np.zeros(n)), 0, 1))
    return np.array(rows)


@pytest.mark.parametrize("seed", range(30))
def test_mark_span_marks_exactly_the_span_on_partitions_and_mixed_rows(seed: int) -> None:
    """mark_span marks (free False, c32 NOT_FREE) exactly the coalitions whose incidence vector
    projects onto the span of the rows, on partition bases (every row free of constraints), on
    partitions plus random 0/1 rows (some columns constraining) and on random rows."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 11))
    kind = seed % 3
    rows = partition_rows(rng, n) if kind < 2 else np.ones((1, n))
    if kind > 0:
        extra = (rng.random((int(rng.integers(1, n)), n)) < rng.uniform(0.2, 0.8)).astype(np.float64)
        rows = np.vstack([rows, extra])
    every = masks_to_bool(np.arange(1 << n, dtype=np.int64), n).astype(np.float64)
    coef, *_ = np.linalg.lstsq(rows.T, every.T, rcond=None)
    expected = np.flatnonzero(np.abs(rows.T @ coef - every.T).max(axis=0) < 1e-9)
    reduced, pivots = _echelon(rows, n)
    others = np.array(sorted(set(range(n)) - set(pivots)), dtype=np.int64)
    free = np.ones(1 << n, dtype=bool)
    c32 = np.ones(1 << n, dtype=np.float32)
    out = np.empty(1 << n, dtype=np.int64)
    count = _scan.mark_span(reduced, np.array(pivots, dtype=np.int64), others, SPAN_TOL, free, c32, out)
    assert sorted(out[:count].tolist()) == expected.tolist()
    assert np.flatnonzero(~free).tolist() == expected.tolist()
    assert np.flatnonzero(c32 == _scan.NOT_FREE).tolist() == expected.tolist()
    assert sorted(span_masks(rows, n).tolist()) == expected.tolist()
