"""Nucleolus and least core of a cost game by sequential linear programs with constraint generation.

Excess of coalition S at allocation x: e(S, x) = x(S) - c(S) (positive: S pays more than alone).
The nucleolus lexicographically minimizes the sorted vector of excesses (Schmeidler 1969) over
imputations (x(N) = c(N), x_i <= c({i})), or over pre-imputations when no imputation exists.

Steps (Maschler, Peleg & Shapley 1979; constraint generation as in Benedek, Fliege & Nguyen 2021):
1. Stage LP: minimize eps subject to x(S) - c(S) <= eps for the free coalitions, x(B) - c(B) = e_B
   for the fixed basis B, and the domain's bounds. Only a working set of coalitions is written
   into the LP: singletons, their complements and the most violated coalitions so far (between
   stages only the KEEP_ROWS * n of least slack stay).
2. Separation: evaluate every excess (one compiled pass over all 2^n coalitions, _scan.excess_scan:
   a float32 copy of the costs filters, the float64 costs decide); add the most violated free
   coalitions and their complements, and re-solve until none exceeds eps. The restricted
   optimum is then optimal for the full stage LP, and its duals (zero elsewhere) are optimal.
3. Coalitions with a positive dual are tight in every optimal solution: fix their excess at eps,
   keeping only those linearly independent of the basis. Coalitions whose incidence vector now
   lies in the span of the basis have a fixed excess and leave the free set (their LP rows are
   deleted).
4. Repeat until the basis has rank n; then x solves the square system of fixed coalitions.
Each stage raises the rank by at least one, so at most n - 1 stages run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linprog, nnls

from .. import _scan
from .._bits import FloatArray, masks_to_bool, subset_sums
from ..errors import EngineError
from ..games import ExplicitGame
from . import _highs

FEAS_TOL = 1e-9
DUAL_TOL = 1e-8
SPAN_TOL = 1e-7
BATCH = 32
# Between stages, the LP keeps the KEEP_ROWS * n free rows of least slack at the last stage's
# solution (and every singleton and its complement); the others are deleted, and the scan adds any
# back that a later stage violates. At 20 players a draw's rows fell from a median of 364 a solve
# to 214, a solve from 0.46 to 0.32 ms, and a nucleolus from 16.5-16.9 to 14.8-15.2 ms (best of 6
# passes over 40 draws, two runs each); keeping 2n or 4n rows cost more solves than it saved.
KEEP_ROWS = 8


@dataclass
class _Stage:
    x: FloatArray
    eps: float
    masks: np.ndarray
    duals: FloatArray
    lp_solves: int
    bound_duals: FloatArray  # of the upper bounds x_i <= c({i}) (0 where there are none)


class _Problem:
    """A scaled cost game plus the lazily generated working set of coalitions."""

    def __init__(self, game: ExplicitGame, imputation: bool, slack: float = 0.0) -> None:
        n = game.n
        self.n = n
        self.full = (1 << n) - 1
        self.costs = game.costs
        self.scale = max(1.0, float(self.costs.max()), -float(self.costs.min()))
        self._c: FloatArray | None = None
        # c(S) / scale in float32, NOT_FREE where S is not free: all excess_scan reads per coalition
        self._c32 = np.empty(1 << n, dtype=np.float32)
        _scan.costs_to_float32(self.costs, self.scale, self._c32)
        self.free = np.ones(1 << n, dtype=bool)
        self.free[0] = self.free[self.full] = False
        self.in_work = np.zeros(1 << n, dtype=bool)
        self._pending: list[np.ndarray] = []  # work added since the incremental LP last took rows
        singles = np.int64(1) << np.arange(n, dtype=np.int64)
        self._add_work(singles)
        self.x_bounds: list[tuple[float | None, float | None]] = [
            (None, self.cost(1 << i) + slack / self.scale) if imputation else (None, None) for i in range(n)
        ]
        self.eq_rows: list[FloatArray] = [np.ones(n)]
        self.eq_vals: list[float] = [self.cost(self.full)]
        self.q = np.ones((n, 1)) / np.sqrt(n)
        self.lp_solves = 0
        self.basis: list[int] = []  # masks of the fixed coalitions, in the order they were fixed
        self._lp: _highs.IncrementalLP | None = None
        self._row_of: dict[int, int] = {}  # LP row of each coalition's inequality in the incremental LP
        self._lp_keys: list[int] = []  # what each LP row is: a coalition's inequality (its mask), or -1
        self._in_lp = np.zeros(0, dtype=np.int64)  # masks with a live row in the incremental LP
        self._top_idx = np.empty(BATCH, dtype=np.int64)
        self._top_val = np.empty(BATCH)
        self._eq_in_lp = 0
        self._last: tuple[FloatArray, float] | None = None  # the last stage's solution

    @property
    def c(self) -> FloatArray:
        """Every scaled cost c(S) / scale (built on first use: the incremental path reads costs
        one coalition at a time and never needs it)."""
        if self._c is None:
            self._c = self.costs / self.scale
        return self._c

    def cost(self, mask: int) -> float:
        """c(S) / scale of one coalition (the same value as self.c[mask])."""
        return float(self.costs[mask] / self.scale)

    def costs_of(self, masks: np.ndarray) -> FloatArray:
        """c(S) / scale of the given coalitions (the same values as self.c[masks])."""
        return np.asarray(self.costs[masks] / self.scale, dtype=np.float64)

    def _add_work(self, masks: np.ndarray) -> int:
        """Put the coalitions and their complements into the working set; return how many were new."""
        masks = np.asarray(masks, dtype=np.int64)
        both = np.concatenate([masks, self.full ^ masks])
        both = both[~self.in_work[both]]
        self.in_work[both] = True
        self._pending.append(both)
        return len(both)

    def _add_violated(self, masks: np.ndarray) -> None:
        """Add a round's violated coalitions; if all are in the working set already, re-solving
        the same LP would find the same violations, so stop."""
        if self._add_work(masks) == 0:
            raise EngineError("the nucleolus stalled: its violated coalitions are already in its working set")

    def seed_with(self, seed: np.ndarray) -> None:
        """Start the working set from `seed` (coalition masks; the empty and grand ones are dropped)."""
        masks = np.asarray(seed, dtype=np.int64)
        self._add_work(masks[(masks > 0) & (masks < self.full)])

    def seed_from(self, x: FloatArray, count: int) -> None:
        excess = subset_sums(x) - self.c
        excess[~self.free] = -np.inf
        count = min(count, int(self.free.sum()))
        if count > 0:
            self._add_work(np.argpartition(excess, -count)[-count:])

    def solve(self) -> _Stage:
        """Minimize eps over the stage's constraints (incremental HiGHS, or linprog without it)."""
        if _highs.available():
            return self._solve_incremental()
        n = self.n
        eq_a = np.array(self.eq_rows)
        a_eq = np.hstack([eq_a, np.zeros((len(eq_a), 1))])
        b_eq = np.array(self.eq_vals)
        objective = np.zeros(n + 1)
        objective[-1] = 1.0
        bounds = [*self.x_bounds, (None, None)]
        while True:
            masks = np.flatnonzero(self.in_work & self.free)
            members = masks_to_bool(masks, n).astype(np.float64)
            res = linprog(
                objective,
                A_ub=np.hstack([members, -np.ones((len(masks), 1))]),
                b_ub=self.c[masks],
                A_eq=a_eq,
                b_eq=b_eq,
                bounds=bounds,
                method="highs",
                options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
            )
            self.lp_solves += 1
            if res.status != 0:
                raise EngineError(f"the nucleolus linear program failed: {res.message}")
            x = np.asarray(res.x[:n], dtype=np.float64)
            eps = float(res.x[n])
            excess = subset_sums(x) - self.c
            excess[~self.free] = -np.inf
            violated = np.flatnonzero(excess > eps + FEAS_TOL)
            if violated.size == 0:
                duals = -np.asarray(res.ineqlin.marginals[: len(masks)], dtype=np.float64)
                bound_duals = np.asarray(res.upper.marginals[:n], dtype=np.float64)
                return _Stage(x, eps, masks, duals, self.lp_solves, bound_duals)
            if violated.size > BATCH:
                violated = violated[np.argpartition(excess[violated], -BATCH)[-BATCH:]]
            self._add_violated(violated)

    def _solve_incremental(self) -> _Stage:
        """The stage LP on one warm-started HiGHS model: rows are added and, once their coalition
        leaves the free set or falls beyond KEEP_ROWS at a stage's start, deleted; the model is
        never rebuilt. Each stage still ends only when no free coalition is violated, so the
        deleted rows change how fast a stage is solved, never its optimum."""
        n = self.n
        if self._lp is None:
            lower = np.full(n + 1, -np.inf)
            upper = np.array([np.inf if b[1] is None else b[1] for b in self.x_bounds] + [np.inf])
            cost = np.zeros(n + 1)
            cost[n] = 1.0
            self._lp = _highs.IncrementalLP(lower, upper, cost)
        lp = self._lp
        if self._eq_in_lp < len(self.eq_rows):
            new = np.array(self.eq_rows[self._eq_in_lp :])
            vals = np.array(self.eq_vals[self._eq_in_lp :])
            lp.add_rows(np.hstack([new, np.zeros((len(new), 1))]), vals, vals)
            self._lp_keys.extend([-1] * len(new))
            self._eq_in_lp = len(self.eq_rows)
        stale = self._in_lp[~self.free[self._in_lp]]
        self._in_lp = self._in_lp[self.free[self._in_lp]]
        slack = self._slack_rows()
        if slack.size:
            self.in_work[slack] = False  # the scan may add them again
            self._in_lp = np.setdiff1d(self._in_lp, slack)
            stale = np.concatenate([stale, slack])
        if stale.size:
            # Deleted rather than relaxed: the model stays small and each later solve is cheaper
            # (a third of the per-draw HiGHS time at 20 players, measured; see the module docstring).
            lp.delete_rows(np.array([self._row_of[m] for m in stale.tolist()]))
            gone = set(stale.tolist())
            self._lp_keys = [k for k in self._lp_keys if k not in gone]
            self._row_of = {k: i for i, k in enumerate(self._lp_keys) if k >= 0}
        while True:
            pending = np.unique(np.concatenate(self._pending)) if self._pending else np.zeros(0, dtype=np.int64)
            self._pending = []
            pending = pending[self.free[pending]]
            new_masks = np.array([m for m in pending.tolist() if m not in self._row_of], dtype=np.int64)
            if new_masks.size:
                members = masks_to_bool(new_masks, n).astype(np.float64)
                rows = lp.add_rows(
                    np.hstack([members, -np.ones((len(new_masks), 1))]),
                    np.full(len(new_masks), -np.inf),
                    self.costs_of(new_masks),
                )
                self._row_of.update(zip(new_masks.tolist(), rows.tolist(), strict=True))
                self._lp_keys.extend(new_masks.tolist())
                self._in_lp = np.concatenate([self._in_lp, new_masks])
            solved = lp.solve()
            self.lp_solves += 1
            if solved is None:
                raise EngineError("the nucleolus linear program did not reach an optimum")
            values, row_duals, col_duals = solved
            x = np.asarray(values[:n], dtype=np.float64)
            eps = float(values[n])
            found = _scan.excess_scan(
                x,
                self._c32,
                self.costs,
                self.scale,
                eps + FEAS_TOL,
                _scan.scan_margin(x, 1.0),  # |c(S) / scale| <= 1 by the choice of scale
                self._top_idx,
                self._top_val,
            )
            if found == 0:
                self._last = (x, eps)
                masks = np.sort(self._in_lp)
                duals = -row_duals[[self._row_of[m] for m in masks.tolist()]]
                return _Stage(x, eps, masks, duals, self.lp_solves, np.asarray(col_duals[:n], dtype=np.float64))
            self._add_violated(self._top_idx[:found].copy())

    def _slack_rows(self) -> np.ndarray:
        """Free coalitions of the LP beyond the KEEP_ROWS * n of least slack at the last stage's
        solution (singletons and their complements always stay: they keep the LP bounded)."""
        live = self._in_lp
        keep = (KEEP_ROWS + 2) * self.n
        if self._last is None or len(live) <= keep:
            return np.zeros(0, dtype=np.int64)
        x, eps = self._last
        members = masks_to_bool(live, self.n)
        size = members.sum(axis=1)
        slack = eps - (members.astype(np.float64) @ x - self.costs_of(live))
        slack[(size == 1) | (size == self.n - 1)] = -np.inf
        order = np.argsort(slack, kind="stable")
        return np.sort(live[order[keep:]])

    def fix(self, stage: _Stage) -> int:
        """Fix the positive-dual coalitions; return how many independent rows were added."""
        n = self.n
        order = np.argsort(-stage.duals)
        added = 0
        for idx in order:
            if stage.duals[idx] <= DUAL_TOL:
                break
            mask = int(stage.masks[idx])
            chi = ((mask >> np.arange(n)) & 1).astype(np.float64)
            residual = chi - self.q @ (self.q.T @ chi)
            norm = float(np.linalg.norm(residual))
            if norm <= SPAN_TOL:
                continue
            unit = residual / norm
            self.q = np.hstack([self.q, unit[:, None]])
            self.eq_rows.append(chi)
            self.eq_vals.append(self.cost(mask) + stage.eps)
            self.basis.append(mask)
            added += 1
            if len(self.eq_rows) == n:
                break
        if added and len(self.eq_rows) == n:
            self.free[:] = False  # rank n: every coalition's excess is fixed (listing 2^n would say so)
            self._c32[:] = _scan.NOT_FREE
        elif added:
            reduced, pivots = _echelon(np.array(self.eq_rows), n)
            others = np.array(sorted(set(range(n)) - set(pivots)), dtype=np.int64)
            pivot_cols = np.array(pivots, dtype=np.int64)
            _scan.mark_span(reduced, pivot_cols, others, SPAN_TOL, self.free, self._c32, _NO_MASKS)
        return added

    def project(self, anchor: FloatArray, bound: float) -> FloatArray:
        """The point nearest (Euclidean) to `anchor` with x(N) = c(N) and x(S) - c(S) <= bound for
        every free S, all scaled: least distance programming on the working set (least_distance),
        then a pass over every coalition adds the violated ones, until none is. The epsilon
        stage's working set holds the coalitions that pin the least core, so one to three rounds
        are usual at 20 players. anchor must sum to c(N) (the equality then reads 1 @ y = 0)."""
        n = self.n
        work = np.sort(self._in_lp) if self._lp is not None else np.flatnonzero(self.in_work & self.free)
        while True:
            members = masks_to_bool(work, n).astype(np.float64)
            # y = x - anchor: -members @ y >= -(c(S) + bound - anchor(S)), and 1 @ y = 0 as two rows.
            g = np.vstack([-members, np.ones((1, n)), -np.ones((1, n))])
            h = np.concatenate([members @ anchor - self.costs_of(work) - bound, [0.0, 0.0]])
            x = anchor + least_distance(g, h)
            found = _scan.excess_scan(
                x,
                self._c32,
                self.costs,
                self.scale,
                bound + FEAS_TOL,
                _scan.scan_margin(x, 1.0),
                self._top_idx,
                self._top_val,
            )
            violated = self._top_idx[:found]
            new = np.setdiff1d(violated, work)
            if found == 0 or new.size == 0:
                # Nothing violated, or only coalitions already in the program, by the rounding
                # of the least-squares solve (below 1e-9 of the costs: the scan's threshold).
                return x
            work = np.union1d(work, new)

    def final_x(self) -> FloatArray:
        return np.asarray(np.linalg.solve(np.array(self.eq_rows), np.array(self.eq_vals)))


