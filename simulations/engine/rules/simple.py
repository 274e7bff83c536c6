"""Rules computed from stand-alone, separable and private costs only.

Each member keeps its private costs p_i (what it pays itself in the grand coalition: its final
run, research it does in house, absorption); the key-based rules split only the joint costs
J = c(N) - sum p (the commons and the overhead). For a game without private costs (a custom
table) J is all of c(N).
- proportional: p_i + J c({i}) / sum c({j}).
- weighted: p_i + J w_i / sum w.
- equal: p_i + J / n.
- ensc (equal split of the non-separable joint costs): separable joint cost sj_i = SC_i - p_i
  (floored at 0), SC_i = c(N) - c(N minus i); p_i + sj_i + (J - sum sj) / n, or, when the separable
  joint costs exceed J, p_i + J sj_i / sum sj.
- scrb (separable costs remaining benefits; Young 1985, Straffin & Heaney 1981):
  SC_i + NSC r_i / sum r, with remaining benefit r_i = max(0, c({i}) - SC_i) and NSC = c(N) - sum SC;
  when every remaining benefit is 0, NSC goes by each member's stake c({i}) - p_i (floored at 0),
  and equally only if nobody has a stake.
"""

from __future__ import annotations

import numpy as np

from .._bits import FloatArray
from ..commons import CommonsGame
from ..errors import EngineError
from ..games import ExplicitGame, Game, StructuredGame


def costs_without_each(game: Game) -> FloatArray:
    n = game.n
    if isinstance(game, ExplicitGame):
        full = (1 << n) - 1
        return np.array([game.costs[full ^ (1 << i)] for i in range(n)], dtype=np.float64)
    if isinstance(game, StructuredGame | CommonsGame):
        return game.costs_without_each()
    return game.costs_of(~np.eye(n, dtype=bool))


def private_costs(game: Game) -> FloatArray:
    """p_i: what each member pays itself in the grand coalition (0 for a plain table of c(S))."""
    if isinstance(game, CommonsGame):
        return game.private_costs()
    if isinstance(game, StructuredGame):
        return game.additive.copy()
    return np.zeros(game.n)


def _joint(game: Game) -> tuple[FloatArray, float]:
    private = private_costs(game)
    return private, game.grand_cost() - float(private.sum())


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
    private, joint = _joint(game)
    return private + _share(joint, np.maximum(game.standalone(), 0.0), "stand-alone costs")


def weighted(game: Game, weights: FloatArray) -> FloatArray:
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (game.n,) or not np.isfinite(w).all():
        raise EngineError(f"weighted rule needs {game.n} finite weights, one per player")
    private, joint = _joint(game)
    return private + _share(joint, w, "weights")


def equal(game: Game) -> FloatArray:
    private, joint = _joint(game)
    return private + joint / game.n


def separable_costs(game: Game) -> tuple[FloatArray, float]:
    if game.n == 1:
        return np.array([game.grand_cost()]), 0.0
    sc = game.grand_cost() - costs_without_each(game)
    return sc, game.grand_cost() - float(sc.sum())


def ensc(game: Game) -> FloatArray:
    sc, _ = separable_costs(game)
    private, joint = _joint(game)
    separable = np.maximum(sc - private, 0.0)
    total = float(separable.sum())
    if total > joint and total > 0:
        return private + _share(joint, separable, "separable joint costs")
    return private + separable + (joint - total) / game.n


def scrb(game: Game) -> FloatArray:
    sc, nsc = separable_costs(game)
    standalone = game.standalone()
    remaining = np.maximum(standalone - sc, 0.0)
    total = float(remaining.sum())
    if abs(total) <= 1e-12 * max(1.0, float(np.abs(standalone).max())):
        # No remaining benefits to share by: share by what each stands to save on the joint costs
        # (c({i}) - p_i), so a member with nothing at stake (a null player) gets none of it.
        stake = np.maximum(standalone - private_costs(game), 0.0)
        if float(stake.sum()) <= 0:
            return sc + nsc / game.n
        return sc + nsc * stake / float(stake.sum())
    return sc + nsc * remaining / total
