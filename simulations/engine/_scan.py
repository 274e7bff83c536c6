"""Compiled passes over all 2^n coalitions for the nucleolus's constraint generation (numba).

Why compiled: each constraint-generation round of a nucleolus stage evaluates every excess
x(S) - c(S) to find the violated coalitions. In numpy that was subset_sums (one 8 MB write at 20
players), a subtraction, a comparison, an AND with the free set and flatnonzero, about five
passes over 2^n arrays per round and some 20 rounds per 20-player draw, plus an 8 MB int64
row index filled with -1 per problem. `excess_scan` makes one pass that reads 4 bytes per
coalition and writes nothing of size 2^n (see its docstring); `mark_span` lists the coalitions a
fixed basis determines without the numpy version's 2^r-long intermediate arrays. Measured on the
bench scenario's 15 draws in one process, the per-draw nucleolus plus core check went from 85 ms
to 26 ms of CPU (bench/engine read 24 ms on the idle machine later; docs/model.md, section 10).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._bits import BoolArray, FloatArray
from ._kernels import subset_sums_into

# Stands in for c(S) of a coalition that is not free: its excess is about -3e38, so no pass ever
# counts it, and it stays finite (fastmath loops may assume no infinities).
NOT_FREE = np.float32(np.finfo(np.float32).max)
LOWEST = -np.finfo(np.float64).max  # stands in for minus infinity where fastmath loops compare
LOW_BITS = 11  # the low bits' 2^11 sums (16 KB) stay in L1 while a pass walks the high part


def scan_margin(x: FloatArray, cost_bound: float) -> float:
    """How far the float32 pass's excess may fall below the exact one: the rounding of c(S) to
    float32 (at most 2^-24 |c(S)|, bounded by `cost_bound`), doubled, plus the sums' own rounding."""
    return float(2.0**-23 * cost_bound + 1e-12 * (1.0 + np.abs(x).sum()))


@njit(cache=True, nogil=True)
def costs_to_float32(costs: FloatArray, scale: float, out: np.ndarray) -> None:
    """out[S] = float32(costs[S] / scale), and NOT_FREE for the empty and the grand coalition."""
    for m in range(costs.shape[0]):
        out[m] = np.float32(costs[m] / scale)
    out[0] = NOT_FREE
    out[costs.shape[0] - 1] = NOT_FREE


@njit(cache=True, nogil=True)
def _sums(x: FloatArray, first: int, bits: int) -> FloatArray:
    """Subset sums of x[first : first + bits]."""
    out = np.empty(1 << bits)
    subset_sums_into(x, first, bits, out)
    return out


@njit(cache=True, nogil=True, fastmath=True)
def _block_count(low: FloatArray, block: np.ndarray, cut: float) -> int:
    """How many j have low[j] - block[j] > cut. A count over a slice vectorizes (SIMD) where a
    running maximum, or indexing the whole array at base + j, did not: 0.16 ms against 0.6 to
    1.3 ms for 2^20 coalitions, measured."""
    count = 0
    for j in range(low.shape[0]):
        count += (low[j] - np.float64(block[j])) > cut
    return count


@njit(cache=True, nogil=True)
def exact_excess(x: FloatArray, costs: FloatArray, scale: float, m: int) -> float:
    """x(S) - costs[S] / scale with the sum taken over S's players in increasing order, the order
    and rounding of subset_sums, so the result equals subset_sums(x)[m] - costs[m] / scale."""
    total = 0.0
    i = 0
    rest = m
    while rest:
        if rest & 1:
            total += x[i]
        rest >>= 1
        i += 1
    return total - costs[m] / scale


@njit(cache=True, nogil=True)
def _keep(top_idx: np.ndarray, top_val: FloatArray, state: np.ndarray, m: int, e: float) -> None:
    """Count coalition m (excess e) and keep it if it is among the len(top_idx) largest so far;
    state holds the count and the position of the smallest kept value."""
    k = top_idx.shape[0]
    found = state[0]
    state[0] = found + 1
    if found < k:
        top_idx[found] = m
        top_val[found] = e
        if found == k - 1:
            state[1] = _smallest(top_val)
    elif k > 0 and e > top_val[state[1]]:
        top_idx[state[1]] = m
        top_val[state[1]] = e
        state[1] = _smallest(top_val)


