"""Compiled enumeration of all 2^n coalitions of the commons game (numba).

Why compiled: the numpy recursion CommonsGame.to_explicit used first made about thirty passes
over 2^n-float arrays per term (research area) and four random gathers into natural bit order;
at 20 players it was bound by memory traffic (0.42 s per table on the 20-lab bench scenario).
Engine 2.2 walked each term in its descending-demand order and gathered the values into natural
bit order (0.15 s); the gathers' random reads were most of it. Here everything is computed in
natural bit order, so nothing is gathered:

- commons_pool, per term: P(S) from S less its member m of smallest demand (an earlier entry),
  P(S) = P(S - m) + d_m ((e(S) - K)+ - (e(S) - e_m - K)+), and the position F(S) at which S's own
  cumulative gain first exceeds K (the level the rest pools to, when S is the rest);
- commons_costs, one pass over the coalitions: c(S) = sum a_i - reach - max(0, together, apart)
  from every term's P(S), the rest's F and P at the complement, and sums over the low and high
  halves of the mask from small tables.

Work arrays are kept per thread (scratch). From PIPELINE_PLAYERS on, half the terms and then
half the coalitions run on a second thread (the kernels release the GIL). Measured on the 20-lab
bench scenario in one process: 37 ms a table (wall; 70 ms of CPU) against 146 ms (195 ms) for
the walk and gather, a ratio of 0.25 (0.36). The definitions are docs/model.md, section 3, and
commons.py's module docstring; the tests compare the table with costs_of on every coalition.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from ._bits import FloatArray

# From this many players half of a table is computed on a second thread.
PIPELINE_PLAYERS = 16
# Masks are split into their low LOW_BITS players and the rest; sums over each half come from small tables.
LOW_BITS = 10

_pools: dict[str, tuple[int, ThreadPoolExecutor]] = {}
_pools_lock = threading.Lock()
_scratch = threading.local()


def thread_pool(name: str) -> ThreadPoolExecutor:
    """This process's one-thread pool called `name`, made anew after a fork (a pool's thread does
    not survive into a forked worker). "commons-table" runs the second half of a table; Monte
    Carlo builds the next draw's table on "draw-ahead" (montecarlo.simulate_chunk)."""
    with _pools_lock:
        held = _pools.get(name)
        if held is None or held[0] != os.getpid():
            held = (os.getpid(), ThreadPoolExecutor(max_workers=1, thread_name_prefix=name))
            _pools[name] = held
        return held[1]


def walker() -> ThreadPoolExecutor:
    """The pool for the second half of a table."""
    return thread_pool("commons-table")


def scratch(n: int, terms: int) -> tuple[FloatArray, np.ndarray]:
    """Work arrays for one table of n players and `terms` terms: P (terms x 2^n floats) and F
    (terms x 2^n int8), kept per thread and handed out as views of the largest size asked so far.

    Why kept: a fresh array of 2^20 floats is a new mapping whose first touch faults in 2,048
    pages. Allocating a 20-player table's work arrays anew every time took about half of its
    time (measured with these kernels). A thread that has built a 20-player table keeps them
    (63 MB for seven terms) until it ends.
    """
    size = 1 << n
    held: tuple[FloatArray, np.ndarray] | None = getattr(_scratch, "arrays", None)
    if held is None or held[0].size < size * terms:
        held = (np.empty(size * terms), np.empty(size * terms, dtype=np.int8))
        _scratch.arrays = held
    return held[0][: size * terms].reshape(terms, size), held[1][: size * terms].reshape(terms, size)


@njit(cache=True, nogil=True)
def subset_sums_into(values: np.ndarray, first: int, bits: int, out: np.ndarray) -> None:
    """out[m] = the sum of values[first + i] over the bits i of m, for every m < 2^bits, by
    doubling (any numeric dtype; the same order of additions as _bits.subset_sums)."""
    out[0] = 0
    size = 1
    for i in range(bits):
        v = values[first + i]
        for t in range(size):
            out[size + t] = out[t] + v
        size *= 2


@njit(cache=True, nogil=True)
def _half_sums(n: int, lb: int, values: np.ndarray, low: np.ndarray, high: np.ndarray) -> None:
    """Sums (or counts) of `values` over every mask of the low lb players (low) and of the others (high)."""
    subset_sums_into(values, 0, lb, low)
    subset_sums_into(values, lb, n - lb, high)