def _echelon(rows: FloatArray, n: int) -> tuple[FloatArray, list[int]]:
    """The reduced row echelon form of `rows` (its r non-zero rows) and its pivot columns."""
    a = np.array(rows, dtype=np.float64)
    pivots = _scan.echelon(a, SPAN_TOL)
    return np.ascontiguousarray(a[: len(pivots)]), pivots.tolist()


_NO_MASKS = np.zeros(0, dtype=np.int64)
_NO_FLAGS = np.zeros(0, dtype=bool)
_NO_COSTS = np.zeros(0, dtype=np.float32)


def span_masks(rows: FloatArray, n: int) -> np.ndarray:
    """Every coalition whose incidence vector lies in the span of `rows` (0/1 rows, r x n).

    In reduced row echelon form with pivot columns p_1..p_r, a vector v of the span is the sum of
    v[p_j] times row j, so a 0/1 vector of the span is fixed by which pivots it contains: for each
    subset P of the pivots, the sum of the rows in P must be 0 or 1 in every other column, and
    then the coalition is P plus the columns where it is 1 (_scan.mark_span, which `fix` calls
    to mark them directly). That lists the span's coalitions in O((n - r) 2^r) instead of
    projecting all 2^n incidence vectors onto the span (O(r 2^n), which took two thirds of a
    20-player nucleolus when measured).
    """
    reduced, pivots = _echelon(rows, n)
    others = np.array(sorted(set(range(n)) - set(pivots)), dtype=np.int64)
    out = np.empty(1 << len(pivots), dtype=np.int64)
    count = _scan.mark_span(reduced, np.array(pivots, dtype=np.int64), others, SPAN_TOL, _NO_FLAGS, _NO_COSTS, out)
    return out[:count]