@njit(cache=True, nogil=True)
def _smallest(values: FloatArray) -> int:
    worst = 0
    for p in range(1, values.shape[0]):
        if values[p] < values[worst]:
            worst = p
    return worst


@njit(cache=True, nogil=True)
def excess_scan(
    x: FloatArray,
    c32: np.ndarray,
    costs: FloatArray,
    scale: float,
    threshold: float,
    margin: float,
    top_idx: np.ndarray,
    top_val: FloatArray,
) -> int:
    """Find the len(top_idx) coalitions S with the largest exact excess x(S) - costs[S] / scale
    above `threshold` (all of them when fewer), among those whose c32[S] is not NOT_FREE, and
    write them into top_idx / top_val (in no particular order). Returns how many were written:
    min(k, the number above the threshold), so 0 means none is (with k = 0, that number).

    One pass: coalition S = (high, low) reads c32[S] only; x(S) is the sum of two small tables
    (sums over the low LOW_BITS players and over the rest). A block of 2^LOW_BITS coalitions
    sharing the high part is skipped when no approximate excess in it exceeds the cut, the
    threshold minus `margin`; otherwise its coalitions above the cut get their exact excess
    (exact_excess, from the float64 costs) and only those above the threshold are kept. With
    `margin` from scan_margin the approximate excess is never more than margin below the exact
    one, so no violated coalition is missed. Once k are kept, the cut rises to the smallest kept
    excess minus margin: a coalition at or below it could not displace one, so the kept set is
    the one a pass at the fixed threshold keeps, while the blocks below it are skipped. Early in
    a nucleolus stage, when hundreds of thousands of coalitions are violated, the fixed cut sent
    each of them through exact_excess: 2.2 ms per such pass at 20 players against 0.14 ms for a
    pass that finds none, measured on the bench scenario.
    """
    n = x.shape[0]
    k = top_idx.shape[0]
    lb = min(n, LOW_BITS)
    low = _sums(x, 0, lb)
    high = _sums(x, lb, n - lb)
    state = np.zeros(2, dtype=np.int64)  # how many found, position of the smallest kept
    cut = threshold - margin
    block = 1 << lb
    for hi in range(high.shape[0]):
        h = high[hi]
        base = hi << lb
        if _block_count(low, c32[base : base + block], cut - h) == 0:
            continue
        for j in range(block):
            m = base + j
            if c32[m] == NOT_FREE or h + (low[j] - np.float64(c32[m])) <= cut:
                continue
            e = exact_excess(x, costs, scale, m)
            if e > threshold:
                _keep(top_idx, top_val, state, m, e)
                if k > 0 and state[0] >= k:
                    cut = max(cut, top_val[state[1]] - margin)
    return int(state[0]) if k == 0 else int(min(state[0], k))


@njit(cache=True, nogil=True)
def echelon(a: FloatArray, tol: float) -> np.ndarray:
    """Bring `a` (r x n, overwritten) to reduced row echelon form by Gauss-Jordan elimination with
    partial pivoting, skipping columns whose best pivot is within tol of 0; returns the pivot
    columns (the first len of them rows of `a` span its rows). The operations are those of the
    numpy loop this replaces, in the same order (3 us per call instead of 160 us on 15 rows of
    20 players, measured), so the pivots and entries come out the same."""
    r, n = a.shape
    pivots = np.empty(min(r, n), dtype=np.int64)
    row = 0
    for col in range(n):
        if row == r:
            break
        best = row
        for i in range(row + 1, r):
            if abs(a[i, col]) > abs(a[best, col]):
                best = i
        if abs(a[best, col]) <= tol:
            continue
        for j in range(n):
            a[row, j], a[best, j] = a[best, j], a[row, j]
        lead = a[row, col]
        for j in range(n):
            a[row, j] /= lead
        for i in range(r):
            if i == row:
                continue
            factor = a[i, col]
            for j in range(n):
                a[i, j] -= factor * a[row, j]
        pivots[row] = col
        row += 1
    return pivots[:row]


