"""Shapley value: exact by enumeration, exact closed form on structured games, or sampled.

Enumeration (any explicit game, O(2^n)):
    phi_i = sum_{S containing i} w1(|S|) c(S) - sum_{S not containing i} w0(|S|) c(S),
    w1(s) = (s-1)!(n-s)!/n!,  w0(s) = s!(n-s-1)!/n!.
    With d(S) = c(S) (w1 + w0)(|S|), phi_i = D_i - B where D_i sums d over the masks containing i
    (one pass, `_kernels.member_sums`) and B = sum_S w0(|S|) c(S) follows from efficiency:
    B = (sum_i D_i - c(N)) / n.

Closed form (structured games, O(K n log n)), by linearity of the Shapley value:
    additive part -> itself; each airport term -> Littlechild & Owen (1973): sort demands,
    the increment between consecutive levels is shared equally by all players at or above it;
    the symmetric overhead -> equal split; the singleton correction game delta_i [S = {i}] ->
    delta_i / n for i and -delta_i / (n (n - 1)) for every other player.

Sampling (Castro, Gomez & Tejada 2009): random permutations, marginal contributions averaged,
standard error from their spread; stops when every standard error is below the tolerance.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from .._bits import FloatArray
from .._kernels import member_sums
from ..games import ExplicitGame, Game, StructuredGame


@lru_cache(maxsize=32)
def _size_weights(n: int) -> FloatArray:
    """(w1 + w0)(s) for s = 0..n, with w1(0) = 0 and w0(n) = 0."""
    out = np.zeros(n + 1)
    lg = math.lgamma
    for s in range(n + 1):
        if s >= 1:
            out[s] += math.exp(lg(s) + lg(n - s + 1) - lg(n + 1))
        if s <= n - 1:
            out[s] += math.exp(lg(s + 1) + lg(n - s) - lg(n + 1))
    out.setflags(write=False)
    return out


def shapley_enumeration(game: ExplicitGame) -> FloatArray:
    n = game.n
    if n == 1:
        return np.array([game.grand_cost()])
    totals, _ = member_sums(game.costs, n, _size_weights(n))
    b = (totals.sum() - game.grand_cost()) / n
    return np.asarray(totals - b, dtype=np.float64)


def airport_shapley(demand: FloatArray) -> FloatArray:
    """Littlechild-Owen: Shapley value of c(S) = max_{i in S} demand_i."""
    n = len(demand)
    order = np.argsort(demand, kind="stable")
    levels = demand[order]
    steps = np.diff(levels, prepend=0.0)
    shares = np.cumsum(steps / (n - np.arange(n)))
    out = np.empty(n)
    out[order] = shares
    return out


def singleton_corrections(game: StructuredGame) -> FloatArray:
    """delta_i = c({i}) minus what the |S| >= 2 formula would give for {i}."""
    formula = game.additive + game.airport_prices @ game.airport_demands + game.overhead(np.ones(1))[0]
    return np.asarray(game.standalone_costs - formula, dtype=np.float64)


def shapley_structured(game: StructuredGame) -> FloatArray:
    n = game.n
    if n == 1:
        return game.standalone_costs.copy()
    phi = game.additive.copy()
    for price, demand in zip(game.airport_prices, game.airport_demands, strict=True):
        phi += price * airport_shapley(demand)
    phi += game.overhead(np.array([float(n)]))[0] / n
    delta = singleton_corrections(game)
    phi += delta / n - (delta.sum() - delta) / (n * (n - 1))
    return phi


def shapley_sampling(
    game: Game,
    rng: np.random.Generator,
    *,
    tolerance: float,
    batch: int = 256,
    max_permutations: int = 100_000,
) -> tuple[FloatArray, FloatArray, int]:
    """Permutation sampling; returns (estimate, standard errors, permutations used).

    Stopping rule: after each batch, stop when the largest standard error is at most
    `tolerance` or `max_permutations` have been drawn (at least two batches always).
    """
    n = game.n
    chunks: list[FloatArray] = []
    used = 0
    positions = np.arange(1, n + 1)
    while True:
        perms = np.argsort(rng.random((batch, n)), axis=1)
        rank = np.empty_like(perms)
        np.put_along_axis(rank, perms, np.arange(n)[None, :].repeat(batch, 0), axis=1)
        # members[b, t, i]: player i is among the first t + 1 players of permutation b.
        members = rank[:, None, :] < positions[None, :, None]
        costs = game.costs_of(members.reshape(batch * n, n)).reshape(batch, n)
        marginal_by_pos = np.diff(costs, axis=1, prepend=0.0)
        marginals = np.take_along_axis(marginal_by_pos, rank, axis=1)
        chunks.append(marginals)
        used += batch
        if used >= 2 * batch:
            data = np.concatenate(chunks)
            stderr = data.std(axis=0, ddof=1) / math.sqrt(len(data))
            if stderr.max() <= tolerance or used >= max_permutations:
                return data.mean(axis=0), stderr, used