@dataclass(frozen=True)
class NucleolusResult:
    values: FloatArray
    levels: FloatArray
    domain: str
    lp_solves: int
    tight: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # The game's least-core epsilon where the first stage proves it (see `nucleolus`), else None,
    # and the coalitions with a positive dual at that stage (the least core's tight ones).
    least_core_epsilon: float | None = None
    least_core_tight: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def nucleolus(game: ExplicitGame, *, domain: str = "imputation", seed: np.ndarray | None = None) -> NucleolusResult:
    """The nucleolus of the cost game (see module docstring for the algorithm).

    `seed` (coalition masks) starts the working set, and `tight` in the result lists the fixed
    coalitions and those with a positive dual at some stage. In a Monte Carlo run passing one
    draw's `tight` as the next draw's seed writes most of the coalitions the next draw's stage
    LPs need into the first LP, so most stages take one constraint-generation round; the result
    does not depend on the seed (each stage separates over every coalition).

    The first stage is the least-core epsilon LP with the imputation bounds x_i <= c({i}) added,
    so it proves the least-core epsilon (`least_core_epsilon` in the result) when the bounds
    cannot matter: over pre-imputations there are none, and otherwise _bounds_cannot_matter
    bounds how much lower the LP without them could go. Where they may bind, the least-core
    epsilon is left to the least core's own LP (None).
    """
    n = game.n
    alone = game.standalone()
    if domain not in ("imputation", "preimputation"):
        raise EngineError(f"unknown nucleolus domain {domain!r}")
    imputation = domain == "imputation"
    if imputation and alone.sum() < game.grand_cost() - FEAS_TOL * max(1.0, game.grand_cost()):
        imputation = False
    used = "imputation" if imputation else "preimputation"
    if n == 1:
        return NucleolusResult(np.array([game.grand_cost()]), np.zeros(0), used, 0)
    # Within the tolerance, sum c({i}) may fall short of c(N) by rounding; the bounds give way by
    # that much so the imputation LP stays feasible.
    slack = max(0.0, game.grand_cost() - float(alone.sum())) if imputation else 0.0
    problem = _Problem(game, imputation, slack)
    start = alone / max(alone.sum(), 1e-300) * game.grand_cost() / problem.scale
    if seed is not None and len(seed):
        problem.seed_with(seed)
    else:
        problem.seed_from(start, 4 * n)
    levels: list[float] = []
    supports: list[np.ndarray] = []
    least_core_eps: float | None = None
    while len(problem.eq_rows) < n:
        stage = problem.solve()
        if not levels and (not imputation or _bounds_cannot_matter(stage)):
            least_core_eps = stage.eps * problem.scale
        levels.append(stage.eps)
        supports.append(stage.masks[stage.duals > DUAL_TOL])
        if problem.fix(stage) == 0:
            raise EngineError("the nucleolus computation stalled (no coalition could be fixed)")
    x = problem.final_x() * problem.scale
    tight = np.unique(np.concatenate([np.array(problem.basis, dtype=np.int64), *supports]).astype(np.int64))
    first_tight = supports[0].astype(np.int64) if supports else np.zeros(0, dtype=np.int64)
    return NucleolusResult(
        x, np.array(levels) * problem.scale, used, problem.lp_solves, tight, least_core_eps, first_tight
    )


