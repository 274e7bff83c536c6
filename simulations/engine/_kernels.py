"""Compiled enumeration of all 2^n coalitions of the commons game (numba).

Why compiled: the numpy recursion CommonsGame.to_explicit used before made about thirty passes
over 2^n-float arrays per term (research area) and four random gathers into natural bit order;
at 20 players it was bound by memory traffic (0.42 s per table on the 20-lab bench scenario, about
two thirds of a Monte Carlo draw). Here each term is one walk over the memberships in the term's
descending-demand order: the first positions depth first (one path's running sums in
registers), the last SUFFIX_BITS positions for all their 2^SUFFIX_BITS patterns at once in small
arrays that stay in cache, writing the outputs in walk order; one gather per term then puts
them in natural bit order. Measured on that scenario in one process, the table takes half the
time the numpy recursion took (bench/engine prints the current figure). The kernels release the
GIL (nogil), so threads can build several tables at once (the membership advisor does).

The walk follows the definitions (docs/model.md, section 3; commons.py's module docstring): with
members sorted by the term's demand, layer j pays (E_j(S) - K)+ per hour of its width d_j -
d_{j+1}, and the rest T = N \\ S pools from the first position F at which its own cumulative gain
exceeds K, so S reads up to X = d_F. The tests compare the table with costs_of on every coalition.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from ._bits import BoolArray, FloatArray

SUFFIX_BITS = 12
# From this many players a table walks the next term on a second thread while it gathers this one.
PIPELINE_PLAYERS = 16

_walker: tuple[int, ThreadPoolExecutor] | None = None


def walker() -> ThreadPoolExecutor:
    """This process's one-thread pool for commons_term (made anew after a fork: a pool's thread does
    not survive into a forked worker)."""
    global _walker
    if _walker is None or _walker[0] != os.getpid():
        _walker = (os.getpid(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="commons-walk"))
    return _walker[1]


@njit(cache=True, nogil=True)
def commons_term(
    n: int,
    d: FloatArray,  # demands, sorted descending
    e: FloatArray,  # gains, same order
    m: FloatArray,  # margins of the "linear" members, same order (zeros when none)
    unit_cost: float,
    spill: bool,
    out: FloatArray,  # (4, 2^n) in walk order: P, reach, unread, below (without u)
    level: FloatArray,  # X in walk order, written when track_level
    track_level: bool,
) -> None:
    """One term's values for every membership, indexed in walk order: with h = n - SUFFIX_BITS
    (at least 0), position j (in descending demand) is bit n - 1 - j for j < h and bit j - h
    after (walk_bits gives each player's bit).

    out[0] = P(S) = sum_j width_j (E_j(S) - K)+
    out[1] = sum_{i in S} e_i min(d_i, X), out[2] the same with m, out[3] = P(S) - P_{F-1}(S)
    (S's layers below X), all zero when the rest pools nothing of the term; level = X (0 then).
    """
    b = min(SUFFIX_BITS, n)
    h = n - b
    width = np.empty(n)
    for j in range(n):
        width[j] = d[j] - (d[j + 1] if j + 1 < n else 0.0)
    block = 1 << b
    es = np.empty(block)
    ems = np.empty(block)
    et = np.empty(block)
    fd = np.empty(block)  # 1.0 once the rest pools, else 0.0
    x = np.empty(block)
    esf = np.empty(block)
    emf = np.empty(block)
    pf = np.empty(block)
    ed = np.empty(block)
    md = np.empty(block)
    p = np.empty(block)
    for top in range(1 << h):
        # The path of the first h positions: scalar running sums.
        s_es = 0.0
        s_ems = 0.0
        s_et = 0.0
        s_fd = 0.0
        s_x = 0.0
        s_esf = 0.0
        s_emf = 0.0
        s_pf = 0.0
        s_ed = 0.0
        s_md = 0.0
        s_p = 0.0
        for j in range(h):
            if (top >> (h - 1 - j)) & 1:
                s_es += e[j]
                s_ems += m[j]
                s_ed += s_fd * e[j] * d[j]
                s_md += s_fd * m[j] * d[j]
            elif spill:
                s_et += e[j]
                if s_fd == 0.0 and s_et > unit_cost:
                    s_fd = 1.0
                    s_x = d[j]
                    s_esf = s_es
                    s_emf = s_ems
                    s_pf = s_p
            gain = s_es - unit_cost
            if gain > 0.0:
                s_p += width[j] * gain
        es[0] = s_es
        ems[0] = s_ems
        et[0] = s_et
        fd[0] = s_fd
        x[0] = s_x
        esf[0] = s_esf
        emf[0] = s_emf
        pf[0] = s_pf
        ed[0] = s_ed
        md[0] = s_md
        p[0] = s_p
        # The last b positions, all patterns at once: entry t has children t (position j with the
        # rest) and t + count (position j in S), so suffix position i is bit i of the pattern.
        count = 1
        for j in range(h, n):
            ej = e[j]
            mj = m[j]
            dj = d[j]
            wj = width[j]
            # in S: children t + count, read from t before the in-place pass below
            for t in range(count):
                hi = t + count
                i_es = es[t] + ej
                g1 = i_es - unit_cost
                es[hi] = i_es
                ems[hi] = ems[t] + mj
                et[hi] = et[t]
                fd[hi] = fd[t]
                x[hi] = x[t]
                esf[hi] = esf[t]
                emf[hi] = emf[t]
                pf[hi] = pf[t]
                ed[hi] = ed[t] + fd[t] * ej * dj
                md[hi] = md[t] + fd[t] * mj * dj
                p[hi] = p[t] + (wj * g1 if g1 > 0.0 else 0.0)
            # with the rest: in place
            for t in range(count):
                a_p = p[t]
                g0 = es[t] - unit_cost
                p[t] = a_p + (wj * g0 if g0 > 0.0 else 0.0)
                if spill:
                    o_et = et[t] + ej
                    et[t] = o_et
                    if fd[t] == 0.0 and o_et > unit_cost:
                        fd[t] = 1.0
                        x[t] = dj
                        esf[t] = es[t]
                        emf[t] = ems[t]
                        pf[t] = a_p
            count *= 2
        base = top << b
        for t in range(block):
            r = base + t
            out[0, r] = p[t]
            if spill:
                f = fd[t]
                out[1, r] = f * (x[t] * esf[t] + ed[t])
                out[2, r] = f * (x[t] * emf[t] + md[t])
                out[3, r] = f * (p[t] - pf[t])
                if track_level:
                    level[r] = f * x[t]


def walk_bits(rank: np.ndarray) -> np.ndarray:
    """The walk-order bit (commons_term) of each natural player, from its sorted position."""
    n = len(rank)
    h = n - min(SUFFIX_BITS, n)
    return np.where(rank < h, np.int64(1) << (n - 1 - rank), np.int64(1) << (rank - h)).astype(np.int64)


@njit(cache=True, nogil=True)
def gather_term(
    n: int,
    walk_bit: np.ndarray,  # walk_bit[i]: the walk-order bit of natural player i (int64)
    u: float,
    values: FloatArray,  # (4, 2^n) from commons_term
    pool: FloatArray,  # natural order, accumulated
    reach: FloatArray,
    unread: FloatArray,
    below: FloatArray,
    index: np.ndarray,  # scratch int64, 2^n
) -> None:
    """Accumulate one term into natural bit order: pool += P, and with spillover (u > 0)
    reach, unread and below += u times theirs. `index` ends as the natural-to-walk map."""
    size = 1 << n
    index[0] = 0
    for i in range(n):
        half = 1 << i
        bit = walk_bit[i]
        for t in range(half):
            index[t + half] = index[t] + bit
    # One output at a time: each pass reads one 2^n-float row at random (it stays in cache far
    # better than rows of four values: 11 against 18 ms for four outputs at 20 players, measured).
    for s in range(size):
        pool[s] += values[0, index[s]]
    if u > 0.0:
        for s in range(size):
            reach[s] += u * values[1, index[s]]
        for s in range(size):
            unread[s] += u * values[2, index[s]]
        for s in range(size):
            below[s] += u * values[3, index[s]]


@njit(cache=True, nogil=True)
def commons_combine(
    n: int,
    alone: FloatArray,
    linear_value: FloatArray,  # base_i - H(1) for linear players, else 0
    pool: FloatArray,
    reach: FloatArray,
    unread: FloatArray,
    below: FloatArray,
    overhead_by_size: FloatArray,  # H(s) for s = 0..n
    pooling: BoolArray,  # per player: has anything to pool
    spilling: bool,
    apart_possible: bool,
    extra: FloatArray,  # apart's terms of the kinked members, per S
    has_extra: bool,
    out: FloatArray,
) -> None:
    """c(S) = sum alone - runs reach - max(0, together, apart) for every S: together is the pool
    less what the rest's work makes unnecessary and the overhead; apart the linear members' sum
    less what reading makes unnecessary, plus the kinked members' `extra`. Whether the rest runs
    a commons (`runs`) is read at the complement."""
    size = 1 << n
    sums = np.empty(size)
    lin = np.empty(size)
    sizes = np.empty(size, dtype=np.uint8)
    pooled = np.empty(size, dtype=np.uint8)
    sums[0] = 0.0
    lin[0] = 0.0
    sizes[0] = 0
    pooled[0] = 0
    for i in range(n):
        half = 1 << i
        a = alone[i]
        v = linear_value[i]
        q = 1 if pooling[i] else 0
        for t in range(half):
            s = t + half
            sums[s] = sums[t] + a
            lin[s] = lin[t] + v
            sizes[s] = sizes[t] + 1
            pooled[s] = pooled[t] + q
    last = size - 1
    for s in range(size):
        runs = False
        if spilling:
            c = last - s
            runs = pooled[c] >= 2 and pool[c] > overhead_by_size[pooled[c]]
        cost = sums[s]
        together = pool[s] - overhead_by_size[sizes[s]]
        if runs:
            cost -= reach[s]
            together -= below[s]
        best = together if together > 0.0 else 0.0
        if apart_possible:
            apart = lin[s] - unread[s] if runs else lin[s]
            if has_extra:
                apart += extra[s]
            if apart > best:
                best = apart
        out[s] = cost - best
    out[0] = 0.0


@njit(cache=True, nogil=True)
def runs_at_complement(n: int, pool: FloatArray, overhead_by_size: FloatArray, pooling: BoolArray) -> BoolArray:
    """Whether the rest N minus S runs a commons, for every S (as commons_combine decides it)."""
    size = 1 << n
    pooled = np.zeros(size, dtype=np.int64)
    for i in range(n):
        half = 1 << i
        q = 1 if pooling[i] else 0
        for t in range(half):
            pooled[t + half] = pooled[t] + q
    out = np.zeros(size, dtype=np.bool_)
    last = size - 1
    for s in range(size):
        c = last - s
        out[s] = pooled[c] >= 2 and pool[c] > overhead_by_size[pooled[c]]
    return out