@njit(cache=True, nogil=True)
def _half_last(n: int, lb: int, rank: np.ndarray, low: np.ndarray, high: np.ndarray) -> None:
    """The member of largest rank (smallest demand) of every low and high mask (-1 when empty)."""
    low[0] = -1
    for i in range(lb):
        half = 1 << i
        for t in range(half):
            j = low[t]
            low[t + half] = i if j < 0 or rank[i] > rank[j] else j
    high[0] = -1
    for i in range(n - lb):
        half = 1 << i
        p = lb + i
        for t in range(half):
            j = high[t]
            high[t + half] = p if j < 0 or rank[p] > rank[j] else j


@njit(cache=True, nogil=True)
def commons_pool(
    n: int,
    d: FloatArray,  # demands, natural order
    e: FloatArray,  # gains, natural order
    rank: np.ndarray,  # position of each player in descending demand (ties in a fixed order)
    unit_cost: float,
    spill: bool,
    pool: FloatArray,  # out, 2^n: P(S)
    first: np.ndarray,  # out, 2^n int8 when spill: the player F at which S's own gain first exceeds K, or -1
) -> None:
    """P(S) for every S in natural bit order, from S less its member m of smallest demand.

    Below d_m every member of S is above the layer, so E_S(y) = e(S) there and E_S = E_{S - m}
    above it: P(S) = P(S - m) + d_m ((e(S) - K)+ - (e(S) - e_m - K)+). Likewise F(S) = F(S - m)
    when S - m already pools, else m when e(S) > K. e(S) and m come from tables of the low and
    high halves of the mask, so each coalition takes one read of an earlier entry.
    """
    lb = min(LOW_BITS, n)
    low_e = np.empty(1 << lb)
    high_e = np.empty(1 << (n - lb))
    _half_sums(n, lb, e, low_e, high_e)
    low_m = np.empty(1 << lb, dtype=np.int64)
    high_m = np.empty(1 << (n - lb), dtype=np.int64)
    _half_last(n, lb, rank, low_m, high_m)
    pool[0] = 0.0
    if spill:
        first[0] = -1
    for hi in range(1 << (n - lb)):
        eh = high_e[hi]
        bh = high_m[hi]
        base = hi << lb
        for lo in range(1 if hi == 0 else 0, 1 << lb):
            s = base | lo
            j = low_m[lo]
            if bh >= 0 and (j < 0 or rank[bh] > rank[j]):
                j = bh
            total = eh + low_e[lo]
            prev = s ^ (1 << j)
            g1 = total - unit_cost
            g0 = g1 - e[j]
            step = (g1 if g1 > 0.0 else 0.0) - (g0 if g0 > 0.0 else 0.0)
            pool[s] = pool[prev] + d[j] * step
            if spill:
                f = first[prev]
                if f < 0 and g1 > 0.0:
                    f = j
                first[s] = f