def _bounds_cannot_matter(stage: _Stage) -> bool:
    """Whether dropping the imputation bounds x_i <= u_i = c({i}) (+ slack) could lower the first
    stage's epsilon by more than FEAS_TOL (scaled units).

    With the stage's optimal duals y >= 0 on the rows (summing to 1, the eps column), lambda on
    x(N) = c(N) and z >= 0 on the bounds, any x, eps feasible without the bounds satisfies
    eps >= y (A x - c) = lambda c(N) - z x - y c = eps_1 + z (u - x). At the optimum of the LP
    without the bounds each singleton's row gives x_i <= c({i}) + eps <= u_i + max(eps_1, 0), so
    its epsilon is at least eps_1 - |z|_1 max(eps_1, 0). At an epsilon of at most 0 that is eps_1
    itself (the singletons' rows already imply the bounds); above 0 it is within FEAS_TOL when
    |z|_1 eps_1 is (on the bench scenario's 1,000 draws it proved the epsilon in every one).
    The bound holds for the working set's LP too: once no coalition is violated its duals, zero
    elsewhere, are optimal for the stage over every coalition."""
    return float(np.abs(stage.bound_duals).sum()) * max(stage.eps, 0.0) <= FEAS_TOL


def least_core_epsilon(game: ExplicitGame) -> tuple[float, FloatArray]:
    """The least-core epsilon over pre-imputations, and one allocation achieving it."""
    eps, x, _ = least_core_epsilon_warm(game)
    return eps, x


