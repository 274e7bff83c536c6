"""Rules computed from stand-alone and separable costs only.

Separable cost of i: SC_i = c(N) - c(N minus i); non-separable cost NSC = c(N) - sum SC.
- proportional: c(N) split in proportion to stand-alone costs c({i}).
- weighted: c(N) split in proportion to given weights.
- equal: c(N) / n each.
- ensc (equal split of non-separable costs): SC_i + NSC / n.
- scrb (separable costs remaining benefits; Young 1985, Straffin & Heaney 1981):
  SC_i + NSC r_i / sum r, with remaining benefit r_i = c({i}) - SC_i.
"""

from __future__ import annotations

import numpy as np

from .._bits import FloatArray
from ..errors import EngineError
from ..games import ExplicitGame, Game, StructuredGame


def costs_without_each(game: Game) -> FloatArray:
    n = game.n
    if isinstance(game, ExplicitGame):
        full = (1 << n) - 1
        return np.array([game.costs[full ^ (1 << i)] for i in range(n)], dtype=np.float64)
    if isinstance(game, StructuredGame):
        return game.costs_without_each()
    return game.costs_of(~np.eye(n, dtype=bool))


def _share(total: float, weights: FloatArray, what: str) -> FloatArray:
    if (weights < 0).any():
        raise EngineError(f"{what} must be non-negative")
    s = float(weights.sum())
    if s <= 0 and total == 0.0:
        return np.zeros(len(weights))  # nothing to share
    if s <= 0:
        raise EngineError(f"{what} sum to zero, so they cannot split the cost")
    return np.asarray(total * weights / s, dtype=np.float64)


def proportional(game: Game) -> FloatArray:
    return _share(game.grand_cost(), game.standalone(), "stand-alone costs")


def weighted(game: Game, weights: FloatArray) -> FloatArray:
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (game.n,) or not np.isfinite(w).all():
        raise EngineError(f"weighted rule needs {game.n} finite weights, one per player")
    return _share(game.grand_cost(), w, "weights")


def equal(game: Game) -> FloatArray:
    return np.full(game.n, game.grand_cost() / game.n)


def separable_costs(game: Game) -> tuple[FloatArray, float]:
    if game.n == 1:
        return np.array([game.grand_cost()]), 0.0
    sc = game.grand_cost() - costs_without_each(game)
    return sc, game.grand_cost() - float(sc.sum())


def ensc(game: Game) -> FloatArray:
    sc, nsc = separable_costs(game)
    return sc + nsc / game.n


def scrb(game: Game) -> FloatArray:
    sc, nsc = separable_costs(game)
    remaining = game.standalone() - sc
    total = float(remaining.sum())
    if abs(total) <= 1e-12 * max(1.0, float(np.abs(game.standalone()).max())):
        return sc + nsc / game.n
    return sc + nsc * remaining / total