@njit(cache=True, nogil=True)
def mark_span(
    reduced: FloatArray,
    pivots: np.ndarray,
    others: np.ndarray,
    tol: float,
    free: BoolArray,
    c32: np.ndarray,
    out: np.ndarray,
) -> int:
    """The coalitions in the span of `reduced` (r rows in reduced row echelon form, pivot columns
    `pivots`, the other columns `others`): for each subset P of the rows, the sum of P's rows
    must be within tol of 0 or 1 in every other column; the coalition is then P's pivots plus the
    columns where it is 1. Each is marked not free (free False, c32 NOT_FREE; pass size-0
    arrays to skip) and, while `out` has room, written there. Returns how many there are.

    Most columns constrain nothing: a column with at most one non-zero entry, within tol of 0 or
    1, sums to that entry or 0 whatever P is, so it just follows its row. Rows with non-zero
    entries only in such columns ("free" rows) can be taken or left independently; the other
    rows' subsets are walked depth first against the constraining columns, and each valid one is
    combined with every union of free rows. In the nucleolus's bases most rows are free (often
    all: the fixed coalitions partition the players), so this is one OR per coalition of the span
    where walking all 2^r subsets over every column took about 13 ns each, measured. The column
    sums add the chosen rows in increasing order from 0.0 (free rows add exact zeros there), the
    rounding of subset_sums over the rows that the numpy listing had.
    """
    r = reduced.shape[0]
    q = others.shape[0]
    row_bits = np.zeros(r, dtype=np.int64)
    for d in range(r):
        row_bits[d] = np.int64(1) << pivots[d]
    constraining = np.zeros(q, dtype=np.bool_)
    for t in range(q):
        col = others[t]
        nonzero = 0
        last = 0
        for d in range(r):
            if reduced[d, col] != 0.0:
                nonzero += 1
                last = d
        if nonzero == 0:
            continue
        value = reduced[last, col]
        if nonzero == 1 and abs(value - 1.0) <= tol:
            row_bits[last] |= np.int64(1) << col
        elif nonzero > 1 or abs(value) > tol:
            constraining[t] = True
    cols = others[constraining]
    k = cols.shape[0]
    bound = np.zeros(r, dtype=np.bool_)
    for d in range(r):
        for t in range(k):
            if reduced[d, cols[t]] != 0.0:
                bound[d] = True
    bound_rows = np.flatnonzero(bound)
    free_rows = np.flatnonzero(~bound)
    unions = np.zeros(1 << free_rows.shape[0], dtype=np.int64)
    size = 1
    for row in free_rows:
        for j in range(size):
            unions[size + j] = unions[j] | row_bits[row]
        size *= 2
    b = bound_rows.shape[0]
    partial = np.zeros((b + 1, k))  # partial[i]: column sums of the chosen rows among the first i
    chosen_bits = np.zeros(b + 1, dtype=np.int64)
    mark = free.shape[0] > 0
    count = 0
    for code in range(1 << b):
        # bound row i is chosen when bit b - 1 - i of code is set; the rows from `start` on changed
        start = 0
        if code:
            changed = code ^ (code - 1)
            top = 0
            while changed >> (top + 1):
                top += 1
            start = b - 1 - top
        for i in range(start, b):
            d = bound_rows[i]
            if (code >> (b - 1 - i)) & 1:
                for t in range(k):
                    partial[i + 1, t] = partial[i, t] + reduced[d, cols[t]]
                chosen_bits[i + 1] = chosen_bits[i] | row_bits[d]
            else:
                for t in range(k):
                    partial[i + 1, t] = partial[i, t]
                chosen_bits[i + 1] = chosen_bits[i]
        mask = chosen_bits[b]
        ok = True
        for t in range(k):
            value = partial[b, t]
            if abs(value - 1.0) <= tol:
                mask |= np.int64(1) << cols[t]
            elif abs(value) > tol:
                ok = False
                break
        if not ok:
            continue
        for j in range(unions.shape[0]):
            coalition = mask | unions[j]
            if mark:
                free[coalition] = False
                c32[coalition] = NOT_FREE
            if count < out.shape[0]:
                out[count] = coalition
            count += 1
    return count
