"""Stability in every Monte Carlo draw: is each rule's allocation in the core of that draw's game?

Per draw (up to MAX_DRAW_PLAYERS members, where the game's table of all 2^n coalition costs is
built anyway for the exact rules), for every rule's allocation x:

1. excess e(S) = x(S) - c(S) for every proper coalition at once (subset sums over the table);
   the draw's largest excess, and up to BLOCKERS_PER_DRAW coalitions with a positive excess
   (the largest first): the groups that would rather leave;
2. in the core when the largest excess is at most the tolerance and x sums to c(N).

Once per draw, for the game itself: the least-core epsilon (an LP whose working set starts from
the coalitions tight at central parameters, see rules.nucleolus.least_core_epsilon_warm; the
least-core rule's own LP gives it when that rule is run); the core is non-empty when it is at
most the tolerance.

`summarize` merges the per-draw arrays of all chunks into probabilities with their binomial
standard errors sqrt(p (1 - p) / D), P10/P50/P90 bands and the coalitions that block most often.
A coalition's frequency counts the draws in which it is among that draw's BLOCKERS_PER_DRAW
largest blockers, so it is a lower bound on how often it blocks when more groups than that block
at once (docs/model.md, section 6).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._bits import FloatArray, subset_sums
from .games import ExplicitGame
from .rules.nucleolus import least_core_epsilon_warm

MAX_DRAW_PLAYERS = 20
BLOCKERS_PER_DRAW = 8
REPORTED_BLOCKERS = 5
METHOD_EXHAUSTIVE = "every proper coalition of every draw checked (all 2^n coalition costs)"


def tolerance(grand_cost: float, standalone: FloatArray) -> float:
    """The tolerance of a core check, the same as the central check's (stability._tolerance)."""
    top = float(np.abs(standalone).max()) if len(standalone) else 0.0
    return 1e-9 * max(1.0, abs(grand_cost), top)


@dataclass
class WarmStart:
    """Seeds of a draw's LPs: tight coalitions of the least-core epsilon LP and of the nucleolus
    (fixed and positive-dual coalitions of every stage); montecarlo.central_warm_start takes them
    at central parameters."""

    least_core: np.ndarray | None = None
    nucleolus: np.ndarray | None = None


@dataclass(frozen=True)
class DrawCheck:
    """One draw: per rule the largest excess, in-core flag and blockers; the least-core epsilon."""

    max_excess: FloatArray  # (R,)
    in_core: np.ndarray  # (R,) bool
    blockers: np.ndarray  # (R, BLOCKERS_PER_DRAW) masks, -1 where fewer block
    blocker_excess: FloatArray  # (R, BLOCKERS_PER_DRAW), NaN where fewer block
    epsilon: float


def check_draw(
    table: ExplicitGame, allocations: FloatArray, warm: WarmStart, epsilon: float | None = None
) -> DrawCheck:
    """Check every rule's allocation (rows of `allocations`) against the core of `table`; a known
    least-core `epsilon` of the table (from the least-core rule) spares its LP."""
    n = table.n
    rules = allocations.shape[0]
    grand = table.grand_cost()
    tol = tolerance(grand, table.standalone())
    max_excess = np.zeros(rules)
    in_core = np.ones(rules, dtype=bool)
    blockers = np.full((rules, BLOCKERS_PER_DRAW), -1, dtype=np.int64)
    blocker_excess = np.full((rules, BLOCKERS_PER_DRAW), np.nan)
    if n == 1:
        return DrawCheck(max_excess, in_core, blockers, blocker_excess, 0.0)
    for r in range(rules):
        x = allocations[r]
        excess = subset_sums(x)
        excess -= table.costs
        excess[0] = excess[-1] = -np.inf
        positive = np.flatnonzero(excess > tol)
        if positive.size > BLOCKERS_PER_DRAW:
            positive = positive[np.argpartition(excess[positive], -BLOCKERS_PER_DRAW)[-BLOCKERS_PER_DRAW:]]
        positive = positive[np.argsort(-excess[positive], kind="stable")]
        max_excess[r] = float(excess[positive[0]]) if positive.size else float(excess.max())
        efficient = abs(float(x.sum()) - grand) <= tol * n
        in_core[r] = efficient and not positive.size
        blockers[r, : positive.size] = positive
        blocker_excess[r, : positive.size] = excess[positive]
    if epsilon is None:
        epsilon, _, _ = least_core_epsilon_warm(table, warm.least_core)
    return DrawCheck(max_excess, in_core, blockers, blocker_excess, float(epsilon))


