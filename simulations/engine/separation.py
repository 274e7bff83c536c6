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
own optimum (a bilevel problem); they take finitely many values, so a larger program with binaries
for them is still exact (commons_max_excess_spill).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from ._bits import FloatArray
from .commons import CommonsGame


def commons_max_excess_milp(game: CommonsGame, x: FloatArray, *, time_limit: float) -> tuple[np.ndarray | None, bool]:
    """(members of the coalition found, proven optimal) over 2 <= |S| <= n - 1."""
    members, optimal, _ = commons_max_excess_bound(game, x, time_limit=time_limit)
    return members, optimal


def commons_max_excess_bound(
    game: CommonsGame, x: FloatArray, *, time_limit: float
) -> tuple[np.ndarray | None, bool, float]:
    """As commons_max_excess_milp, and an upper bound on the program's optimum, in money: the
    optimum itself when proven, HiGHS's dual bound when it stops at the time limit (infinite when
    it has none). Without spillover, a bracket of the largest excess over 2 <= |S| <= n - 1 running
    one commons or none (the caller takes members apart in closed form); with spillover, over every
    arrangement (commons_max_excess_spill)."""
    if (game.spill > 0).any():
        return commons_max_excess_spill(game, x, time_limit=time_limit)
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
    return _outcome(res, np.arange(iz, iz + n), scale)


def _outcome(res: Any, members: np.ndarray, scale: float) -> tuple[np.ndarray | None, bool, float]:
    """(members found, proven optimal, upper bound in money) of a maximising program solved as a
    minimisation: the optimum when proven, HiGHS's dual bound when the time limit stops it
    (infinite when it has none)."""
    optimal = bool(res.status == 0)
    if optimal:
        ceiling = -float(res.fun) * scale
    else:
        dual = getattr(res, "mip_dual_bound", None)
        ceiling = -float(dual) * scale if dual is not None and np.isfinite(dual) else np.inf
    if res.x is None:
        return None, False, ceiling
    return np.asarray(res.x[members] > 0.5), optimal, ceiling


class _Program:
    """A mixed-integer program written variable block by variable block and row by row."""

    def __init__(self) -> None:
        self.lb: list[float] = []
        self.ub: list[float] = []
        self.integer: list[int] = []
        self.objective: list[float] = []
        self.rows: list[int] = []
        self.cols: list[int] = []
        self.vals: list[float] = []
        self.row_lo: list[float] = []
        self.row_hi: list[float] = []

    def block(self, count: int, *, upper: float = np.inf, binary: bool = False) -> np.ndarray:
        first = len(self.lb)
        self.lb += [0.0] * count
        self.ub += [1.0 if binary else upper] * count
        self.integer += [1 if binary else 0] * count
        self.objective += [0.0] * count
        return np.arange(first, first + count)

    def row(self, entries: list[tuple[int, float]], lo: float, hi: float) -> None:
        r = len(self.row_lo)
        for col, val in entries:
            if val != 0.0:
                self.rows.append(r)
                self.cols.append(int(col))
                self.vals.append(float(val))
        self.row_lo.append(lo)
        self.row_hi.append(hi)

    def solve(self, time_limit: float) -> Any:
        matrix = coo_matrix((self.vals, (self.rows, self.cols)), shape=(len(self.row_lo), len(self.lb))).tocsr()
        return milp(
            -np.asarray(self.objective),  # milp minimises; the objective is the excess, maximised
            constraints=LinearConstraint(matrix, self.row_lo, self.row_hi),
            integrality=np.asarray(self.integer),
            bounds=Bounds(np.asarray(self.lb), np.asarray(self.ub)),
            options={"mip_rel_gap": 1e-9, "time_limit": time_limit, "disp": False},
        )


