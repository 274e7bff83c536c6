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

from ._bits import FloatArray
from ._excess import check_allocations
from .commons import CommonsGame
from .games import ExplicitGame
from .rules.nucleolus import least_core_epsilon_warm
from .separation import commons_max_excess_bound
from .stability import _max_excess_searched, least_core_over

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
    max_excess, blocked, blockers, blocker_excess = check_allocations(
        table.costs, np.asarray(allocations, dtype=np.float64), tol, BLOCKERS_PER_DRAW
    )
    efficient = np.abs(allocations.sum(axis=1) - grand) <= tol * n
    in_core = efficient & ~blocked
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
    return _draw_stability(draws, (p_core, se_core), (p_nonempty, se_nonempty), max_excess, epsilon, groups)


def _draw_stability(
    draws: int,
    in_core: tuple[float, float],
    nonempty: tuple[float, float],
    max_excess: FloatArray,
    epsilon: FloatArray,
    groups: Sequence[BlockingGroup],
    method: str = METHOD_EXHAUSTIVE,
) -> DrawStability:
    """A DrawStability from its probabilities (each with its standard error) and the per-draw largest
    excesses and least-core epsilons, reported by their P10/P50/P90."""
    ex = _bands(max_excess)
    eps = _bands(epsilon)
    return DrawStability(
        draws=draws,
        prob_in_core=in_core[0],
        prob_in_core_stderr=in_core[1],
        prob_core_nonempty=nonempty[0],
        prob_core_nonempty_stderr=nonempty[1],
        max_excess_p10=ex[0],
        max_excess_p50=ex[1],
        max_excess_p90=ex[2],
        least_core_epsilon_p10=eps[0],
        least_core_epsilon_p50=eps[1],
        least_core_epsilon_p90=eps[2],
        blocking=tuple(groups),
        method=method,
    )


# ---- beyond the table: separation per draw (docs/model.md, section 6) ---------------------------

# Beyond MAX_DRAW_PLAYERS the per-draw check solves mixed-integer programs, seconds each at 100 and
# more members, so only C of a run's D draws are checked: SEPARATION_LAB_DRAWS / n of them, between
# SEPARATION_MIN_DRAWS and SEPARATION_MAX_DRAWS (never more than the run has), evenly spread (draws
# 0, s, 2s, ... with s = D // C) so that every chunk of a run shares the work. Which draws are
# checked depends only on n and D, never on the clock or the chunking.
SEPARATION_LAB_DRAWS = 1_000
SEPARATION_MIN_DRAWS = 5
SEPARATION_MAX_DRAWS = 50
# Time limit of each mixed-integer program (HiGHS); a program stopped by it gives a bracket.
SEPARATION_SECONDS = 2.0
# Rounds of the least-core cutting planes per draw (a count, not a clock, so results repeat).
SEPARATION_ROUNDS = 12
# With spillover a round costs a local search and often a program stopped at its limit: 1 to 7 s
# at 50 to 100 members, and 12 rounds left the sign of epsilon open at 50 and at 100 members
# (83 s a draw at 100, measured), so fewer rounds are run, as the local search alone had before.
SPILL_ROUNDS = 3
METHOD_SEPARATION = "exact separation (HiGHS MILP over all coalitions)"
# Runs stored before engine 2.5 checked draws with spillover by local search alone; their method
# still reads so (summarize_separated), though every check now is exact separation.
METHOD_SEARCH = "local search (spillover: no exact separation)"


