"""The membership advisor: what a candidate's joining, or a member's leaving, would do to a scenario.

`advise(spec, candidates)` computes, at central parameters and under the scenario's first rule, the
scenario itself and one variant per move: each candidate added, each member removed. A variant is
computed exactly as a run of the changed scenario computes its central figures (build_game on the
variant's labs in name order, allocate under the first rule with the central run's generator
stream, check_stability), so the advisor's numbers are those of that run.

Per variant: the change in the grand coalition's cost c(N), each staying member's savings before
and after (savings = outside option minus allocated cost), the moving lab's own savings (a joiner's
in the larger consortium, a leaver's now, which it gives up), and whether the core is non-empty
(the least-core epsilon at most the tolerance). Joins are ranked by the sum of the current members'
change in savings, largest first; leaves by the sum of the staying members' change, most negative
(the costliest departure) first; ties by name.

Work shared across variants: the scenario's own game and allocation are computed once; under the
nucleolus or the least core, whose allocation is in the core whenever the core is non-empty, a
variant is first checked without the least-core program, which a core point makes unnecessary; the
variants run on a small thread pool (numpy releases the GIL on the 2^n tables).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ._bits import FloatArray
from .errors import InvalidParameterError
from .model import LabArrays, build_game
from .params import AREA_LABELS, AREAS, LabInput, Params
from .rules import RULE_LABELS, allocate
from .scenario import CENTRAL_STREAM, ScenarioSpec
from .stability import check_stability

JOIN = "join"
LEAVE = "leave"
# Rules whose allocation is in the core whenever the core is non-empty.
CORE_RULES = ("nucleolus", "least_core")
# A member "needs" an area when it puts at least this share of its research there (the sentences say so).
NEED_SHARE = 0.2
RANKING = {
    JOIN: "by the sum of the current members' change in savings, largest first",
    LEAVE: "by the sum of the staying members' change in savings, most negative (costliest departure) first",
}

Weigh = Callable[[tuple[LabInput, ...]], Sequence[float]]


@dataclass(frozen=True)
class MemberChange:
    """One member that stays: its savings (US$, present value) before and after the move."""

    name: str
    before: float
    after: float
    pct_before: float
    pct_after: float

    @property
    def change(self) -> float:
        return self.after - self.before


@dataclass(frozen=True)
class Brings:
    """The moving lab's largest area of shareable research and the staying members that need it."""

    area: str
    gpu_hours: float  # H100-equivalent GPU-hours a year (year 0) it publishes into the commons there
    needing: tuple[str, ...]


@dataclass(frozen=True)
class Variant:
    """A lab joining or leaving. `error` is set (and the figures are NaN) when the variant cannot be computed."""

    lab: str
    move: str
    players: tuple[str, ...]
    grand_cost: float
    grand_cost_change: float
    changes: tuple[MemberChange, ...]
    own_savings: float
    own_savings_pct: float
    in_core: bool | None
    core_nonempty: bool | None
    least_core_epsilon: float | None
    brings: Brings
    reason: str
    error: str = ""

    @property
    def total_change(self) -> float:
        return float(sum(c.change for c in self.changes))

    @property
    def better_off(self) -> int:
        return sum(c.change > _tiny(c) for c in self.changes)

    @property
    def worse_off(self) -> int:
        return sum(c.change < -_tiny(c) for c in self.changes)


@dataclass(frozen=True)
class Advice:
    rule: str
    label: str
    players: tuple[str, ...]
    grand_cost: float
    savings: dict[str, float]
    core_nonempty: bool | None
    joins: tuple[Variant, ...]
    leaves: tuple[Variant, ...]
    ranking: dict[str, str]


@dataclass(frozen=True)
class _Central:
    players: tuple[str, ...]
    grand_cost: float
    standalone: FloatArray
    savings: FloatArray
    in_core: bool | None
    core_nonempty: bool | None
    epsilon: float | None


def _tiny(change: MemberChange) -> float:
    return 1e-9 * max(1.0, abs(change.before), abs(change.after))


def _tolerance(grand: float, standalone: FloatArray) -> float:
    """check_stability's tolerance, from figures already computed."""
    return 1e-9 * max(1.0, abs(grand), float(np.abs(standalone).max()))


