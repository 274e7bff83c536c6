"""Stability of an allocation: core membership, the most blocking coalition, the least-core epsilon.

Excess convention: e(S, x) = x(S) - c(S). A positive excess means S pays more under x than on its
own, so S would rather leave; x is in the core when x(N) = c(N) and no excess is positive.

Up to MAX_ENUMERATED_PLAYERS every coalition is checked (exhaustive). Beyond that, on structured
games, the largest excess over coalitions of size 2 .. n-1 is found exactly by a mixed-integer
program on the model's structure (HiGHS):
    maximize sum_i (x_i - a_i) z_i - sum_k P_k t_k - overhead(sum z)
    subject to t_k >= D_ki z_i for all k, i;  2 <= sum z <= n - 1;  z binary,
with the convex overhead written as its piecewise-linear epigraph; singletons are checked directly.
The check is exhaustive when HiGHS proves optimality. The least-core epsilon then comes from a
cutting-plane LP whose separation step is the same program.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from ._bits import FloatArray, subset_sums
from .commons import CommonsGame
from .errors import EngineError, TooLargeError
from .games import ExplicitGame, Game, StructuredGame
from .rules.nucleolus import least_core_epsilon
from .separation import commons_max_excess_milp

MAX_ENUMERATED_PLAYERS = 20
LEAST_CORE_SECONDS = 5.0
MILP_SECONDS = 20.0


@dataclass(frozen=True)
class Stability:
    in_core: bool
    individually_rational: bool
    blocking_coalition: tuple[str, ...] | None
    max_excess: float
    least_core_epsilon: float
    exhaustive: bool
    method: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "in_core": self.in_core,
            "individually_rational": self.individually_rational,
            "blocking_coalition": list(self.blocking_coalition) if self.blocking_coalition else None,
            "max_excess": self.max_excess,
            "least_core_epsilon": self.least_core_epsilon,
            "exhaustive": self.exhaustive,
            "method": self.method,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Stability:
        values = dict(data)
        if values.get("blocking_coalition") is not None:
            values["blocking_coalition"] = tuple(values["blocking_coalition"])
        return cls(**values)


def _tolerance(game: Game) -> float:
    return 1e-9 * max(1.0, abs(game.grand_cost()), float(np.abs(game.standalone()).max()))


def check_stability(game: Game, x: FloatArray | Any, *, least_core: bool = True) -> Stability:
    """Is `x` (allocated costs, one per player) in the core of `game`? See module docstring."""
    alloc = np.asarray(x, dtype=np.float64).reshape(-1)
    if alloc.shape != (game.n,):
        raise EngineError(f"the allocation needs {game.n} values, got {alloc.size}")
    if not np.isfinite(alloc).all():
        raise EngineError("the allocation has a non-finite value")
    tol = _tolerance(game)
    rational = bool((alloc <= game.standalone() + tol).all())
    efficient = abs(alloc.sum() - game.grand_cost()) <= tol * max(1, game.n)
    if game.n <= MAX_ENUMERATED_PLAYERS:
        explicit = game.to_explicit()
        mask, excess = _max_excess_enumerated(explicit, alloc)
        eps = least_core_epsilon(explicit)[0] if least_core else float("nan")
        exhaustive, method = True, f"all {(1 << game.n) - 2} proper coalitions enumerated"
    elif isinstance(game, StructuredGame):
        mask, excess, exhaustive = _max_excess_structured(game, alloc)
        eps, eps_note = (
            _least_core_cutting(game, excess, _max_excess_structured) if least_core else (float("nan"), None)
        )
        method = (
            "exact mixed-integer search over the model's structure (HiGHS), singletons directly"
            if exhaustive
            else "mixed-integer search stopped before proving optimality: the blocking check "
            "is a lower bound, not a proof"
        )
        if eps_note:
            method += "; " + eps_note
    elif isinstance(game, CommonsGame):
        mask, excess, exhaustive = _max_excess_commons(game, alloc)
        eps, eps_note = _least_core_cutting(game, excess, _max_excess_commons) if least_core else (float("nan"), None)
        if exhaustive:
            method = "exact mixed-integer search over the commons game's structure (HiGHS), singletons directly"
        elif excess > tol:
            method = (
                "a blocking coalition found by local search proves the verdict; the largest excess may be "
                "larger than the one reported (with spillover the exact program runs only when the search "
                "finds no blocker)"
            )
        else:
            method = (
                "mixed-integer search stopped before proving optimality: the blocking check "
                "is a lower bound, not a proof"
            )
        if eps_note:
            method += "; " + eps_note
    else:
        raise TooLargeError(
            f"a core check of a {game.n}-player game needs the model's structure or n <= {MAX_ENUMERATED_PLAYERS}"
        )
    blocking = None
    if excess > tol and mask is not None:
        blocking = tuple(p for i, p in enumerate(game.players) if mask[i])
    # Without an exhaustive search no blocking coalition found is not a proof of core membership.
    in_core = efficient and excess <= tol and exhaustive
    return Stability(
        in_core=bool(in_core),
        individually_rational=rational,
        blocking_coalition=blocking,
        max_excess=float(excess),
        least_core_epsilon=float(eps),
        exhaustive=exhaustive,
        method=method if efficient else method + "; the allocation does not sum to c(N)",
    )


# How many singletons the local search starts from (stability._max_excess_searched).
SEARCH_STARTS = 12


def _max_excess_searched(game: CommonsGame, x: FloatArray) -> tuple[np.ndarray | None, float]:
    """Greedy ascent on the excess from SEARCH_STARTS singletons and from the grand coalition.

    From each start, repeatedly flip the one membership that raises x(S) - c(S) most, until no
    flip does; coalitions stay proper (1 <= |S| <= n - 1). O(n^2) coalitions per step, batched.
    The singletons are those of largest excess x_i - c({i}) (every one up to SEARCH_STARTS
    players): starting from all 200 of a 200-member draw took 100 s a search (a per-draw
    least-core bracket ran three, 527 s a draw, measured), and a blocker the search misses is
    still found by the exact program that follows it.
    """
    n = game.n
    own = np.asarray(x, dtype=np.float64) - game.standalone()
    chosen = np.sort(np.argsort(-own, kind="stable")[:SEARCH_STARTS])
    starts = [np.eye(n, dtype=bool)[i] for i in chosen] + [np.ones(n, dtype=bool)]
    best_mask: np.ndarray | None = None
    best = -np.inf
    flips = np.eye(n, dtype=bool)
    tol = _tolerance(game)
    for start in starts:
        current = start.copy()
        if current.all():
            candidates = ~flips
            values = candidates.astype(np.float64) @ x - game.costs_of(candidates)
            current = candidates[int(np.argmax(values))].copy()
        value = float(x[current].sum() - game.costs_of(current[None, :])[0])
        for _ in range(4 * n):
            candidates = current[None, :] ^ flips
            sizes = candidates.sum(axis=1)
            ok = (sizes >= 1) & (sizes <= n - 1)
            if not ok.any():
                break
            values = np.where(ok, candidates.astype(np.float64) @ x - game.costs_of(candidates), -np.inf)
            j = int(np.argmax(values))
            if values[j] <= value + tol:
                break
            current, value = candidates[j].copy(), float(values[j])
        if value > best:
            best, best_mask = value, current.copy()
    return best_mask, best


def _max_excess_enumerated(game: ExplicitGame, x: FloatArray) -> tuple[np.ndarray | None, float]:
    n = game.n
    if n == 1:
        return None, 0.0
    excess = subset_sums(x) - game.costs
    excess[0] = excess[-1] = -np.inf
    mask = int(np.argmax(excess))
    return ((mask >> np.arange(n)) & 1).astype(bool), float(excess[mask])


def _structure_milp(
    game: StructuredGame, gain: FloatArray, *, time_limit: float = MILP_SECONDS
) -> tuple[np.ndarray | None, bool]:
    """Coalition maximizing, over 2 <= |S| <= n-1 of gain(S) - airport terms - overhead(|S|) (see module docstring)."""
    n, k = game.n, len(game.airport_prices)
    if (game.airport_prices < 0).any():
        raise EngineError("the structured core check needs non-negative airport prices")
    h = game.overhead(np.arange(n + 1, dtype=np.float64))
    linear = bool(np.allclose(np.diff(h[1:], 2), 0.0))
    nvar = n + k + (0 if linear else 1)
    objective = np.zeros(nvar)  # milp minimizes
    objective[:n] = -gain
    objective[n : n + k] = game.airport_prices
    rows: list[FloatArray] = []
    lower: list[float] = []
    upper: list[float] = []
    for kk in range(k):
        block = np.zeros((n, nvar))
        block[np.arange(n), np.arange(n)] = game.airport_demands[kk]
        block[:, n + kk] = -1.0
        rows.extend(block)
        lower.extend([-np.inf] * n)
        upper.extend([0.0] * n)
    size = np.zeros(nvar)
    size[:n] = 1.0
    rows.append(size)
    lower.append(2.0)
    upper.append(n - 1.0)
    if linear:
        objective[:n] += h[2] - h[1]
    else:
        for m in range(1, n):
            slope = h[m + 1] - h[m]
            row = np.zeros(nvar)
            row[:n] = slope
            row[-1] = -1.0
            rows.append(row)
            lower.append(-np.inf)
            upper.append(slope * m - h[m])
        objective[-1] = 1.0
    integrality = np.zeros(nvar)
    integrality[:n] = 1
    lb = np.zeros(nvar)
    ub = np.full(nvar, np.inf)
    ub[:n] = 1.0
    if not linear:
        lb[-1] = -np.inf
    res = milp(
        objective,
        constraints=LinearConstraint(np.array(rows), lower, upper),
        integrality=integrality,
        bounds=Bounds(lb, ub),
        options={"mip_rel_gap": 1e-9, "time_limit": time_limit, "disp": False},
    )
    if res.x is None:
        return None, False
    return np.asarray(res.x[:n] > 0.5), bool(res.status == 0)


def _max_excess_structured(game: StructuredGame, x: FloatArray) -> tuple[np.ndarray | None, float, bool]:
    n = game.n
    single = x - game.standalone()
    best_i = int(np.argmax(single))
    members, optimal = _structure_milp(game, x - game.additive)
    value = -np.inf
    if members is not None:
        value = float(x[members].sum() - game.costs_of(members[None, :])[0])
    if members is None or single[best_i] >= value:
        flags = np.zeros(n, dtype=bool)
        flags[best_i] = True
        return flags, float(single[best_i]), optimal
    return members, value, optimal


def _max_excess_commons(game: CommonsGame, x: FloatArray) -> tuple[np.ndarray | None, float, bool]:
    """Largest excess: singletons directly, members apart in closed form and the separation MILP
    (one joint commons without spillover, every arrangement with it: separation.py).

    Without spillover, apart(S) is additive (each member's commons of one, where it pays), so the best
    coalition apart takes every member whose x_i - c({i}) is positive, kept between 2 and n - 1 members.
    With spillover the program is much slower (seconds from 20 members on), so a greedy local search
    runs first: a coalition it finds with a positive excess (above the tolerance) proves the verdict,
    and is returned, not proven the largest, without the program.
    """
    n = game.n
    single = x - game.standalone()
    order = np.argsort(-single, kind="stable")
    size = int(np.clip((single > 0).sum(), 2, n - 1))
    apart = np.zeros(n, dtype=bool)
    apart[order[:size]] = True
    candidates: list[tuple[np.ndarray, float]] = [(np.eye(n, dtype=bool)[int(order[0])], float(single[order[0]]))]
    if n > 2:
        candidates.append((apart, float(x[apart].sum() - game.costs_of(apart[None, :])[0])))
    if n > 2 and (game.spill > 0).any():
        searched, value = _max_excess_searched(game, x)
        if searched is not None:
            candidates.append((searched, value))
        if max(value for _, value in candidates) > _tolerance(game):
            flags, value = max(candidates, key=lambda item: item[1])
            return flags, value, False
    members, optimal = commons_max_excess_milp(game, x, time_limit=MILP_SECONDS) if n > 2 else (None, True)
    if members is not None:
        candidates.append((members, float(x[members].sum() - game.costs_of(members[None, :])[0])))
    flags, value = max(candidates, key=lambda item: item[1])
    return flags, value, optimal


def least_core_over(game: Game, members: np.ndarray, grand: float) -> tuple[FloatArray, float]:
    """The least-core LP over the given coalitions only (rows of membership flags): min eps such that
    x(S) - c(S) <= eps for those S and x(N) = c(N). Returns (x, eps): eps is a lower bound on the
    game's least-core epsilon, exact once no other coalition's excess exceeds it."""
    n = game.n
    a_ub = np.hstack([members.astype(np.float64), -np.ones((len(members), 1))])
    res = linprog(
        np.r_[np.zeros(n), 1.0],
        A_ub=a_ub,
        b_ub=game.costs_of(members),
        A_eq=np.r_[np.ones(n), 0.0][None, :],
        b_eq=[grand],
        bounds=[(None, None)] * (n + 1),
        method="highs",
    )
    if res.status != 0:
        raise EngineError(f"the least-core linear program failed: {res.message}")
    return np.asarray(res.x[:n], dtype=np.float64), float(res.x[n])


def _least_core_cutting(
    game: Game, known: float, separate: Callable[[Any, FloatArray], tuple[np.ndarray | None, float, bool]]
) -> tuple[float, str | None]:
    """Cutting planes: LP over the cuts found so far, the MILP finds the next violated coalition.

    Returns (epsilon, None) when converged. Otherwise, after LEAST_CORE_SECONDS, returns the best
    upper bound found and a note giving the bracket. `known` is the largest excess of an
    allocation already checked, itself an upper bound; the cut LP's value is a lower bound.
    """
    n = game.n
    cuts: list[np.ndarray] = []
    for i in range(n):
        single = np.zeros(n, dtype=bool)
        single[i] = True
        cuts.extend([single, ~single])
    grand = game.grand_cost()
    started = time.perf_counter()
    lower, upper = -np.inf, known
    while True:
        x, lower = least_core_over(game, np.array(cuts), grand)
        found, value, optimal = separate(game, x)
        if optimal:
            upper = min(upper, max(value, lower))
        if found is None or value <= lower + _tolerance(game):
            # Converged exactly when this last search is proven: earlier cuts are real coalitions
            # whichever search found them.
            return lower, None if optimal else "the separation search was not proven optimal"
        if time.perf_counter() - started > LEAST_CORE_SECONDS:
            return upper, (
                f"least-core epsilon not converged after {LEAST_CORE_SECONDS:g} s: it lies in "
                f"[{lower:.6g}, {upper:.6g}]; the upper end is reported"
            )
        cuts.extend([found, ~found])