@njit(cache=True, nogil=True)
def commons_costs(
    n: int,
    demand: FloatArray,  # (K, n)
    gain: FloatArray,  # (K, n)
    linear_margin: FloatArray,  # (K, n): margins of the "linear" members, zeros for the others
    prefix: np.ndarray,  # (K, n) int64: per term and player j, the mask of the players before j
    unit_cost: FloatArray,  # (K,)
    spill: FloatArray,  # (K,)
    term_pool: FloatArray,  # (K, 2^n): commons_pool's P per term
    first: np.ndarray,  # (K, 2^n) int8: commons_pool's F per term (rows of unspilled terms unused)
    alone: FloatArray,
    linear_value: FloatArray,  # base_i - H(1) for linear players, else 0
    overhead_by_size: FloatArray,  # H(s) for s = 0..n
    pooling: np.ndarray,  # per player, int64: 1 if it has anything to pool
    apart_possible: bool,
    kinked: np.ndarray,  # players whose commons of one pays only with little outside reading
    kinked_base: FloatArray,  # base_i of each kinked player
    h1: float,
    out: FloatArray,
    start: int,
    stop: int,
) -> None:
    """c(S) = sum alone - reach - max(0, together, apart) for S in [start, stop), in one pass.

    Per S: together = sum_k P_k(S) - H(|S|), and when the rest T = N \\ S runs a commons (at least
    two of it pool and sum_k P_k(T) exceeds its overhead), per spilled term k at the rest's level
    X = d_F, F = F_k(T), with A the players before F: S reads reach_k = u (X e(S & A) +
    sum_{S - A} e_i d_i), its pooled layers below X, u (P(S) - P(S & A) + X (e(S & A) - K)+), leave
    together, and apart's linear members read the same with their margins. A kinked member's
    commons of one is max(0, base_i - sum_k u margin_ki min(d_ki, X_k) - H(1)).
    """
    terms = len(unit_cost)
    lb = min(LOW_BITS, n)
    low_mask = (1 << lb) - 1
    nl = 1 << lb
    nh = 1 << (n - lb)
    low_alone = np.empty(nl)
    high_alone = np.empty(nh)
    _half_sums(n, lb, alone, low_alone, high_alone)
    low_lin = np.empty(nl)
    high_lin = np.empty(nh)
    _half_sums(n, lb, linear_value, low_lin, high_lin)
    low_size = np.empty(nl, dtype=np.int64)
    high_size = np.empty(nh, dtype=np.int64)
    _half_sums(n, lb, np.ones(n, dtype=np.int64), low_size, high_size)
    low_pooled = np.empty(nl, dtype=np.int64)
    high_pooled = np.empty(nh, dtype=np.int64)
    _half_sums(n, lb, pooling, low_pooled, high_pooled)
    # Per term: e, e d, margin and margin d summed over low and high masks.
    low_t = np.empty((terms, 4, nl))
    high_t = np.empty((terms, 4, nh))
    for k in range(terms):
        _half_sums(n, lb, gain[k], low_t[k, 0], high_t[k, 0])
        _half_sums(n, lb, demand[k] * gain[k], low_t[k, 1], high_t[k, 1])
        _half_sums(n, lb, linear_margin[k], low_t[k, 2], high_t[k, 2])
        _half_sums(n, lb, demand[k] * linear_margin[k], low_t[k, 3], high_t[k, 3])
    spilling = False
    for k in range(terms):
        if spill[k] > 0.0:
            spilling = True
    nk = len(kinked)
    level = np.zeros(terms)
    last = (1 << n) - 1
    for s in range(start, stop):
        sl = s & low_mask
        sh = s >> lb
        together = 0.0
        for k in range(terms):
            together += term_pool[k, s]
        together -= overhead_by_size[low_size[sl] + high_size[sh]]
        cost = low_alone[sl] + high_alone[sh]
        apart = low_lin[sl] + high_lin[sh]
        runs = False
        if spilling:
            t = last ^ s
            count = low_pooled[t & low_mask] + high_pooled[t >> lb]
            if count >= 2:
                rest = 0.0
                for k in range(terms):
                    rest += term_pool[k, t]
                runs = rest > overhead_by_size[count]
        if runs:
            reach = 0.0
            below = 0.0
            unread = 0.0
            t = last ^ s
            for k in range(terms):
                level[k] = 0.0
                u = spill[k]
                if u <= 0.0:
                    continue
                j = first[k, t]
                if j < 0:
                    continue
                x = demand[k, j]
                level[k] = x
                a = s & prefix[k, j]
                b = s ^ a
                al = a & low_mask
                ah = a >> lb
                bl = b & low_mask
                bh = b >> lb
                ea = low_t[k, 0, al] + high_t[k, 0, ah]
                reach += u * (x * ea + low_t[k, 1, bl] + high_t[k, 1, bh])
                unread += u * (x * (low_t[k, 2, al] + high_t[k, 2, ah]) + low_t[k, 3, bl] + high_t[k, 3, bh])
                ga = ea - unit_cost[k]
                below += u * (term_pool[k, s] - term_pool[k, a] + (x * ga if ga > 0.0 else 0.0))
            cost -= reach
            together -= below
            apart -= unread
        best = together if together > 0.0 else 0.0
        if apart_possible:
            for q in range(nk):
                i = kinked[q]
                if (s >> i) & 1:
                    own = kinked_base[q]
                    if runs:
                        for k in range(terms):
                            margin = gain[k, i] - unit_cost[k]
                            if spill[k] > 0.0 and margin > 0.0:
                                di = demand[k, i]
                                own -= spill[k] * margin * (di if di < level[k] else level[k])
                    own -= h1
                    if own > 0.0:
                        apart += own
            if apart > best:
                best = apart
        out[s] = cost - best
    if start == 0:
        out[0] = 0.0
