"""The commons game: what each coalition pays when it pools research in layers (docs/model.md, section 3).

Each term k (a research area, or the shared base model) has a demand d_ki per lab (H100-equivalent
GPU-hours), a gain e_ki per hour the lab draws from a commons instead of doing it in house, a cost
K_k per hour of the commons' level and a spillover share u_k for outsiders. A coalition S that runs
a commons chooses a level L_k per term; each member draws min(d_ki, L_k) from it. Layer by layer,
pooling the layer at height y pays when the members who need it gain more than it costs:

    E_Sk(y) = sum_{i in S, d_ki > y} e_ki,     P_k(S) = integral_0^inf (E_Sk(y) - K_k)+ dy,

so the optimal level is L*_k(S) = sup{y : E_Sk(y) > K_k}. If the rest of the players, N \\ S, run a
joint commons at levels X_k, members of S read its published work up to X_k: a share u_k of each
layer below X_k is free (absorption aside), so there S gains u_k E_Sk(y) without pooling and pools
only what the outside work leaves, (1 - u_k) of the layer. S then takes the best of three
arrangements: no commons, one joint commons (paying the overhead H(|S|)), or each member on its
own (a lab alone may buy its research from the pool, a commons of one, paying H(1)):

    reach(S)     = sum_k u_k sum_{i in S} e_ki min(d_ki, X_k)
    together(S)  = sum_k [P_k(S) - u_k Q_k(S, X_k)] - H(|S|),     Q_k(S, X) = integral_0^X (E_Sk - K_k)+ dy
    apart(S)     = sum_{i in S} max(0, sum_k (e_ki - K_k)+ (d_ki - u_k min(d_ki, X_k)) - H(1))
    c(S)         = sum_{i in S} a_i - reach(S) - max(0, together(S), apart(S)),

with a_i the lab's cost of doing everything in house. The rest publish from a joint commons (X_k =
L*_k(N \\ S)) when at least two of them have something to pool and P(N \\ S) exceeds the overhead
of those members, computed without any spillover back from S; a lab alone publishes nothing others
count on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from . import _kernels
from ._bits import BoolArray, FloatArray
from .errors import InvalidGameError, TooLargeError
from .games import MAX_EXPLICIT_PLAYERS, ExplicitGame, _check_finite, _check_players, overhead_of

IntArray = NDArray[np.int64]

NONE, TOGETHER, APART = "none", "together", "apart"


@dataclass(frozen=True)
class Arrangement:
    """How a coalition organises itself: no commons, one joint commons, or each member on its own."""

    mode: str  # NONE, TOGETHER or APART
    levels: FloatArray  # L_k of the joint commons, H100-equivalent GPU-hours (0 unless TOGETHER)
    outside_levels: FloatArray  # X_k: levels of the rest's commons it reads (0 when none)


@dataclass(frozen=True, eq=False)
class CommonsGame:
    """A cost game of the commons structure above; `players` in the order of every array's last axis."""

    players: tuple[str, ...]
    alone: FloatArray  # a_i, $
    demand: FloatArray  # d_ki, shape (K, n)
    gain: FloatArray  # e_ki, $ per GPU-hour, shape (K, n)
    unit_cost: FloatArray  # K_k, $ per GPU-hour of level, shape (K,)
    spill: FloatArray  # u_k in [0, 1], shape (K,)
    overhead_fixed: float = 0.0
    overhead_per_member: float = 0.0
    overhead_exponent: float = 1.0
    term_names: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        players = _check_players(self.players)
        object.__setattr__(self, "players", players)
        n = len(players)
        alone = np.array(self.alone, dtype=np.float64).reshape(-1)
        unit_cost = np.array(self.unit_cost, dtype=np.float64).reshape(-1)
        k = len(unit_cost)
        demand = np.array(self.demand, dtype=np.float64).reshape(k, n)
        gain = np.array(self.gain, dtype=np.float64).reshape(k, n)
        spill = np.array(self.spill, dtype=np.float64).reshape(k)
        if alone.shape != (n,):
            raise InvalidGameError("alone needs one value per player")
        for values, what in ((alone, "alone"), (demand, "demand"), (gain, "gain"), (unit_cost, "unit_cost")):
            _check_finite(values.reshape(-1), what)
            if (values < 0).any():
                raise InvalidGameError(f"{what} must be non-negative")
        if ((spill < 0) | (spill > 1)).any():
            raise InvalidGameError("spill shares must lie in [0, 1]")
        for arr in (alone, demand, gain, unit_cost, spill):
            arr.setflags(write=False)
        object.__setattr__(self, "alone", alone)
        object.__setattr__(self, "demand", demand)
        object.__setattr__(self, "gain", gain)
        object.__setattr__(self, "unit_cost", unit_cost)
        object.__setattr__(self, "spill", spill)
        object.__setattr__(self, "_order", np.argsort(-demand, axis=1, kind="stable"))  # descending demand
        object.__setattr__(self, "_pooling", (demand > 0).any(axis=0))  # players with anything to pool
        # (e_ki - K_k)+: what a lab gains per hour from a commons of its own.
        margin = np.maximum(gain - unit_cost[:, None], 0.0)
        object.__setattr__(self, "_own_margin", margin)
        # Players for whom a commons of one can pay at all (before any outside reading lowers it).
        h1 = self.overhead_fixed + self.overhead_per_member
        object.__setattr__(self, "_own_possible", np.flatnonzero((margin * demand).sum(axis=0) > h1))

    @property
    def n(self) -> int:
        return len(self.players)

    def overhead(self, sizes: FloatArray) -> FloatArray:
        return overhead_of(sizes, self.overhead_fixed, self.overhead_per_member, self.overhead_exponent)

    # ---- any batch of coalitions -------------------------------------------------------------

    def _terms(self, members: BoolArray) -> tuple[FloatArray, FloatArray, list[FloatArray], list[FloatArray]]:
        """Per term: P_k(S) (m, K), L*_k(S) (m, K), and per term the layer values and sorted demands."""
        m = members.shape[0]
        k_terms = len(self.unit_cost)
        pool = np.zeros((m, k_terms))
        level = np.zeros((m, k_terms))
        layers: list[FloatArray] = []
        tops: list[FloatArray] = []
        for k in range(k_terms):
            order = self._order[k]  # type: ignore[attr-defined]
            d = self.demand[k, order]
            width = d - np.append(d[1:], 0.0)
            cum = np.cumsum(members[:, order] * self.gain[k, order], axis=1)
            value = np.maximum(cum - self.unit_cost[k], 0.0) * width
            pool[:, k] = value.sum(axis=1)
            above = cum > self.unit_cost[k]
            first = np.argmax(above, axis=1)
            level[:, k] = np.where(above.any(axis=1), d[first], 0.0)
            layers.append(value)
            tops.append(d)
        return pool, level, layers, tops

    def _own_values(self, outside: FloatArray) -> FloatArray:
        """Per coalition row and player: max(0, what a commons of one saves given the outside levels - H(1)).

        `outside` has shape (m, K); the result (m, n), zero for players for whom it never pays.
        """
        who = self._own_possible  # type: ignore[attr-defined]
        out = np.zeros((outside.shape[0], self.n))
        if not who.size:
            return out
        margin = self._own_margin[:, who]  # type: ignore[attr-defined]
        demand = self.demand[:, who]
        drawn = np.minimum(demand[None, :, :], outside[:, :, None])  # (m, K, len(who))
        own = (margin[None, :, :] * (demand[None] - self.spill[None, :, None] * drawn)).sum(axis=1)
        out[:, who] = np.maximum(own - self.overhead(np.ones(1))[0], 0.0)
        return out

    def _apart(self, members: BoolArray, outside: FloatArray) -> FloatArray:
        """apart(S): every member on its own, each with a commons of one where that pays."""
        if not self._own_possible.size:  # type: ignore[attr-defined]
            return np.zeros(members.shape[0])
        return np.asarray((members * self._own_values(outside)).sum(axis=1), dtype=np.float64)

    def _evaluate(self, members: BoolArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
        """Costs, the values of a joint commons and of members apart, the joint levels and the outside levels."""
        members = np.asarray(members, dtype=bool)
        sizes = members.sum(axis=1).astype(np.float64)
        pool, level, layers, tops = self._terms(members)
        outside = np.zeros_like(level)
        reach = np.zeros(members.shape[0])
        inside = pool.copy()
        if (self.spill > 0).any():
            rest = ~members
            rest_pool, rest_level, _, _ = self._terms(rest)
            # The rest publish only from a shared commons of two or more members with something to pool
            # (members with nothing to pool stay out of it): a lab alone is going alone.
            rest_size = (rest & self._pooling).sum(axis=1).astype(np.float64)  # type: ignore[attr-defined]
            rest_runs = (rest_size >= 2) & (rest_pool.sum(axis=1) > self.overhead(rest_size))
            for k in np.flatnonzero(self.spill > 0):
                x = np.where(rest_runs, rest_level[:, k], 0.0)
                outside[:, k] = x
                drawn = np.minimum(self.demand[k][None, :], x[:, None])
                reach += self.spill[k] * (members * drawn) @ self.gain[k]
                below = tops[k][None, :] <= x[:, None]  # layers entirely below the outside level
                inside[:, k] -= self.spill[k] * (layers[k] * below).sum(axis=1)
        together = inside.sum(axis=1) - self.overhead(sizes)
        apart = self._apart(members, outside)
        best = np.maximum(np.maximum(together, apart), 0.0)
        costs = members.astype(np.float64) @ self.alone - reach - best
        costs[members.sum(axis=1) == 0] = 0.0
        return costs, together, apart, level, outside

    def costs_of(self, members: BoolArray) -> FloatArray:
        return self._evaluate(members)[0]

    def cost(self, mask: int) -> float:
        members = ((mask >> np.arange(self.n)) & 1).astype(bool)[None, :]
        return float(self.costs_of(members)[0])

    def arrangement(self, members: Sequence[bool] | BoolArray) -> Arrangement:
        row = np.asarray(members, dtype=bool).reshape(1, self.n)
        _, together, apart, levels, outside = self._evaluate(row)
        t, a = float(together[0]), float(apart[0])
        mode = TOGETHER if t > 0 and t >= a else APART if a > 0 else NONE
        joint = levels[0] if mode == TOGETHER else np.zeros_like(levels[0])
        return Arrangement(mode, joint.copy(), outside[0].copy())

    def cost_at(self, members: Sequence[bool] | BoolArray, arrangement: Arrangement) -> float:
        """Cost of the coalition under a given arrangement (used for the per-year series)."""
        s = np.asarray(members, dtype=bool).reshape(self.n)
        if not s.any():
            return 0.0
        outside = arrangement.outside_levels
        d, e = self.demand[:, s], self.gain[:, s]
        savings = float((e * self.spill[:, None] * np.minimum(d, outside[:, None])).sum())
        if arrangement.mode == TOGETHER:
            level = arrangement.levels
            both = np.minimum(level, outside)
            drawn = np.minimum(d, level[:, None]) - self.spill[:, None] * np.minimum(d, both[:, None])
            savings += float((e * drawn).sum()) - float((self.unit_cost * (level - self.spill * both)).sum())
            savings -= float(self.overhead(np.array([float(s.sum())]))[0])
        elif arrangement.mode == APART:
            savings += float(self._apart(s[None, :], outside[None, :])[0])
        return float(self.alone[s].sum()) - savings

    def _memo(self, name: str, compute: Callable[[], FloatArray]) -> FloatArray:
        """A value kept on the (immutable) game: a Monte Carlo draw asks for c(N) about twelve
        times and for the stand-alone costs five, and each evaluation took 1-2 ms at 20 players
        (a sixth of a draw's time outside the table and the LPs, measured)."""
        held = self.__dict__.get(name)
        if held is None:
            held = np.asarray(compute(), dtype=np.float64)
            held.setflags(write=False)
            object.__setattr__(self, name, held)
        return held.copy()

    def standalone(self) -> FloatArray:
        """c({i}): each player's outside option (alone, reading what the rest publish)."""
        return self._memo("_standalone", lambda: self.costs_of(np.eye(self.n, dtype=bool)))

    def grand_cost(self) -> float:
        return float(self._memo("_grand", lambda: self.costs_of(np.ones((1, self.n), dtype=bool)))[0])

    def costs_without_each(self) -> FloatArray:
        if self.n == 1:
            return np.zeros(1)
        return self._memo("_without_each", lambda: self.costs_of(~np.eye(self.n, dtype=bool)))

    def private_costs(self) -> FloatArray:
        """What each member pays itself in the grand coalition: all but its share of the joint costs.

        Under a joint commons that is everything but the commons and the overhead; when the
        members do best apart, each pays its own way and nothing is joint.
        """
        return self._memo("_private", self._private_costs)

    def _private_costs(self) -> FloatArray:
        full = np.ones(self.n, dtype=bool)
        arr = self.arrangement(full)
        if arr.mode == APART:
            return np.asarray(self.alone - self._own_values(arr.outside_levels[None, :])[0], dtype=np.float64)
        if arr.mode == NONE:
            return self.alone.copy()
        drawn = np.minimum(self.demand, arr.levels[:, None])
        return np.asarray(self.alone - (self.gain * drawn).sum(axis=0), dtype=np.float64)

    def joint_cost(self) -> float:
        """The commons' cost and the overhead in the grand coalition: c(N) minus the private costs."""
        return self.grand_cost() - float(self.private_costs().sum())

    def to_explicit(self, *, split: bool = True) -> ExplicitGame:
        """All 2^n costs in O(K 2^n), in natural bit order (_kernels).

        Per term, P_k(S) comes from S less its member of smallest demand: below that member's
        demand every member of S stands in the layer, so only the bottom layers change. Spillover
        needs, for every coalition S, the level of the rest T = N \\ S: the first position F (in
        descending demand) where T's own cumulative gain exceeds K, found the same way for T. S
        then draws sum_{i in S} e_i min(d_i, d_F) = d_F e(S & A) + sum_{i in S - A} e_i d_i, with A
        the players before F, and its layers below d_F are P(S) - P(S & A) + d_F (e(S & A) - K)+.
        One pass (_kernels.commons_costs) takes c(S) = sum a_i - reach - max(0, together, apart),
        with whether the rest runs read at the complement.

        The table is built by a job (table_job) any thread may work on. If another thread has
        started it (Monte Carlo's draw-ahead thread), this one takes the tasks left and waits for
        the rest. Otherwise, from _kernels.PIPELINE_PLAYERS on, a second thread works on it too
        unless `split` is False. Wherever a task runs, every value is computed the same way.
        """
        cached = self.__dict__.get("_explicit")
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        table = self._finish(*self.table_job(), split)
        object.__setattr__(self, "_explicit", table)  # several rules and the core check share one table
        self.__dict__.pop("_table_job", None)
        return table

    def table_job(self) -> tuple[_kernels.Job, FloatArray]:
        """The job that fills this game's table, made once, and the array it fills."""
        with _JOB_LOCK:
            held = self.__dict__.get("_table_job")
            if held is None:
                held = self._table_job()
                object.__setattr__(self, "_table_job", held)
        return held  # type: ignore[no-any-return]

    def _build_explicit(self, split: bool = True) -> ExplicitGame:
        """A new table, not kept on the game (the tests and the bench compare builds)."""
        return self._finish(*self._table_job(), split)

    def _finish(self, job: _kernels.Job, costs: FloatArray, split: bool) -> ExplicitGame:
        """Work on the job until it is done (with the second thread from PIPELINE_PLAYERS on,
        when `split` and the job is not already done) and take its costs as the table."""
        if split and self.n >= _kernels.PIPELINE_PLAYERS and not job.done:
            helper = _kernels.walker().submit(job.work)
            job.work()
            helper.result()
        else:
            job.work()
        costs.setflags(write=False)
        return ExplicitGame(self.players, costs)  # a read-only table is taken without a copy

    def _table_job(self) -> tuple[_kernels.Job, FloatArray]:
        """The table's tasks: each term's P and F (commons_pool), then the costs in chunks of
        block pairs (commons_costs). The work arrays are the scratch of the thread that makes the
        job, which works on it until it is done before it makes another."""
        n = self.n
        if n > MAX_EXPLICIT_PLAYERS:
            raise TooLargeError(f"cannot enumerate all coalitions of {n} players (limit {MAX_EXPLICIT_PLAYERS})")
        h1 = float(self.overhead(np.ones(1))[0])
        margin = self._own_margin  # type: ignore[attr-defined]
        # A commons of one pays its member base_i less what outside reading makes unnecessary. Where
        # it pays even with the most reading, apart's term for i is linear in min(d_ki, X_k) and
        # rides along the walk with weights margin_ki ("linear"); the few others ("kinked") are
        # evaluated per coalition from the levels X_k.
        base = (margin * self.demand).sum(axis=0)
        least = base - (self.spill[:, None] * margin * self.demand).sum(axis=0)
        possible = self._own_possible  # type: ignore[attr-defined]
        linear = np.zeros(n, dtype=bool)
        linear[possible] = least[possible] >= h1
        kinked = np.array([i for i in possible if not linear[i]], dtype=np.int64)
        terms = len(self.unit_cost)
        term_pool, first = _kernels.scratch(n, terms)
        rank = np.empty((terms, n), dtype=np.int64)
        prefix = np.empty((terms, n), dtype=np.int64)
        for k in range(terms):
            order = self._order[k]  # type: ignore[attr-defined]
            rank[k, order] = np.arange(n)
            prefix[k, order] = np.concatenate([[0], np.cumsum(np.int64(1) << order.astype(np.int64))[:-1]])

        def pool(k: int) -> Callable[[], None]:
            return lambda: _kernels.commons_pool(
                n, self.demand[k], self.gain[k], rank[k], float(self.unit_cost[k]), bool(self.spill[k] > 0),
                term_pool[k], first[k],
            )  # fmt: skip

        costs = np.empty(1 << n)
        pooling: BoolArray = self._pooling  # type: ignore[attr-defined]
        halves, low_t, high_t = _kernels.cost_tables(
            n, self.demand, self.gain, np.ascontiguousarray(margin * linear), self.alone,
            np.where(linear, base - h1, 0.0), pooling.astype(np.int64),
        )  # fmt: skip
        shared = (
            n, self.demand, self.gain, prefix, self.unit_cost, self.spill, term_pool, first, halves, low_t, high_t,
            self.overhead(np.arange(n + 1, dtype=np.float64)), bool(possible.size), kinked,
            np.ascontiguousarray(base[kinked]), h1, costs,
        )  # fmt: skip

        def chunk(start: int, stop: int) -> Callable[[], None]:
            return lambda: _kernels.commons_costs(*shared, start, stop)

        pairs = _kernels.block_pairs(n)
        step = -(-pairs // _kernels.COST_CHUNKS)
        job = _kernels.Job(
            [[pool(k) for k in range(terms)], [chunk(s, min(s + step, pairs)) for s in range(0, pairs, step)]]
        )
        return job, costs


_JOB_LOCK = threading.Lock()


def combine_commons(games: Sequence[CommonsGame], factors: Sequence[float]) -> CommonsGame:
    """sum_t factor_t * game_t, coefficient by coefficient, for games on the same demands.

    The result is the game of one arrangement kept over all the games' years (docs/model.md).
    """
    first = games[0]
    for game in games[1:]:
        if game.players != first.players or game.overhead_exponent != first.overhead_exponent:
            raise InvalidGameError("only games on the same players and overhead shape combine")
        if not np.array_equal(game.demand, first.demand) or not np.array_equal(game.spill, first.spill):
            raise InvalidGameError("only games with the same demands and spillover combine")
    f = [float(v) for v in factors]

    def total(attr: str) -> FloatArray:
        return np.asarray(sum(w * getattr(g, attr) for w, g in zip(f, games, strict=True)), dtype=np.float64)

    return CommonsGame(
        players=first.players,
        alone=total("alone"),
        demand=first.demand,
        gain=total("gain"),
        unit_cost=total("unit_cost"),
        spill=first.spill,
        overhead_fixed=float(sum(w * g.overhead_fixed for w, g in zip(f, games, strict=True))),
        overhead_per_member=float(sum(w * g.overhead_per_member for w, g in zip(f, games, strict=True))),
        overhead_exponent=first.overhead_exponent,
        term_names=first.term_names,
    )