def _central(labs: tuple[LabInput, ...], params: Params, rule: str, weights: Sequence[float], seed: int) -> _Central:
    """The central figures of a run of these labs: the same calls, in the same order, as scenario.finalize.

    The nucleolus and the least-core point lie in the core whenever it is non-empty, so for those
    rules a check without the least-core program comes first and usually settles it; for the
    other rules one check with it.
    """
    game = build_game(labs, params)
    rng = np.random.default_rng([seed, CENTRAL_STREAM, 0])
    x = allocate(game, rule, weights=np.asarray(weights, dtype=np.float64), rng=rng).values
    standalone = game.standalone()
    grand = game.grand_cost()
    in_core: bool | None
    nonempty: bool | None
    quick = check_stability(game, x, least_core=False) if rule in CORE_RULES else None
    if quick is not None and quick.in_core:
        in_core, nonempty, eps = True, True, None
    else:
        full = check_stability(game, x, least_core=True)
        eps = full.least_core_epsilon if math.isfinite(full.least_core_epsilon) else None
        # A blocking coalition found is a real one: not in the core, whether or not the search is exhaustive.
        in_core = True if full.in_core else False if full.exhaustive or full.blocking_coalition else None
        nonempty = True if full.in_core else None if eps is None else eps <= _tolerance(grand, standalone)
        if full.in_core:
            eps = None
    return _Central(
        players=tuple(lab.name for lab in labs),
        grand_cost=grand,
        standalone=standalone,
        savings=standalone - x,
        in_core=in_core,
        core_nonempty=nonempty,
        epsilon=eps,
    )


def _pct(savings: float, standalone: float) -> float:
    return 100.0 * savings / standalone if standalone > 0 else float("nan")


def brings(lab: LabInput, params: Params, others: Sequence[LabInput]) -> Brings:
    """The area where `lab` publishes most shareable research (o w_a s_a R, H100-equivalent GPU-hours in year 0)
    and which of `others` put at least NEED_SHARE of their research there."""
    arrays = LabArrays.from_labs([lab])
    shareable = np.asarray(params.shareable_fraction, dtype=np.float64)
    per_area = arrays.openness[0] * arrays.area_weights[0] * shareable * arrays.research[0]
    best = int(np.argmax(per_area))
    area = AREAS[best]
    needing = tuple(other.name for other in others if other.area_weights[best] >= NEED_SHARE - 1e-12)
    return Brings(area=area, gpu_hours=float(per_area[best]), needing=needing)


def gpu_hours_text(value: float) -> str:
    """2.1M, 350k, 900: GPU-hours short enough for a sentence."""
    if value >= 1e9:
        return f"{value / 1e9:.1f}B"
    if value >= 1e6:
        return f"{value / 1e6:.1f}M"
    if value >= 1e3:
        return f"{value / 1e3:.0f}k"
    return f"{value:.0f}"


def _count(k: int, word: str = "member") -> str:
    return f"{k} {word}{'' if k == 1 else 's'}"


def _effect(changes: Sequence[MemberChange]) -> str:
    up = sum(c.change > _tiny(c) for c in changes)
    down = sum(c.change < -_tiny(c) for c in changes)
    same = len(changes) - up - down
    if not changes:
        return "no member remains"
    if len(changes) == 1:
        only = changes[0]
        return f"{only.name} saves {'more' if up else 'less' if down else 'the same'}"
    if up == len(changes):
        return "every member saves more"
    if down == len(changes):
        return "every member saves less"
    if same == len(changes):
        return "no member's savings change"
    parts = []
    if up:
        parts.append(f"{_count(up)} save{'s' if up == 1 else ''} more")
    if down:
        parts.append(f"{_count(down)} save{'s' if down == 1 else ''} less")
    if same:
        parts.append(f"{same} save{'s' if same == 1 else ''} the same")
    return ", ".join(parts)


def _core_text(before: bool | None, after: bool | None) -> str:
    if after is None:
        return "whether the core is non-empty is not proven at this size"
    if after:
        return "the core stays non-empty" if before else "the core becomes non-empty"
    return "the core stays empty" if before is False else "the core becomes empty"


def _reason(move: str, name: str, found: Brings, changes: Sequence[MemberChange], core: tuple) -> str:
    label = AREA_LABELS[found.area]
    area = label[:1].lower() + label[1:]
    who = "members" if move == JOIN else "staying members"
    need = (
        f"an area where {_count(len(found.needing))} put{'s' if len(found.needing) == 1 else ''} at least "
        f"{NEED_SHARE:.0%} of {'its' if len(found.needing) == 1 else 'their'} research"
        if found.needing
        else f"an area where none of the {who} puts {NEED_SHARE:.0%} of its research"
    )
    if found.gpu_hours <= 0:
        what = (
            f"{name} brings no shareable research" if move == JOIN else f"{name}'s leaving takes no shareable research"
        )
    else:
        amount = f"{gpu_hours_text(found.gpu_hours)} H100-equivalent GPU-hours a year of shareable {area} research"
        what = f"{name} brings {amount}, {need}" if move == JOIN else f"{name}'s leaving takes away {amount}, {need}"
    return f"{what}; {_effect(changes)}; {_core_text(*core)}."


def _default_weigh(labs: tuple[LabInput, ...]) -> Sequence[float]:
    return [lab.weight for lab in labs]


def _failed(move: str, lab: LabInput, players: tuple[str, ...], found: Brings, error: str) -> Variant:
    nan = float("nan")
    return Variant(lab.name, move, players, nan, nan, (), nan, nan, None, None, None, found, error, error)