def separation_draws(n: int, draws: int) -> int:
    """How many of a run's draws get the per-draw check beyond MAX_DRAW_PLAYERS members."""
    if n <= MAX_DRAW_PLAYERS:
        return draws
    return min(draws, max(SEPARATION_MIN_DRAWS, min(SEPARATION_MAX_DRAWS, SEPARATION_LAB_DRAWS // n)))


def checked_draws(n: int, draws: int) -> range:
    """The draws checked beyond MAX_DRAW_PLAYERS: C = separation_draws(n, draws) of them, one in
    draws // C from draw 0."""
    count = separation_draws(n, draws)
    stride = max(1, draws // count) if count else 1
    return range(0, count * stride, stride)


def _mask(flags: np.ndarray) -> int:
    """A coalition as an arbitrary-precision integer (bit i: player i), exact for any n."""
    return sum(1 << int(i) for i in np.flatnonzero(flags))


def _flags(mask: int, n: int) -> np.ndarray:
    return np.array([(mask >> i) & 1 for i in range(n)], dtype=bool)


def max_excess_bracket(
    game: CommonsGame, x: FloatArray, *, time_limit: float = SEPARATION_SECONDS, enough: float | None = None
) -> tuple[dict[int, float], float, bool]:
    """Coalitions found with their exact excess x(S) - c(S) (masks as ints), an upper bound on the
    largest excess over proper coalitions, and whether the program proved its optimum.

    Singletons directly, members apart in closed form and the separation program
    (separation.commons_max_excess_bound: one joint commons without spillover, every arrangement
    and the rest's levels with it); the bound is the program's optimum, or its dual bound when the
    time limit stops it. Proven optimal, the bound is the largest exact excess found.

    With spillover the program is much slower (seconds from 20 members on), so a greedy local
    search (stability._max_excess_searched) runs first: when `enough` is given and the search finds
    a coalition whose excess exceeds it (a blocker, for a verdict; a violated cut, for the
    least-core planes), that answers the caller and the program does not run (the bound is then
    infinite). Otherwise its coalition joins the program's (HiGHS takes no starting point)."""
    n = game.n
    single = x - game.standalone()
    found = {1 << i: float(single[i]) for i in range(n)}
    if n <= 2:
        return found, float(single.max()), True
    order = np.argsort(-single, kind="stable")
    apart = np.zeros(n, dtype=bool)
    apart[order[: int(np.clip((single > 0).sum(), 2, n - 1))]] = True
    rows = [apart]
    if (game.spill > 0).any():
        searched, value = _max_excess_searched(game, x)
        if searched is not None:
            rows.append(searched)
        if enough is not None and max(value, float(single.max())) > enough:
            return _evaluated(game, x, rows, found), np.inf, False
    members, exact, bound = commons_max_excess_bound(game, x, time_limit=time_limit)
    if members is not None:
        rows.append(members)
    # Proven optimal, the program's coalition is the largest excess: its exact value (below) is
    # the bound, free of HiGHS's feasibility tolerance; stopped early, the dual bound is.
    upper = -np.inf if exact else bound
    found = _evaluated(game, x, rows, found)
    upper = max(upper, float(max(found.values())))
    return found, upper, exact


def _evaluated(game: CommonsGame, x: FloatArray, rows: list[np.ndarray], found: dict[int, float]) -> dict[int, float]:
    """`found` with the exact excess of each coalition in `rows` (membership flags) added."""
    stack = np.array(rows)
    values = stack.astype(np.float64) @ x - game.costs_of(stack)
    for flags, value in zip(stack, values, strict=True):
        found[_mask(flags)] = float(value)
    return found


@dataclass(frozen=True)
class SeparatedDraw:
    """One draw checked by separation: per rule the largest excess found (a real coalition's) and an
    upper bound (equal when proven, infinite without a bound), whether no blocker was found (the
    in-core verdict: a proof when the search is exact and the bound at most the tolerance), whether
    the verdict is decided, the blockers found (masks as ints, largest first) and their excesses;
    the least-core epsilon's bracket; whether the search is exact (every check from engine 2.5 on:
    runs stored before it checked draws with spillover by local search)."""

    max_excess: FloatArray  # (R,)
    max_excess_upper: FloatArray  # (R,)
    in_core: np.ndarray  # (R,) bool
    decided: np.ndarray  # (R,) bool
    blockers: tuple[tuple[int, ...], ...]  # (R,) of up to BLOCKERS_PER_DRAW masks
    blocker_excess: FloatArray  # (R, BLOCKERS_PER_DRAW), NaN where fewer block
    epsilon_lower: float
    epsilon_upper: float
    exact: bool


def least_core_bracket(
    game: CommonsGame,
    seeds: Sequence[int] = (),
    *,
    time_limit: float = SEPARATION_SECONDS,
    rounds: int = SEPARATION_ROUNDS,
    upper: float = np.inf,
) -> tuple[float, float]:
    """The least-core epsilon by cutting planes with max_excess_bracket as the separation step:
    (lower, upper). The LP over the cuts found so far gives the lower end; the bound of the LP
    point's largest excess the upper end (equal when converged with an exact search, infinite
    without a bound; `upper`, a known bound such as an efficient allocation's, caps it). `seeds`
    are coalitions to start from (the rules' blockers). Stops after
    `rounds`, when no new violated coalition is found, or as soon as the bracket decides whether
    the core is empty (an upper end at most the tolerance, or a lower end above it)."""
    n = game.n
    grand = game.grand_cost()
    tol = tolerance(grand, game.standalone())
    full = (1 << n) - 1
    cuts: dict[int, None] = {}
    for mask in [1 << i for i in range(n)] + list(seeds):
        if 0 < mask < full:
            cuts[mask] = None
            cuts[full ^ mask] = None
    lower = -np.inf
    if n == 1:
        return 0.0, 0.0
    for _ in range(rounds if upper > tol else 0):
        x, lower = least_core_over(game, np.array([_flags(mask, n) for mask in cuts]), grand)
        found, bound, _ = max_excess_bracket(game, x, time_limit=time_limit, enough=lower + tol)
        upper = min(upper, max(bound, lower))
        if upper <= tol or lower > tol:
            break  # the sign is decided: the core is non-empty, or empty
        fresh = [mask for mask, value in found.items() if value > lower + tol and mask not in cuts]
        if not fresh:
            break
        for mask in fresh:
            cuts[mask] = None
            cuts[full ^ mask] = None
    return lower, upper


def check_draw_separation(
    game: CommonsGame,
    allocations: FloatArray,
    *,
    time_limit: float | None = None,
    rounds: int | None = None,
) -> SeparatedDraw:
    """check_draw without the 2^n table: every rule's allocation (rows) against the core of `game`
    by max_excess_bracket, and the least-core epsilon by least_core_bracket (SEPARATION_SECONDS and
    SEPARATION_ROUNDS, SPILL_ROUNDS with spillover, unless given)."""
    time_limit = SEPARATION_SECONDS if time_limit is None else time_limit
    if rounds is None:
        rounds = SPILL_ROUNDS if (game.spill > 0).any() else SEPARATION_ROUNDS
    n = game.n
    rules = allocations.shape[0]
    grand = game.grand_cost()
    tol = tolerance(grand, game.standalone())
    max_excess = np.zeros(rules)
    upper = np.zeros(rules)
    in_core = np.ones(rules, dtype=bool)
    decided = np.ones(rules, dtype=bool)
    blockers: list[tuple[int, ...]] = []
    blocker_excess = np.full((rules, BLOCKERS_PER_DRAW), np.nan)
    exact = True  # the programs are exact with and without spillover; the time limit leaves brackets
    if n == 1:
        return SeparatedDraw(max_excess, upper, in_core, decided, ((),) * rules, blocker_excess, 0.0, 0.0, exact)
    eps_upper = np.inf
    seeds: dict[int, None] = {}
    for r in range(rules):
        x = allocations[r]
        found, bound, _ = max_excess_bracket(game, x, time_limit=time_limit, enough=tol)
        ranked = sorted(found.items(), key=lambda item: (-item[1], item[0]))
        best = ranked[0][1]
        blocking = [(mask, value) for mask, value in ranked if value > tol][:BLOCKERS_PER_DRAW]
        efficient = abs(float(x.sum()) - grand) <= tol * n
        max_excess[r], upper[r] = best, bound
        in_core[r] = efficient and not blocking
        decided[r] = not in_core[r] or bound <= tol
        blockers.append(tuple(mask for mask, _ in blocking))
        blocker_excess[r, : len(blocking)] = [value for _, value in blocking]
        seeds.update((mask, None) for mask, _ in ranked[:BLOCKERS_PER_DRAW])
        if efficient:
            eps_upper = min(eps_upper, bound)  # any efficient point's largest excess bounds epsilon
    lower, eps = least_core_bracket(
        game,
        list(seeds),
        time_limit=time_limit,
        rounds=rounds,
        upper=eps_upper,
    )
    return SeparatedDraw(
        max_excess, upper, in_core, decided, tuple(blockers), blocker_excess, lower, min(eps, eps_upper), exact
    )


def summarize_separated(
    players: Sequence[str],
    total_draws: int,
    max_excess: FloatArray,
    in_core: np.ndarray,
    decided: np.ndarray,
    blockers: Sequence[Sequence[int]],
    blocker_excess: FloatArray,
    epsilon_lower: FloatArray,
    epsilon_upper: FloatArray,
    tolerances: FloatArray,
    exact: np.ndarray,
) -> DrawStability:
    """One rule over the C draws checked by separation (checked_draws of the run's `total_draws`):
    arrays of length C, `blockers` C sequences of masks (ints), `blocker_excess` (C, K).

    P(in core) is the share of checked draws in which no coalition was found to block, with its
    standard error over C; it is exact where the search is exact and the bound decided the verdict,
    and an upper bound otherwise (the method says how many draws that concerns). P(core non-empty)
    likewise counts the draws whose least-core epsilon's lower end is at most the tolerance (the
    method counts those whose upper end is not). The
    epsilon band reports each draw's upper end where it is finite, else the lower end."""
    checked = len(max_excess)
    p_core, se_core = proportion(int(np.count_nonzero(in_core)), checked)
    p_nonempty, se_nonempty = proportion(int(np.count_nonzero(epsilon_lower <= tolerances)), checked)
    counts: dict[int, list[float]] = {}
    for row, masks in enumerate(blockers):
        for j, mask in enumerate(masks):
            counts.setdefault(int(mask), []).append(float(blocker_excess[row, j]))
    ranked = sorted(counts.items(), key=lambda item: (-len(item[1]), -float(np.median(item[1])), item[0]))
    n = len(players)
    groups = []
    for mask, gains in ranked[:REPORTED_BLOCKERS]:
        share, stderr = proportion(len(gains), checked)
        groups.append(
            BlockingGroup(
                members=tuple(players[i] for i in range(n) if (mask >> i) & 1),
                share=share,
                share_stderr=stderr,
                gain_p50=float(np.median(gains)),
                gain_max=float(max(gains)),
            )
        )
    epsilon = np.where(np.isfinite(epsilon_upper), epsilon_upper, epsilon_lower)
    return _draw_stability(
        checked,
        (p_core, se_core),
        (p_nonempty, se_nonempty),
        max_excess,
        epsilon,
        groups,
        separation_method(
            checked,
            total_draws,
            int(np.count_nonzero(exact)),
            int(np.count_nonzero(~decided)),
            int(np.count_nonzero((epsilon_lower <= tolerances) & ~(epsilon_upper <= tolerances))),
        ),
    )


def separation_method(checked: int, total: int, exact: int, undecided: int, open_sign: int = 0) -> str:
    """The method of a separated check in words, at most 200 characters (the stored column's width):
    which draws, how, and how many verdicts (`undecided`) and least-core signs (`open_sign`) the
    programs left as brackets (counted in the core and non-empty, so those shares are upper bounds)."""
    stride = total // checked if checked else 1
    head = f"{checked:,} of {total:,} draws" + (f" (one in {stride:,})" if stride > 1 else "") + " checked by "
    if exact == 0:
        return (head + METHOD_SEARCH + ", so P(in core) and P(core non-empty) are upper bounds")[:200]
    if exact == checked:
        text = head + METHOD_SEPARATION
    else:
        text = head + f"exact separation in {exact:,}, local search (spillover) in the rest"
    if undecided:
        text += f"; {undecided:,} undecided (time limit), counted in the core"
    if open_sign:
        text += f"; {open_sign:,} with emptiness open, counted non-empty"
    return text[:200]
