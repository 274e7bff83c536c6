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
- commons_costs, over blocks of 2^LOW_BITS coalitions: c(S) = sum a_i - reach - max(0, together,
  apart) from every term's P(S), the rest's F and P at the complement, and sums over the low and
  high halves of the mask from small tables.

Work arrays are kept per thread (scratch). A table is a Job of tasks (the terms' P, then the
costs in COST_CHUNKS chunks) that any thread may take: from PIPELINE_PLAYERS on a second thread
shares it, and in Monte Carlo the main thread joins the table the draw-ahead thread started
(montecarlo.simulate_chunk). Measured on the 20-lab bench scenario in one process: 37 ms a table
(wall; 70 ms of CPU) against 146 ms (195 ms) for the walk and gather, a ratio of 0.25 (0.36).

The costs pass used to take each coalition's terms one after another, a chain of dependent
lookups, and read every P twice (at S, and at S's complement for the rest): 88 ms of the 108 ms a
one-thread table took on a later, slower machine. In blocks, each spilled term runs over the
whole block (independent steps), and each block is paired with its mirror, whose coalitions are
its complements, so each P is read once: 47 ms, 69 ms for the table (medians, same session), with
the same values bit for bit. The definitions are docs/model.md, section 3, and commons.py's
module docstring; the tests compare the table with costs_of on every coalition.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from ._bits import FloatArray

# From this many players half of a table is computed on a second thread.
PIPELINE_PLAYERS = 16
# A table's costs are computed in this many tasks (Job), so two threads can share them.
COST_CHUNKS = 16
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


class Job:
    """Tasks in phases that any number of threads may run together: a phase's tasks start once the
    phase before has finished. A table is one (its terms' pools, then its coalitions' costs in
    chunks), so the thread that needs it can take the tasks its builder has not reached yet:
    Monte Carlo's draw-ahead thread builds the next draw's table while the main thread runs the
    draw's rules, and the main thread, done with them, helps instead of waiting (montecarlo).
    Where a task runs does not change what it computes."""

    def __init__(self, phases: Sequence[Sequence[Callable[[], None]]]) -> None:
        self._phases = [list(p) for p in phases if p]
        self._cond = threading.Condition()
        self._phase = 0  # the phase whose tasks are being handed out
        self._next = 0  # its next task not yet handed out
        self._running = 0  # tasks handed out and not yet finished
        self._error: BaseException | None = None

    @property
    def done(self) -> bool:
        with self._cond:
            return self._phase >= len(self._phases) or self._error is not None

    def work(self) -> None:
        """Run tasks until none is left, then wait until every one has finished; re-raise the
        first error any task raised (on every thread that works on the job)."""
        while True:
            with self._cond:
                while True:
                    if self._error is not None:
                        raise self._error
                    if self._phase >= len(self._phases):
                        return
                    tasks = self._phases[self._phase]
                    if self._next < len(tasks):
                        task = tasks[self._next]
                        self._next += 1
                        self._running += 1
                        break
                    self._cond.wait()  # the phase's last tasks run elsewhere
            try:
                task()
            except BaseException as error:
                with self._cond:
                    self._error = self._error or error
                    self._cond.notify_all()
                raise
            with self._cond:
                self._running -= 1
                if self._running == 0 and self._next == len(self._phases[self._phase]):
                    self._phase += 1
                    self._next = 0
                    self._cond.notify_all()


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
def member_sums(values: FloatArray, n: int, weights: FloatArray) -> tuple[FloatArray, float]:
    """For each player i, the sum of weights[|S|] values[S] over the masks S containing i, and
    the sum over every mask, in one pass over `values` (2^n floats).

    Why compiled: Shapley's enumeration took the weighted costs as a new 2^n array (a gather of
    the weights by popcount, then a product) and folded it in half twenty times in numpy, some
    40 MB of memory traffic and 4 ms a 20-player table (the bench scenario, measured); Banzhaf
    folded the costs likewise. Here each block of 2^LOW_BITS masks, which share their high bits,
    is weighted and folded in a small buffer: the low players' sums come from the folds, and the
    block's total goes to each of its high players.
    """
    lb = min(LOW_BITS, n)
    nl = 1 << lb
    nh = 1 << (n - lb)
    low_size = np.empty(nl, dtype=np.int64)
    high_size = np.empty(nh, dtype=np.int64)
    _half_sums(n, lb, np.ones(n, dtype=np.int64), low_size, high_size)
    out = np.zeros(n)
    block = np.empty(nl)
    total = 0.0
    for h in range(nh):
        base = h << lb
        hs = high_size[h]
        for lo in range(nl):
            block[lo] = values[base + lo] * weights[low_size[lo] + hs]
        size = nl
        for i in range(lb - 1, -1, -1):
            half = size >> 1
            acc = 0.0
            for t in range(half):
                v = block[half + t]
                acc += v
                block[t] += v
            out[i] += acc
            size = half
        whole = block[0]
        total += whole
        for i in range(n - lb):
            if (h >> i) & 1:
                out[lb + i] += whole
    return out, total


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


def block_pairs(n: int) -> int:
    """How many units of work commons_costs splits a table of n players into: pairs of blocks of
    2^LOW_BITS coalitions, each block with its mirror (the complements of its coalitions)."""
    return max(1, 1 << max(0, n - LOW_BITS - 1))


@njit(cache=True, nogil=True)
def _term_sums(
    n: int, lb: int, demand: FloatArray, gain: FloatArray, linear_margin: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Per term, e, e d, margin and margin d summed over every low mask (low) and high mask
    (high), the four side by side: one coalition's lookups share a cache line."""
    terms = demand.shape[0]
    low = np.empty((terms, 1 << lb, 4))
    high = np.empty((terms, 1 << (n - lb), 4))
    low_one = np.empty(1 << lb)
    high_one = np.empty(1 << (n - lb))
    for k in range(terms):
        for c in range(4):
            if c == 0:
                values = gain[k].copy()
            elif c == 1:
                values = demand[k] * gain[k]
            elif c == 2:
                values = linear_margin[k].copy()
            else:
                values = demand[k] * linear_margin[k]
            _half_sums(n, lb, values, low_one, high_one)
            low[k, :, c] = low_one
            high[k, :, c] = high_one
    return low, high


@njit(cache=True, nogil=True)
def _level_sums(
    n: int,
    lb: int,
    k: int,
    high: int,
    prefix: np.ndarray,
    high_t: FloatArray,
    at_level: FloatArray,
    level_low: np.ndarray,
) -> None:
    """For term k and each level player j (A = prefix[k, j], the players before j): the block's
    high half of the term sums of S & A and of S - A, A's low mask, and S & A's high bits in place."""
    low_mask = (1 << lb) - 1
    for j in range(n):
        a_high = high & (prefix[k, j] >> lb)
        for c in range(4):
            at_level[j, c] = high_t[k, a_high, c]
            at_level[j, 4 + c] = high_t[k, high ^ a_high, c]
        level_low[j, 0] = prefix[k, j] & low_mask
        level_low[j, 1] = a_high << lb


@njit(cache=True, nogil=True)
def _cost_block(
    n: int,
    lb: int,
    base: int,
    own: FloatArray,  # sum_k P_k(S) over the block
    rest: FloatArray,  # sum_k P_k at each coalition's complement
    demand: FloatArray,
    gain: FloatArray,
    prefix: np.ndarray,
    unit_cost: FloatArray,
    spill: FloatArray,
    term_pool: FloatArray,
    first: np.ndarray,
    halves: tuple[FloatArray, FloatArray, FloatArray, FloatArray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    low_t: FloatArray,
    high_t: FloatArray,
    overhead_by_size: FloatArray,
    spilling: bool,
    apart_possible: bool,
    kinked: np.ndarray,
    kinked_base: FloatArray,
    h1: float,
    out: FloatArray,
    work: FloatArray,  # (6, B) scratch: together, cost, apart, reach, below, unread
    runs: np.ndarray,  # (B, 2) bool scratch: whether the rest runs a commons, whether apart could win
    at_level: FloatArray,  # (n, 8) scratch: the high half's sums of S & A and S - A, per level player
    level_low: np.ndarray,  # (n, 2) int64 scratch: A's low mask, and S & A's high bits in place
    level: FloatArray,  # (terms,) scratch
) -> None:
    """c(S) for the block of coalitions [base, base + 2^lb), which share their high bits.

    First every coalition's own values and whether its rest runs a commons; then each spilled term
    in turn over the whole block (every coalition's step is independent of the others', where one
    coalition's terms one after another were a chain of dependent lookups); then the costs. Each
    coalition adds its terms in the same order as it would alone, so the values do not depend on
    the blocking.

    What apart's linear members leave unread is summed only for the coalitions where apart could
    still be the best arrangement: its value before any reading (the linear sum, plus each kinked
    member's base_i - H(1) where positive) above max(0, together). Reading only lowers apart, and
    rounding is monotone, so elsewhere apart computed in full would not exceed that bound and the
    cost is the same bit for bit; the pass it spares was a quarter of the table's costs (37 to 28
    ms at 20 members, measured).
    """
    low_alone, high_alone, low_lin, high_lin, low_size, high_size, low_pooled, high_pooled = halves
    terms = unit_cost.shape[0]
    size = 1 << lb
    low_mask = size - 1
    last = (1 << n) - 1
    high = base >> lb
    rest_base = last ^ base  # the complement of base + lo is rest_base ^ lo
    rest_pooled = high_pooled[rest_base >> lb]
    together, cost, apart, reach, below, unread = work[0], work[1], work[2], work[3], work[4], work[5]
    for lo in range(size):
        together[lo] = own[lo] - overhead_by_size[low_size[lo] + high_size[high]]
        cost[lo] = low_alone[lo] + high_alone[high]
        apart[lo] = low_lin[lo] + high_lin[high]
        reach[lo] = 0.0
        below[lo] = 0.0
        unread[lo] = 0.0
        r = False
        if spilling:
            count = low_pooled[low_mask ^ lo] + rest_pooled
            if count >= 2:
                r = rest[lo] > overhead_by_size[count]
        runs[lo, 0] = r
        runs[lo, 1] = False
    nk = len(kinked)
    if spilling:
        for k in range(terms):
            u = spill[k]
            if u <= 0.0:
                continue
            _level_sums(n, lb, k, high, prefix, high_t, at_level, level_low)
            uk = unit_cost[k]
            for lo in range(size):
                if not runs[lo, 0]:
                    continue
                j = first[k, rest_base ^ lo]
                if j < 0:
                    continue
                x = demand[k, j]
                al = lo & level_low[j, 0]
                bl = lo ^ al
                ea = low_t[k, al, 0] + at_level[j, 0]
                reach[lo] += u * (x * ea + low_t[k, bl, 1] + at_level[j, 5])
                ga = ea - uk
                drawn = term_pool[k, base + lo] - term_pool[k, level_low[j, 1] | al]
                below[lo] += u * (drawn + (x * ga if ga > 0.0 else 0.0))
    if spilling and apart_possible:
        contested = False
        for lo in range(size):
            if not runs[lo, 0]:
                continue
            tog = together[lo] - below[lo]
            best = tog if tog > 0.0 else 0.0
            bound = apart[lo]
            for q in range(nk):
                if ((base + lo) >> kinked[q]) & 1:
                    value = kinked_base[q]
                    value -= h1
                    if value > 0.0:
                        bound += value
            if bound > best:
                runs[lo, 1] = True
                contested = True
        if contested:
            for k in range(terms):
                u = spill[k]
                if u <= 0.0:
                    continue
                _level_sums(n, lb, k, high, prefix, high_t, at_level, level_low)
                for lo in range(size):
                    if not runs[lo, 1]:
                        continue
                    j = first[k, rest_base ^ lo]
                    if j < 0:
                        continue
                    x = demand[k, j]
                    al = lo & level_low[j, 0]
                    bl = lo ^ al
                    unread[lo] += u * (x * (low_t[k, al, 2] + at_level[j, 2]) + low_t[k, bl, 3] + at_level[j, 7])
    for lo in range(size):
        s = base + lo
        c = cost[lo]
        tog = together[lo]
        ap = apart[lo]
        if runs[lo, 0]:
            c -= reach[lo]
            tog -= below[lo]
            ap -= unread[lo]
        best = tog if tog > 0.0 else 0.0
        if apart_possible:
            if nk:
                for k in range(terms):
                    level[k] = 0.0
                    if runs[lo, 0] and spill[k] > 0.0:
                        j = first[k, rest_base ^ lo]
                        if j >= 0:
                            level[k] = demand[k, j]
            for q in range(nk):
                i = kinked[q]
                if (s >> i) & 1:
                    value = kinked_base[q]
                    if runs[lo, 0]:
                        for k in range(terms):
                            margin = gain[k, i] - unit_cost[k]
                            if spill[k] > 0.0 and margin > 0.0:
                                di = demand[k, i]
                                value -= spill[k] * margin * (di if di < level[k] else level[k])
                    value -= h1
                    if value > 0.0:
                        ap += value
            if ap > best:
                best = ap
        out[s] = c - best


@njit(cache=True, nogil=True)
def cost_tables(
    n: int,
    demand: FloatArray,
    gain: FloatArray,
    linear_margin: FloatArray,
    alone: FloatArray,
    linear_value: FloatArray,
    pooling: np.ndarray,
) -> tuple[
    tuple[FloatArray, FloatArray, FloatArray, FloatArray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    FloatArray,
    FloatArray,
]:
    """The small tables commons_costs reads: sums of alone, linear_value, ones and pooling over
    every low and high mask, and the terms' sums (_term_sums). Built once per table."""
    lb = min(LOW_BITS, n)
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
    low_t, high_t = _term_sums(n, lb, demand, gain, linear_margin)
    return (low_alone, high_alone, low_lin, high_lin, low_size, high_size, low_pooled, high_pooled), low_t, high_t


@njit(cache=True, nogil=True)
def commons_costs(
    n: int,
    demand: FloatArray,  # (K, n)
    gain: FloatArray,  # (K, n)
    prefix: np.ndarray,  # (K, n) int64: per term and player j, the mask of the players before j
    unit_cost: FloatArray,  # (K,)
    spill: FloatArray,  # (K,)
    term_pool: FloatArray,  # (K, 2^n): commons_pool's P per term
    first: np.ndarray,  # (K, 2^n) int8: commons_pool's F per term (rows of unspilled terms unused)
    halves: tuple[FloatArray, FloatArray, FloatArray, FloatArray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    low_t: FloatArray,  # cost_tables' term sums
    high_t: FloatArray,
    overhead_by_size: FloatArray,  # H(s) for s = 0..n
    apart_possible: bool,
    kinked: np.ndarray,  # players whose commons of one pays only with little outside reading
    kinked_base: FloatArray,  # base_i of each kinked player
    h1: float,
    out: FloatArray,
    start: int,  # the pairs of blocks [start, stop) of block_pairs(n)
    stop: int,
) -> None:
    """c(S) = sum alone - reach - max(0, together, apart) for the coalitions of block pairs [start, stop).

    Per S: together = sum_k P_k(S) - H(|S|), and when the rest T = N \\ S runs a commons (at least
    two of it pool and sum_k P_k(T) exceeds its overhead), per spilled term k at the rest's level
    X = d_F, F = F_k(T), with A the players before F: S reads reach_k = u (X e(S & A) +
    sum_{S - A} e_i d_i), its pooled layers below X, u (P(S) - P(S & A) + X (e(S & A) - K)+), leave
    together, and apart's linear members read the same with their margins. A kinked member's
    commons of one is max(0, base_i - sum_k u margin_ki min(d_ki, X_k) - H(1)).

    Blocks of 2^LOW_BITS coalitions share their high bits; block i is paired with its mirror, the
    block of its coalitions' complements, so sum_k P_k is read once per coalition and serves both
    as its own value and as its complement's rest (_cost_block).
    """
    terms = len(unit_cost)
    lb = min(LOW_BITS, n)
    nl = 1 << lb
    nh = 1 << (n - lb)
    spilling = False
    for k in range(terms):
        if spill[k] > 0.0:
            spilling = True
    work = np.empty((6, nl))
    runs = np.zeros((nl, 2), dtype=np.bool_)
    own_a = np.empty(nl)
    own_m = np.empty(nl)
    rest_a = np.empty(nl)
    rest_m = np.empty(nl)
    at_level = np.empty((n, 8))
    level_low = np.empty((n, 2), dtype=np.int64)
    level = np.zeros(terms)
    for i in range(start, stop):
        base_a = i << lb
        base_m = (nh - 1 - i) << lb  # the mirror block: base_m + lo is the complement of base_a + (nl - 1 - lo)
        for lo in range(nl):
            pa = 0.0
            pm = 0.0
            for k in range(terms):
                pa += term_pool[k, base_a + lo]
                pm += term_pool[k, base_m + lo]
            own_a[lo] = pa
            own_m[lo] = pm
        for lo in range(nl):
            rest_a[lo] = own_m[nl - 1 - lo]
            rest_m[lo] = own_a[nl - 1 - lo]
        _cost_block(
            n, lb, base_a, own_a, rest_a, demand, gain, prefix, unit_cost, spill, term_pool, first, halves,
            low_t, high_t, overhead_by_size, spilling, apart_possible, kinked, kinked_base, h1, out, work, runs,
            at_level, level_low, level,
        )  # fmt: skip
        if base_m != base_a:  # else one block is its own mirror (n <= LOW_BITS)
            _cost_block(
                n, lb, base_m, own_m, rest_m, demand, gain, prefix, unit_cost, spill, term_pool, first, halves,
                low_t, high_t, overhead_by_size, spilling, apart_possible, kinked, kinked_base, h1, out, work, runs,
                at_level, level_low, level,
            )  # fmt: skip
    if start == 0:
        out[0] = 0.0