def advise(
    spec: ScenarioSpec,
    candidates: Sequence[LabInput],
    *,
    weigh: Weigh | None = None,
    workers: int | None = None,
) -> Advice:
    """Every candidate joining and every member leaving `spec`, at central parameters (module docstring).

    `weigh` gives the weighted rule's weights of a variant's labs (default: each lab's own `weight`);
    it raises InvalidParameterError when they cannot be given, which that variant reports as its
    `error`. The scenario itself uses its labs' own weights.
    """
    rule = spec.rules[0]
    weigh = weigh or _default_weigh
    members = {lab.name for lab in spec.labs}
    names = [lab.name for lab in candidates]
    clash = sorted(members & set(names))
    if clash:
        raise InvalidParameterError(f"already in the scenario, so not a candidate: {', '.join(clash)}")
    dupes = sorted({name for name in names if names.count(name) > 1})
    if dupes:
        raise InvalidParameterError(f"duplicated candidate(s): {', '.join(dupes)}")
    ordered = [lab.name for lab in spec.labs] == sorted(members)
    base = _central(spec.labs, spec.params, rule, [lab.weight for lab in spec.labs], spec.seed)
    before = dict(zip(base.players, base.savings.tolist(), strict=True))
    before_pct = {
        name: _pct(s, a)
        for name, s, a in zip(base.players, base.savings.tolist(), base.standalone.tolist(), strict=True)
    }

    def prepare(move: str, lab: LabInput) -> tuple[str, LabInput, tuple[LabInput, ...], tuple[LabInput, ...], object]:
        """The variant's labs, the staying members, and its weights (or the reason there are none).

        Weights are found here, one variant after another, because `weigh` may read a database;
        only the numeric work runs on the pool."""
        if move == JOIN:
            labs = (*spec.labs, lab)
            if ordered:
                labs = tuple(sorted(labs, key=lambda item: item.name))
            staying = spec.labs
        else:
            labs = tuple(item for item in spec.labs if item.name != lab.name)
            staying = labs
        weights: object
        if not labs:
            weights = f"{lab.name} is the only lab; no consortium would remain."
        elif rule == "weighted":
            try:
                weights = list(weigh(labs))
            except InvalidParameterError as exc:
                weights = f"Not computed: {exc}"
        else:
            weights = [item.weight for item in labs]
        return move, lab, labs, staying, weights

    def variant(job: tuple[str, LabInput, tuple[LabInput, ...], tuple[LabInput, ...], object]) -> Variant:
        move, lab, labs, staying, weights = job
        players = tuple(item.name for item in labs)
        found = brings(lab, spec.params, staying)
        if isinstance(weights, str):
            return _failed(move, lab, players, found, weights)
        try:
            result = _central(labs, spec.params, rule, weights, spec.seed)  # type: ignore[arg-type]
        except InvalidParameterError as exc:
            return _failed(move, lab, players, found, f"Not computed: {exc}")
        after = dict(zip(result.players, result.savings.tolist(), strict=True))
        standalone = dict(zip(result.players, result.standalone.tolist(), strict=True))
        changes = tuple(
            MemberChange(item.name, before[item.name], after[item.name], before_pct[item.name],
                         _pct(after[item.name], standalone[item.name]))
            for item in staying
        )  # fmt: skip
        own, own_pct = (
            (after[lab.name], _pct(after[lab.name], standalone[lab.name]))
            if move == JOIN
            else (before[lab.name], before_pct[lab.name])
        )
        core = (base.core_nonempty, result.core_nonempty)
        return Variant(
            lab=lab.name,
            move=move,
            players=players,
            grand_cost=result.grand_cost,
            grand_cost_change=result.grand_cost - base.grand_cost,
            changes=changes,
            own_savings=own,
            own_savings_pct=own_pct,
            in_core=result.in_core,
            core_nonempty=result.core_nonempty,
            least_core_epsilon=result.epsilon,
            brings=found,
            reason=_reason(move, lab.name, found, changes, core),
        )

    jobs = [prepare(JOIN, lab) for lab in candidates] + [prepare(LEAVE, lab) for lab in spec.labs]
    pool = workers if workers is not None else min(2, os.cpu_count() or 1)
    if pool > 1 and len(jobs) > 1:
        with ThreadPoolExecutor(max_workers=pool) as executor:
            done = list(executor.map(variant, jobs))
    else:
        done = [variant(job) for job in jobs]
    joins = [v for v in done if v.move == JOIN]
    leaves = [v for v in done if v.move == LEAVE]
    joins.sort(key=lambda v: (bool(v.error), -v.total_change if not v.error else 0.0, v.lab))
    leaves.sort(key=lambda v: (bool(v.error), v.total_change if not v.error else 0.0, v.lab))
    return Advice(
        rule=rule,
        label=RULE_LABELS[rule],
        players=base.players,
        grand_cost=base.grand_cost,
        savings=before,
        core_nonempty=base.core_nonempty,
        joins=tuple(joins),
        leaves=tuple(leaves),
        ranking=dict(RANKING),
    )