@dataclass(frozen=True)
class BlockingGroup:
    """A coalition that would rather leave in some draws: how often (share of draws, with its
    standard error) and by how much (its gain from leaving, median and largest, in money)."""

    members: tuple[str, ...]
    share: float
    share_stderr: float
    gain_p50: float
    gain_max: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "members": list(self.members),
            "share": self.share,
            "share_stderr": self.share_stderr,
            "gain_p50": self.gain_p50,
            "gain_max": self.gain_max,
        }


@dataclass(frozen=True)
class DrawStability:
    """Stability of one rule over the Monte Carlo draws (see the module docstring)."""

    draws: int
    prob_in_core: float
    prob_in_core_stderr: float
    prob_core_nonempty: float
    prob_core_nonempty_stderr: float
    max_excess_p10: float
    max_excess_p50: float
    max_excess_p90: float
    least_core_epsilon_p10: float
    least_core_epsilon_p50: float
    least_core_epsilon_p90: float
    blocking: tuple[BlockingGroup, ...]
    method: str = METHOD_EXHAUSTIVE

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in vars(self).items() if k != "blocking"}
        out["blocking"] = [group.to_dict() for group in self.blocking]
        return out


def proportion(hits: int, total: int) -> tuple[float, float]:
    """A share and its binomial standard error sqrt(p (1 - p) / total); NaN for no draws."""
    if total <= 0:
        return float("nan"), float("nan")
    p = hits / total
    return p, float(np.sqrt(p * (1.0 - p) / total))


def _bands(values: FloatArray) -> tuple[float, float, float]:
    if not len(values):
        return float("nan"), float("nan"), float("nan")
    q = np.percentile(values, [10, 50, 90])
    return float(q[0]), float(q[1]), float(q[2])


def summarize(
    players: Sequence[str],
    max_excess: FloatArray,
    in_core: np.ndarray,
    blockers: np.ndarray,
    blocker_excess: FloatArray,
    epsilon: FloatArray,
    tolerances: FloatArray,
) -> DrawStability:
    """One rule over D draws: max_excess, in_core (D,), blockers (D, K), epsilon, tolerances (D,)."""
    draws = len(max_excess)
    p_core, se_core = proportion(int(np.count_nonzero(in_core)), draws)
    p_nonempty, se_nonempty = proportion(int(np.count_nonzero(epsilon <= tolerances)), draws)
    flat = blockers.reshape(-1)
    gains = blocker_excess.reshape(-1)
    keep = flat >= 0
    groups: list[BlockingGroup] = []
    if keep.any():
        masks, inverse, counts = np.unique(flat[keep], return_inverse=True, return_counts=True)
        kept_gains = gains[keep]
        medians = np.array([np.median(kept_gains[inverse == j]) for j in range(len(masks))])
        order = np.lexsort((-medians, -counts))[:REPORTED_BLOCKERS]
        n = len(players)
        for j in order:
            mask = int(masks[j])
            share, stderr = proportion(int(counts[j]), draws)
            groups.append(
                BlockingGroup(
                    members=tuple(players[i] for i in range(n) if (mask >> i) & 1),
                    share=share,
                    share_stderr=stderr,
                    gain_p50=float(medians[j]),
                    gain_max=float(kept_gains[inverse == j].max()),
                )
            )
    ex = _bands(max_excess)
    eps = _bands(epsilon)
    return DrawStability(
        draws=draws,
        prob_in_core=p_core,
        prob_in_core_stderr=se_core,
        prob_core_nonempty=p_nonempty,
        prob_core_nonempty_stderr=se_nonempty,
        max_excess_p10=ex[0],
        max_excess_p50=ex[1],
        max_excess_p90=ex[2],
        least_core_epsilon_p10=eps[0],
        least_core_epsilon_p50=eps[1],
        least_core_epsilon_p90=eps[2],
        blocking=tuple(groups),
    )