def least_core_epsilon_warm(game: ExplicitGame, seed: np.ndarray | None = None) -> tuple[float, FloatArray, np.ndarray]:
    """Like `least_core_epsilon`, with the working set started from `seed` (coalition masks).

    Also returns the coalitions with a positive dual at the optimum (the tight ones that support
    it). In a Monte Carlo run neighbouring draws share most of them, so passing one draw's tight
    coalitions as the next draw's seed saves most of the constraint-generation rounds; the
    optimum does not depend on the seed (separation runs over every coalition until none is
    violated).
    """
    if game.n == 1:
        return 0.0, np.array([game.grand_cost()]), np.zeros(0, dtype=np.int64)
    problem = _Problem(game, imputation=False)
    if seed is not None and len(seed):
        problem.seed_with(seed)
    stage = problem.solve()
    tight = stage.masks[stage.duals > DUAL_TOL].astype(np.int64)
    return stage.eps * problem.scale, stage.x * problem.scale, tight


def least_core(
    game: ExplicitGame, seed: np.ndarray | None = None, *, epsilon: float | None = None
) -> tuple[float, FloatArray]:
    """The least-core point nearest (Euclidean distance) to the proportional split, and the epsilon.

    The epsilon stage is `least_core_epsilon_warm`'s LP; the point is the projection of the
    proportional split onto the least core, {x : x(N) = c(N), x(S) - c(S) <= eps for all S}
    (_Problem.project). A projection onto a convex set is unique, so the point depends only on
    the game: `seed` (coalition masks, as for the epsilon) changes how fast it is found, never
    what is found (a property test checks seeded against cold to 1e-12 of c(N)).

    `epsilon` is the game's least-core epsilon, if known (the same game's
    NucleolusResult.least_core_epsilon, which its first stage proves in most games): the epsilon
    LP is then not solved again. In Monte Carlo that saves the LP in most draws, and seeding with
    the nucleolus's least_core_tight starts the projection from the coalitions that pin it.
    """
    if game.n == 1:
        return 0.0, np.array([game.grand_cost()])
    problem = _Problem(game, imputation=False)
    if seed is not None and len(seed):
        problem.seed_with(seed)
    eps = epsilon / problem.scale if epsilon is not None else problem.solve().eps
    alone = game.standalone()
    anchor = alone / max(alone.sum(), 1e-300) * game.grand_cost() / problem.scale
    point = problem.project(anchor, eps + FEAS_TOL)
    return eps * problem.scale, point * problem.scale


def least_distance(g: FloatArray, h: FloatArray) -> FloatArray:
    """The shortest y with g @ y >= h (least distance programming), by non-negative least squares
    (Lawson & Hanson 1974, Solving Least Squares Problems, chapter 23): with E = [g^T; h^T] and
    f = (0, ..., 0, 1), solve min |E u - f| over u >= 0 (scipy.optimize.nnls, an active-set
    method); the residual r = E u - f gives y = -r[:n] / r[n], and r = 0 means no y exists."""
    m, n = g.shape
    e = np.vstack([g.T, h[None, :]])
    f = np.zeros(n + 1)
    f[n] = 1.0
    try:
        u, _ = nnls(e, f, maxiter=max(50 * m, 1000))
    except RuntimeError as error:  # its iteration limit
        raise EngineError(f"the least-core projection did not converge: {error}") from error
    r = e @ u - f
    if not -r[n] > 1e-12:
        raise EngineError("the least-core projection found no feasible point")
    return np.asarray(-r[:n] / r[n], dtype=np.float64)
