"""Exact separation for the commons game beyond enumeration: the coalition with the largest excess.

For an allocation x and a commons game without spillover, the excess of S is

    x(S) - c(S) = sum_{i in S} (x_i - a_i) + max(0, sum_k [sum_{i in S} e_ki min(d_ki, L_k) - K_k L_k] - H(|S|)),

maximised over the levels L_k as well. As a mixed-integer program (HiGHS through scipy.optimize.milp):

    maximise   sum_i (x_i - a_i) z_i + sum_ki e_ki y_ki - sum_k K_k L_k - G0 w - g0 t
    subject to y_ki <= d_ki z_i,  y_ki <= L_k,  L_k <= (max_i d_ki) w,       (draws up to the level)
               v_i >= z_i + w - 1,  t >= slope_m sum_i v_i + h(m) - slope_m m   (m = 1 .. n-1),
               2 <= sum_i z_i <= n - 1,  z, w binary,  y, L, v, t >= 0,

where w says the coalition runs a commons (paying the overhead G0 + g0 h(|S|), h(s) = s^gamma, whose
convex epigraph is written through its integer points) and v_i = z_i w counts the members who pay
per-member overhead. Maximising pushes y_ki to min(d_ki z_i, L_k) and t to h(sum v), so the program's
optimum is the largest excess over coalitions of size 2 .. n - 1 that run one joint commons or none.
Coalitions whose members do best apart (each with a commons of one) have an additive excess and are
maximised in closed form by the caller. With spillover the outside levels depend on the complement's
own optimum (a bilevel problem), which this program does not model.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from ._bits import FloatArray
from .commons import CommonsGame
from .errors import EngineError


def commons_max_excess_milp(game: CommonsGame, x: FloatArray, *, time_limit: float) -> tuple[np.ndarray | None, bool]:
    """(members of the coalition found, proven optimal) over 2 <= |S| <= n - 1; spillover must be off."""
    members, optimal, _ = commons_max_excess_bound(game, x, time_limit=time_limit)
    return members, optimal


def commons_max_excess_bound(
    game: CommonsGame, x: FloatArray, *, time_limit: float
) -> tuple[np.ndarray | None, bool, float]:
    """As commons_max_excess_milp, and an upper bound on the program's optimum, in money: the
    optimum itself when proven, HiGHS's dual bound when it stops at the time limit (infinite when
    it has none). A bracket of the largest excess over 2 <= |S| <= n - 1 running one commons or none."""
    if (game.spill > 0).any():
        raise EngineError("the exact separation needs a game without spillover")
    n, k = game.n, len(game.unit_cost)
    # Variable layout: z (n) | w (1) | L (k) | y (k n) | v (n) | t (1)
    iz, iw, il, iy = 0, n, n + 1, n + 1 + k
    iv = iy + k * n
    it = iv + n
    nvar = it + 1
    # Money in units of the largest stand-alone cost and compute in units of the largest demand keep
    # every coefficient near 1, which HiGHS's tolerances assume.
    scale = max(1.0, float(np.abs(game.alone).max()))
    hours = max(1.0, float(game.demand.max()))
    demand = game.demand / hours
    c = np.zeros(nvar)  # milp minimises: negate the excess
    c[iz : iz + n] = -(np.asarray(x) - game.alone) / scale
    c[iy : iy + k * n] = -game.gain.reshape(-1) * hours / scale
    c[il : il + k] = game.unit_cost * hours / scale
    c[iw] = game.overhead_fixed / scale
    c[it] = game.overhead_per_member / scale
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lower: list[float] = []
    upper: list[float] = []

    def add(entries: list[tuple[int, float]], lo: float, hi: float) -> None:
        r = len(lower)
        for col, val in entries:
            rows.append(r)
            cols.append(col)
            vals.append(val)
        lower.append(lo)
        upper.append(hi)

    dmax = demand.max(axis=1)
    for kk in range(k):
        for i in range(n):
            y = iy + kk * n + i
            add([(y, 1.0), (iz + i, -float(demand[kk, i]))], -np.inf, 0.0)
            add([(y, 1.0), (il + kk, -1.0)], -np.inf, 0.0)
        add([(il + kk, 1.0), (iw, -float(dmax[kk]))], -np.inf, 0.0)
    for i in range(n):
        add([(iv + i, 1.0), (iz + i, -1.0), (iw, -1.0)], -1.0, np.inf)
    h = np.arange(n + 1, dtype=np.float64) ** game.overhead_exponent
    for m in range(1, n):
        slope = h[m + 1] - h[m]
        add([(it, 1.0)] + [(iv + i, -slope) for i in range(n)], h[m] - slope * m, np.inf)
    add([(iz + i, 1.0) for i in range(n)], 2.0, n - 1.0)
    matrix = coo_matrix((vals, (rows, cols)), shape=(len(lower), nvar)).tocsr()
    integrality = np.zeros(nvar)
    integrality[iz : iz + n] = 1
    integrality[iw] = 1
    ub = np.full(nvar, np.inf)
    ub[iz : iz + n + 1] = 1.0
    ub[iv : iv + n] = 1.0
    res = milp(
        c,
        constraints=LinearConstraint(matrix, lower, upper),
        integrality=integrality,
        bounds=Bounds(np.zeros(nvar), ub),
        options={"mip_rel_gap": 1e-9, "time_limit": time_limit, "disp": False},
    )
    optimal = bool(res.status == 0)
    if optimal:
        ceiling = -float(res.fun) * scale
    else:
        dual = getattr(res, "mip_dual_bound", None)
        ceiling = -float(dual) * scale if dual is not None and np.isfinite(dual) else np.inf
    if res.x is None:
        return None, False, ceiling
    return np.asarray(res.x[iz : iz + n] > 0.5), optimal, ceiling
