"""Banzhaf value, normalized to share c(N).

Raw value beta_i = 2^-(n-1) sum_{S not containing i} (c(S + i) - c(S))
                 = (2 sum_{S containing i} c(S) - sum_S c(S)) / 2^(n-1)   (one halving pass).
On structured games it is linear too: an airport term gives player k (demands sorted)
sum_{j <= k} step_j 2^-(n-j); the symmetric overhead gives everyone the binomially weighted
mean increment; the singleton correction gives (2 delta_i - sum delta) / 2^(n-1).
The normalized value is beta / sum(beta) * c(N) (Dubey & Shapley 1979; van den Brink & van der
Laan 1998).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binom

from .._bits import FloatArray
from .._kernels import member_sums
from ..errors import EngineError
from ..games import ExplicitGame, StructuredGame
from .shapley import singleton_corrections


def banzhaf_raw_enumeration(game: ExplicitGame) -> FloatArray:
    n = game.n
    totals, everything = member_sums(game.costs, n, np.ones(n + 1))
    return np.asarray((2.0 * totals - everything) / 2.0 ** (n - 1), dtype=np.float64)


def airport_banzhaf(demand: FloatArray) -> FloatArray:
    n = len(demand)
    order = np.argsort(demand, kind="stable")
    steps = np.diff(demand[order], prepend=0.0)
    shares = np.cumsum(steps * np.exp2(-(n - 1 - np.arange(n, dtype=np.float64))))
    out = np.empty(n)
    out[order] = shares
    return out


def banzhaf_raw_structured(game: StructuredGame) -> FloatArray:
    n = game.n
    beta = game.additive.copy()
    for price, demand in zip(game.airport_prices, game.airport_demands, strict=True):
        beta += price * airport_banzhaf(demand)
    sizes = np.arange(n, dtype=np.float64)
    increments = game.overhead(sizes + 1.0) - game.overhead(sizes)
    beta += float(binom.pmf(np.arange(n), n - 1, 0.5) @ increments)
    delta = singleton_corrections(game)
    beta += (2.0 * delta - delta.sum()) * 2.0 ** -(n - 1)
    return beta


def normalize(raw: FloatArray, grand_cost: float) -> FloatArray:
    total = float(raw.sum())
    if abs(total) <= 1e-12 * max(1.0, float(np.abs(raw).max())):
        if grand_cost == 0.0 and not raw.any():
            return np.zeros_like(raw)  # nothing to share
        raise EngineError("the Banzhaf values sum to zero, so they cannot be normalized to c(N)")
    return np.asarray(raw * (grand_cost / total), dtype=np.float64)