def commons_max_excess_spill(
    game: CommonsGame, x: FloatArray, *, time_limit: float
) -> tuple[np.ndarray | None, bool, float]:
    """The largest excess over 2 <= |S| <= n - 1 of a commons game with spillover, as a
    mixed-integer program (HiGHS): (members found, proven optimal, upper bound in money), the
    bound the optimum when proven and HiGHS's dual bound when the time limit stops it.

    The bilevel part, the rest's levels X_k = L*_k(N \\ S), is exact because they take finitely many
    values. Per term k, with the players in descending demand D_k1 >= ... >= D_kn (D_k,n+1 = 0) and
    W_kp = D_kp - D_k,p+1 the width of layer p, the rest's cumulative gain G_kp = sum_{r <= p}
    e_kr (1 - z_r) is linear in the membership z; X_k = sum_p W_kp q_kp with binary q_kp = 1 exactly
    when the rest runs (rho) and G_kp > K_k:

        q_kp <= rho,   G_kp >= (K_k + delta) q_kp,   G_kp <= K_k + M_kp (q_kp + 1 - rho).

    rho = 1 exactly when the rest runs: at least two of its members have something to pool and its
    own pool P(N \\ S) exceeds H(that number). A one-hot zeta_s of that number gives H exactly; a
    lower certificate of P (levels L'_k with y'_ki <= min(d_ki (1 - z_i), L'_k)) must exceed it
    when rho = 1, and an upper one (psi_kp >= (G_kp - K_k)+) must not when rho = 0. With
    g_kp = sum_{r <= p} e_kr z_r, S's own cumulative gain, the excess is

        sum_i (x_i - a_i) z_i + reach + max(0, together, apart),
        reach    = sum_k u_k sum_p W_kp q_kp g_kp                       (nu_kp <= g_kp, nu_kp <= M q_kp),
        together = sum_k [sum_i e_ki y_ki - K_k L_k - u_k sum_p W_kp q_kp (g_kp - K_k)+] - H(|S|)
                   (omega_kp >= g_kp - K_k - M (2 - q_kp - w), omega >= 0, w: S runs a commons),
        apart    = sum_{i in S} max(0, sum_k m_ki (d_ki - u_k min(d_ki, X_k)) - H(1))
                   (min(d_ki, X_k) = sum_{p : D_kp <= d_ki} W_kp q_kp, linear in q; binary beta_i),

    each product of a binary and a bounded quantity written by its bounds in the direction the
    maximisation pushes, as commons_max_excess_bound does. Strict comparisons hold up to delta and
    HiGHS's feasibility tolerance (1e-6 of the scaled costs): the caller recomputes the found
    coalition's excess exactly (CommonsGame.costs_of).
    """
    n, terms = game.n, len(game.unit_cost)
    scale = max(1.0, float(np.abs(game.alone).max()))
    hours = max(1.0, float(game.demand.max()))
    demand = game.demand / hours
    gain = game.gain * hours / scale  # money per unit of scaled demand
    unit = game.unit_cost * hours / scale
    spill = game.spill
    h = game.overhead(np.arange(n + 1, dtype=np.float64)) / scale  # H(s), H(0) = 0
    delta = 1e-9
    prog = _Program()
    z = prog.block(n, binary=True)
    w = int(prog.block(1, binary=True)[0])
    ap = int(prog.block(1, binary=True)[0])
    rho = int(prog.block(1, binary=True)[0])
    zeta = prog.block(n + 1, binary=True)
    for i in range(n):
        prog.objective[z[i]] = (float(x[i]) - float(game.alone[i])) / scale
    prog.row([(int(v), 1.0) for v in z], 2.0, n - 1.0)
    prog.row([(w, 1.0), (ap, 1.0)], -np.inf, 1.0)
    # Together: S's own pool (levels L_k, draws y_ki) and overhead g0 t + G0 w on v_i = z_i w.
    level = prog.block(terms)
    draw = prog.block(terms * n).reshape(terms, n)
    v = prog.block(n, upper=1.0)
    t = int(prog.block(1)[0])
    dmax = demand.max(axis=1)
    for k in range(terms):
        prog.objective[level[k]] = -float(unit[k])
        for i in range(n):
            prog.objective[draw[k, i]] = float(gain[k, i])
            prog.row([(draw[k, i], 1.0), (z[i], -float(demand[k, i]))], -np.inf, 0.0)
            prog.row([(draw[k, i], 1.0), (level[k], -1.0)], -np.inf, 0.0)
        prog.row([(level[k], 1.0), (w, -float(dmax[k]))], -np.inf, 0.0)
    fixed = game.overhead_fixed / scale
    per_member = game.overhead_per_member / scale
    prog.objective[w] = -fixed
    prog.objective[t] = -per_member
    for i in range(n):
        prog.row([(v[i], 1.0), (z[i], -1.0), (w, -1.0)], -1.0, np.inf)
    powers = np.arange(n + 1, dtype=np.float64) ** game.overhead_exponent
    for m in range(1, n):
        slope = powers[m + 1] - powers[m]
        prog.row([(t, 1.0)] + [(int(vi), -slope) for vi in v], powers[m] - slope * m, np.inf)
    # The rest's size among members with something to pool, one-hot.
    pooling = np.flatnonzero(game.demand.any(axis=0))
    prog.row([(int(s), 1.0) for s in zeta], 1.0, 1.0)
    count = [(int(zeta[s]), float(s)) for s in range(n + 1)] + [(int(z[i]), 1.0) for i in pooling]
    prog.row(count, len(pooling), len(pooling))  # sum_s s zeta_s = |pooling members outside S|
    prog.row([(rho, 1.0), (int(zeta[0]), 1.0), (int(zeta[1]), 1.0)], -np.inf, 1.0)
    rest_h = [(int(zeta[s]), -float(h[s])) for s in range(n + 1)]
    # Lower certificate: rho = 1 needs P(rest) >= H(rest size) + delta.
    cert_level = prog.block(terms)
    cert_draw = prog.block(terms * n).reshape(terms, n)
    entries: list[tuple[int, float]] = []
    for k in range(terms):
        entries.append((int(cert_level[k]), -float(unit[k])))
        for i in range(n):
            entries.append((int(cert_draw[k, i]), float(gain[k, i])))
            prog.row([(cert_draw[k, i], 1.0), (z[i], float(demand[k, i]))], -np.inf, float(demand[k, i]))
            prog.row([(cert_draw[k, i], 1.0), (cert_level[k], -1.0)], -np.inf, 0.0)
        prog.row([(cert_level[k], 1.0)], -np.inf, float(dmax[k]))
    big_lower = float(h[n]) + 2 * delta  # cert - H >= delta - big_lower holds at cert = 0
    prog.row(entries + rest_h + [(rho, -big_lower)], delta - big_lower, np.inf)
    # Upper certificate: rho = 0 with two or more in the rest needs P(rest) <= H(rest size).
    order = game._order  # type: ignore[attr-defined]
    sorted_d = np.take_along_axis(demand, order, axis=1)
    width = sorted_d - np.concatenate([sorted_d[:, 1:], np.zeros((terms, 1))], axis=1)
    sorted_e = np.take_along_axis(gain, order, axis=1)
    total = np.cumsum(sorted_e, axis=1)  # G_kp with the whole rest: its largest value
    psi = prog.block(terms * n).reshape(terms, n)
    upper_entries: list[tuple[int, float]] = []
    for k in range(terms):
        for p in range(n):
            # psi_kp >= G_kp - K_k, G_kp = total_kp - sum_{r <= p} e_kr z_r
            prog.row(
                [(psi[k, p], 1.0)] + [(int(z[order[k, r]]), float(sorted_e[k, r])) for r in range(p + 1)],
                float(total[k, p] - unit[k]),
                np.inf,
            )
            upper_entries.append((int(psi[k, p]), float(width[k, p])))
    big_upper = float((width * np.maximum(total - unit[:, None], 0.0)).sum()) + 2 * delta  # the largest P(rest)
    prog.row(
        upper_entries + rest_h + [(rho, -big_upper), (int(zeta[0]), -big_upper), (int(zeta[1]), -big_upper)],
        -np.inf,
        0.0,
    )
    # The rest's levels, reach and the layers S need not pool, per spilled term.
    q = np.full((terms, n), -1, dtype=np.int64)
    for k in np.flatnonzero(spill > 0).tolist():
        q[k] = prog.block(n, binary=True)
        nu = prog.block(n)
        omega = prog.block(n)
        for p in range(n):
            own = [(int(z[order[k, r]]), float(sorted_e[k, r])) for r in range(p + 1)]  # g_kp
            rest = [(int(z[order[k, r]]), -float(sorted_e[k, r])) for r in range(p + 1)]  # G_kp - total
            big = max(0.0, float(total[k, p] - unit[k])) + 2 * delta  # G_kp - K_k and g_kp - K_k at most
            if total[k, p] <= unit[k]:
                prog.ub[q[k, p]] = 0.0  # not even the whole rest's gain down to layer p exceeds K_k
            prog.row([(int(q[k, p]), 1.0), (rho, -1.0)], -np.inf, 0.0)
            # G_kp >= (K + delta) q  and  G_kp <= K + big (q + 1 - rho)
            prog.row([*rest, (int(q[k, p]), -(float(unit[k]) + delta))], -float(total[k, p]), np.inf)
            prog.row([*rest, (int(q[k, p]), -big), (rho, big)], -np.inf, float(unit[k]) + big - float(total[k, p]))
            if p + 1 < n:
                prog.row([(int(q[k, p]), 1.0), (int(q[k, p + 1]), -1.0)], -np.inf, 0.0)
            # reach: nu <= g_kp and nu <= total q
            prog.row([(int(nu[p]), 1.0)] + [(c, -val) for c, val in own], -np.inf, 0.0)
            prog.row([(int(nu[p]), 1.0), (int(q[k, p]), -float(total[k, p]))], -np.inf, 0.0)
            prog.objective[nu[p]] = float(spill[k] * width[k, p])
            # omega >= g_kp - K - big (2 - q - w)
            prog.row(
                [(int(omega[p]), 1.0)] + [(c, -val) for c, val in own] + [(int(q[k, p]), -big), (w, -big)],
                -float(unit[k]) - 2.0 * big,
                np.inf,
            )
            prog.objective[omega[p]] = -float(spill[k] * width[k, p])
    # Apart: each member's commons of one, given the outside levels.
    margin = game._own_margin * hours / scale  # type: ignore[attr-defined]
    h1 = float(h[1])
    possible = game._own_possible  # type: ignore[attr-defined]
    if possible.size:
        alpha = prog.block(len(possible))
        beta = prog.block(len(possible), binary=True)
        for j, i in enumerate(possible):
            best = float((margin[:, i] * demand[:, i]).sum()) - h1
            most_read = float((margin[:, i] * spill * demand[:, i]).sum())
            cap = max(best, most_read - best, 0.0) + 2 * delta  # alpha = 0 stays feasible at beta = 0
            prog.objective[alpha[j]] = 1.0
            prog.row([(int(beta[j]), 1.0), (int(z[i]), -1.0)], -np.inf, 0.0)
            prog.row([(int(beta[j]), 1.0), (ap, -1.0)], -np.inf, 0.0)
            prog.row([(int(alpha[j]), 1.0), (int(beta[j]), -cap)], -np.inf, 0.0)
            # alpha <= best - sum_k m_ki u_k sum_{p: D_kp <= d_ki} W_kp q_kp + cap (1 - beta)
            reading: list[tuple[int, float]] = []
            for k in np.flatnonzero(spill > 0).tolist():
                if margin[k, i] <= 0.0:
                    continue
                for p in range(n):
                    if sorted_d[k, p] <= demand[k, i] and width[k, p] > 0.0:
                        reading.append((int(q[k, p]), float(margin[k, i] * spill[k] * width[k, p])))
            prog.row([(int(alpha[j]), 1.0), (int(beta[j]), cap), *reading], -np.inf, best + cap)
    return _outcome(prog.solve(time_limit), z, scale)
