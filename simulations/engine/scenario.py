"""A whole scenario: central allocation, stability, Monte Carlo bands, settlement and yearly series.

Designed for chunked execution: `simulate_chunk` on any workers, then `finalize` merges the chunks
deterministically. `run_scenario` does both in one process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._bits import FloatArray
from .drawstability import DrawStability, checked_draws, proportion, summarize, summarize_separated
from .errors import EngineError, InvalidParameterError
from .model import build_game, discount_factors, outsider_share, plausibility_warnings, yearly_games
from .montecarlo import ChunkResult, ChunkSeparation, ChunkStability, simulate_chunk, uncertain_names
from .params import LabInput, Params
from .rules import RULE_LABELS, allocate, normalize_rule
from .rules.simple import private_costs
from .stability import Stability, check_stability

ENGINE_VERSION = "2.5.2"
MAX_DRAWS = 1_000_000
# Generator stream for the central run (draws use [seed, k]; k < MAX_DRAWS never equals this).
CENTRAL_STREAM = 2**32 - 1


@dataclass(frozen=True)
class ScenarioSpec:
    """Everything a run needs; JSON round trip with to_dict / from_dict.

    `uncertain` names the parameters Monte Carlo draws (see montecarlo.uncertain_names()); they
    are kept in a canonical order so the same set always gives the same numbers.
    """

    labs: tuple[LabInput, ...]
    params: Params
    rules: tuple[str, ...]
    draws: int = 1000
    seed: int = 0
    uncertain: tuple[str, ...] = field(default_factory=uncertain_names)

    def __post_init__(self) -> None:
        if isinstance(self.labs, list):
            object.__setattr__(self, "labs", tuple(self.labs))
        if not self.labs:
            raise InvalidParameterError("a scenario needs at least one lab")
        names = [lab.name for lab in self.labs]
        dupes = sorted({name for name in names if names.count(name) > 1})
        if dupes:
            raise InvalidParameterError(f"duplicated lab name(s): {', '.join(dupes)}")
        rules = tuple(dict.fromkeys(normalize_rule(rule) for rule in self.rules))
        if not rules:
            raise InvalidParameterError("a scenario needs at least one rule")
        object.__setattr__(self, "rules", rules)
        if isinstance(self.draws, bool) or not isinstance(self.draws, int) or not 0 <= self.draws <= MAX_DRAWS:
            raise InvalidParameterError(f"draws must be a whole number in [0, {MAX_DRAWS}], got {self.draws!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise InvalidParameterError(f"seed must be a non-negative whole number, got {self.seed!r}")
        known = uncertain_names()
        unknown = sorted(set(self.uncertain) - set(known))
        if unknown:
            raise InvalidParameterError(
                f"cannot draw {', '.join(unknown)}; uncertain parameters are: {', '.join(known)}"
            )
        object.__setattr__(self, "uncertain", tuple(name for name in known if name in self.uncertain))

    def to_dict(self) -> dict[str, Any]:
        return {
            "labs": [lab.to_dict() for lab in self.labs],
            "params": self.params.to_dict(),
            "rules": list(self.rules),
            "draws": self.draws,
            "seed": self.seed,
            "uncertain": list(self.uncertain),
            "engine_version": ENGINE_VERSION,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScenarioSpec:
        return cls(
            labs=tuple(LabInput.from_dict(lab) for lab in data["labs"]),
            params=Params.from_dict(data.get("params", {})),
            rules=tuple(data["rules"]),
            draws=int(data.get("draws", 1000)),
            seed=int(data.get("seed", 0)),
            uncertain=tuple(data["uncertain"]) if "uncertain" in data else uncertain_names(),
        )


@dataclass(frozen=True)
class MemberResult:
    """One member under one rule. Money in $ (present value unless `_by_year`).

    `standalone_cost` is the member's outside option: going alone while reading what the rest
    publish (the stability check's assumption). `no_consortium_cost` is going alone in a world
    without the consortium. The headline `savings` / `savings_pct` are the median over the draws
    (ScenarioResult.headline says so), so they lie inside the P10-P90 band; `savings_central` is
    the value at the scenario's own parameters. Costs are at central parameters. `direct_cost` is
    the member's private cost (what it pays itself), and `note` says in words why a member is
    worse off than its outside option, when it is. `prob_above_outside` is the share of draws in
    which the member pays more than its outside option (with its binomial standard error).
    """

    name: str
    standalone_cost: float
    allocated_cost: float
    savings: float
    savings_pct: float
    savings_central: float
    savings_pct_central: float
    no_consortium_cost: float
    savings_vs_no_consortium: float
    savings_vs_no_consortium_pct: float
    savings_vs_no_consortium_p10: float
    savings_vs_no_consortium_p90: float
    note: str
    direct_cost: float
    pool_share: float
    delivered_value: float
    settlement: float
    savings_p10: float
    savings_p50: float
    savings_p90: float
    savings_pct_p10: float
    savings_pct_p50: float
    savings_pct_p90: float
    prob_saving: float
    standalone_by_year: tuple[float, ...]
    consortium_by_year: tuple[float, ...]
    cumulative_savings_by_year: tuple[float, ...]
    prob_above_outside: float = float("nan")
    prob_above_outside_stderr: float = float("nan")


@dataclass(frozen=True)
class Transfer:
    payer: str
    payee: str
    amount: float


@dataclass(frozen=True)
class RuleResult:
    rule: str
    label: str
    exact: bool
    method: str
    stability: Stability
    members: tuple[MemberResult, ...]
    transfers: tuple[Transfer, ...]
    stderr: tuple[float, ...] | None = None
    draw_stability: DrawStability | None = None


HEADLINE_MEDIAN = "median of the draws"
HEADLINE_CENTRAL = "value at central parameters"
STABILITY_ASSUMPTION = (
    "A group that leaves goes on alone while the rest stay together and keep publishing (when at least two of "
    "them have something to pool): it reads their published work after the embargo, to the extent of the "
    "spillover share, at the absorption cost."
)


@dataclass(frozen=True)
class ScenarioResult:
    engine_version: str
    players: tuple[str, ...]
    years: tuple[int, ...]
    draws: int
    seed: int
    grand_cost: float
    standalone_total: float
    rules: dict[str, RuleResult]
    headline: str = HEADLINE_MEDIAN
    warnings: tuple[str, ...] = ()
    outsider_share: float = 0.0
    stability_assumption: str = STABILITY_ASSUMPTION
    no_consortium_total: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: NaN and infinities become None."""
        out: dict[str, Any] = _json_safe(
            {
                "engine_version": self.engine_version,
                "players": list(self.players),
                "years": list(self.years),
                "draws": self.draws,
                "seed": self.seed,
                "grand_cost": self.grand_cost,
                "standalone_total": self.standalone_total,
                "no_consortium_total": self.no_consortium_total,
                "headline": self.headline,
                "warnings": list(self.warnings),
                "outsider_share": self.outsider_share,
                "stability_assumption": self.stability_assumption,
                "rules": {
                    name: {
                        "rule": rr.rule,
                        "label": rr.label,
                        "exact": rr.exact,
                        "method": rr.method,
                        "stderr": list(rr.stderr) if rr.stderr is not None else None,
                        "stability": rr.stability.to_dict(),
                        "draw_stability": rr.draw_stability.to_dict() if rr.draw_stability else None,
                        "members": [vars(m) for m in rr.members],
                        "transfers": [vars(t) for t in rr.transfers],
                    }
                    for name, rr in self.rules.items()
                },
            }
        )
        return out


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def settlement_transfers(names: Sequence[str], settlement: FloatArray, tol: float) -> tuple[Transfer, ...]:
    """Payments that clear the settlement: the largest debtor (positive) pays the largest creditor
    (negative) first. What members do not cover is owed to (or by) the pool, named "pool"."""
    balance = {name: float(v) for name, v in zip(names, settlement, strict=True)}
    rest = -sum(balance.values())
    if abs(rest) > tol:
        balance["pool"] = rest
    debtors = sorted((k for k, v in balance.items() if v > tol), key=lambda k: (-balance[k], k))
    creditors = sorted((k for k, v in balance.items() if v < -tol), key=lambda k: (balance[k], k))
    owed = {k: balance[k] for k in debtors}
    due = {k: -balance[k] for k in creditors}
    out: list[Transfer] = []
    i = j = 0
    while i < len(debtors) and j < len(creditors):
        payer, payee = debtors[i], creditors[j]
        amount = min(owed[payer], due[payee])
        out.append(Transfer(payer, payee, amount))
        owed[payer] -= amount
        due[payee] -= amount
        if owed[payer] <= tol:
            i += 1
        if due[payee] <= tol:
            j += 1
    return tuple(out)


def _merge_stability(chunks: Sequence[ChunkResult]) -> ChunkStability | None:
    """The per-draw checks of ordered chunks joined along the draws; None unless every chunk has them."""
    parts = [c.stability for c in chunks]
    if not parts or any(part is None for part in parts):
        return None
    axis = {"max_excess": 1, "in_core": 1, "blockers": 1, "blocker_excess": 1, "epsilon": 0, "tolerance": 0}
    return ChunkStability(
        **{name: np.concatenate([getattr(part, name) for part in parts], axis=a) for name, a in axis.items()}
    )


def _merge_separation(spec: ScenarioSpec, chunks: Sequence[ChunkResult]) -> ChunkSeparation | None:
    """The separation checks of ordered chunks joined; None unless every chunk has them and together
    they cover exactly the run's checked_draws(n, draws)."""
    parts = [c.separation for c in chunks]
    if not parts or any(part is None for part in parts):
        return None
    merged = ChunkSeparation.merge([part for part in parts if part is not None], len(spec.rules))
    expected = tuple(checked_draws(len(spec.labs), spec.draws))
    return merged if expected and merged.draws == expected else None


def _merge(spec: ScenarioSpec, chunks: Sequence[ChunkResult]) -> tuple[FloatArray, FloatArray, FloatArray]:
    players = tuple(lab.name for lab in spec.labs)
    ordered = sorted(chunks, key=lambda c: (c.start, c.stop))
    position = 0
    for chunk in ordered:
        if chunk.players != players or chunk.rules != spec.rules:
            raise EngineError(f"chunk [{chunk.start}, {chunk.stop}) belongs to a different scenario")
        if chunk.start != position:
            what = "overlap" if chunk.start < position else "a gap"
            raise EngineError(f"chunks do not cover the draws exactly: {what} at draw {min(position, chunk.start)}")
        position = chunk.stop
    if position != spec.draws:
        raise EngineError(f"chunks cover draws [0, {position}) but the scenario has {spec.draws}")
    n = len(players)
    if not ordered:
        return np.zeros((0, n)), np.zeros((len(spec.rules), 0, n)), np.zeros((0, n))
    return (
        np.concatenate([c.standalone for c in ordered], axis=0),
        np.concatenate([c.allocated for c in ordered], axis=1),
        np.concatenate([c.no_consortium for c in ordered], axis=0),
    )


def _pct(savings: FloatArray, standalone: FloatArray) -> FloatArray:
    out = np.full(np.shape(savings), np.nan)
    np.divide(100.0 * savings, standalone, out=out, where=standalone > 0)
    return out


def _quantiles(values: FloatArray, n: int) -> tuple[FloatArray, FloatArray]:
    """P10, P50, P90 per member (NaN where nothing is finite), and P(value > 0)."""
    if not len(values):
        return np.full((3, n), np.nan), np.full(n, np.nan)
    q = np.full((3, n), np.nan)
    finite = np.isfinite(values).any(axis=0)
    if finite.any():
        q[:, finite] = np.nanpercentile(values[:, finite], [10, 50, 90], axis=0)
    return q, (values > 0).mean(axis=0)


def _member_note(name: str, savings: float, stability: Stability, unit: str = "$") -> str:
    """Why a member is worse off than its outside option, in a sentence, when it is."""
    if not savings < 0:
        return ""
    text = (
        f"{name} pays {unit}{-savings:,.0f} more under this rule than going alone while reading the "
        "consortium's published work, so it would rather leave."
    )
    if stability.blocking_coalition:
        text += (
            f" The group most tempted to leave is {' + '.join(stability.blocking_coalition)}, which would pay "
            f"{unit}{stability.max_excess:,.0f} less on its own."
        )
    return text + (
        " A longer embargo or a lower spillover share makes leaving less attractive; a rule that stays in the "
        "core (the nucleolus, when the core is not empty) charges no group more than its outside option."
    )


def finalize(spec: ScenarioSpec, chunks: Sequence[ChunkResult]) -> ScenarioResult:
    """Merge chunks and compute every reported figure (see the module and docs/model.md)."""
    draw_standalone, draw_allocated, draw_alone = _merge(spec, chunks)
    checks = _merge_stability(sorted(chunks, key=lambda c: c.start)) if spec.draws > 0 else None
    separated = _merge_separation(spec, sorted(chunks, key=lambda c: c.start)) if checks is None else None
    if checks is not None:
        draw_tol = checks.tolerance
    else:
        grand_draws = draw_allocated[0].sum(axis=1) if spec.draws > 0 else np.zeros(0)
        top = np.abs(draw_standalone).max(axis=1) if spec.draws > 0 else np.zeros(0)
        draw_tol = 1e-9 * np.maximum(np.maximum(1.0, np.abs(grand_draws)), top)
    game = build_game(spec.labs, spec.params)
    alone_game = build_game(spec.labs, spec.params, spillover=False)
    years = yearly_games(spec.labs, spec.params)
    beta = discount_factors(spec.params)
    n = len(spec.labs)
    eye = np.eye(n, dtype=bool)
    singles = [game.arrangement(row) for row in eye]
    grand = game.arrangement(np.ones(n, dtype=bool))
    yearly_standalone = np.array([[g.cost_at(eye[i], singles[i]) for i in range(n)] for g in years])  # (T, n)
    yearly_grand = np.array([g.cost_at(np.ones(n, dtype=bool), grand) for g in years])
    pv_grand = float(beta @ yearly_grand)
    year_share = yearly_grand / pv_grand if pv_grand > 0 else np.full(len(years), 1.0 / float(beta.sum()))
    standalone = game.standalone()
    no_consortium = alone_game.standalone()
    direct = private_costs(game)
    delivered = np.array([lab.delivered_value for lab in spec.labs])
    weights = np.array([lab.weight for lab in spec.labs])
    names = tuple(lab.name for lab in spec.labs)
    tol = 1e-9 * max(1.0, abs(game.grand_cost()))
    headline = HEADLINE_MEDIAN if spec.draws > 0 else HEADLINE_CENTRAL
    least_core_eps: float | None = None
    results: dict[str, RuleResult] = {}
    for r, rule in enumerate(spec.rules):
        alloc = allocate(game, rule, weights=weights, rng=np.random.default_rng([spec.seed, CENTRAL_STREAM, r]))
        x = alloc.values
        stability = check_stability(game, x, least_core=least_core_eps is None)
        if least_core_eps is None:
            least_core_eps = stability.least_core_epsilon
        else:
            stability = Stability(**{**vars(stability), "least_core_epsilon": least_core_eps})
        savings = standalone - x
        pct = _pct(savings, standalone)
        vs_alone = no_consortium - x
        pool_share = x - direct
        settlement = pool_share - delivered
        consortium_by_year = np.outer(year_share, x)  # (T, n), nominal
        cumulative = np.cumsum(beta[:, None] * (yearly_standalone - consortium_by_year), axis=0)
        draw_savings = draw_standalone - draw_allocated[r]
        q_money, prob = _quantiles(draw_savings, n)
        q_pct, _ = _quantiles(_pct(draw_savings, draw_standalone), n)
        draw_vs_alone = draw_alone - draw_allocated[r]
        q_alone, _ = _quantiles(draw_vs_alone, n)
        q_alone_pct, _ = _quantiles(_pct(draw_vs_alone, draw_alone), n)
        above = draw_allocated[r] > draw_standalone + draw_tol[:, None]
        risk = [proportion(int(np.count_nonzero(above[:, i])), spec.draws) for i in range(n)]
        draw_stability = None
        if checks is not None:
            draw_stability = summarize(
                names,
                checks.max_excess[r],
                checks.in_core[r] > 0.5,
                checks.blockers[r].astype(np.int64),
                checks.blocker_excess[r],
                checks.epsilon,
                checks.tolerance,
            )
        elif separated is not None:
            draw_stability = summarize_separated(
                names,
                spec.draws,
                separated.max_excess[r],
                separated.in_core[r] > 0.5,
                separated.decided[r] > 0.5,
                separated.blockers[r],
                separated.blocker_excess[r],
                separated.epsilon_lower,
                separated.epsilon_upper,
                separated.tolerance,
                separated.exact > 0.5,
            )
        if spec.draws > 0:
            head, head_pct = q_money[1], q_pct[1]
            head_alone, head_alone_pct = q_alone[1], q_alone_pct[1]
        else:
            head, head_pct = savings, pct
            head_alone, head_alone_pct = vs_alone, _pct(vs_alone, no_consortium)
        members = tuple(
            MemberResult(
                name=names[i],
                standalone_cost=float(standalone[i]),
                allocated_cost=float(x[i]),
                savings=float(head[i]),
                savings_pct=float(head_pct[i]),
                savings_central=float(savings[i]),
                savings_pct_central=float(pct[i]),
                no_consortium_cost=float(no_consortium[i]),
                savings_vs_no_consortium=float(head_alone[i]),
                savings_vs_no_consortium_pct=float(head_alone_pct[i]),
                savings_vs_no_consortium_p10=float(q_alone[0, i]),
                savings_vs_no_consortium_p90=float(q_alone[2, i]),
                note=_member_note(names[i], float(savings[i]), stability),
                direct_cost=float(direct[i]),
                pool_share=float(pool_share[i]),
                delivered_value=float(delivered[i]),
                settlement=float(settlement[i]),
                savings_p10=float(q_money[0, i]),
                savings_p50=float(q_money[1, i]),
                savings_p90=float(q_money[2, i]),
                savings_pct_p10=float(q_pct[0, i]),
                savings_pct_p50=float(q_pct[1, i]),
                savings_pct_p90=float(q_pct[2, i]),
                prob_saving=float(prob[i]),
                standalone_by_year=tuple(float(v) for v in yearly_standalone[:, i]),
                consortium_by_year=tuple(float(v) for v in consortium_by_year[:, i]),
                cumulative_savings_by_year=tuple(float(v) for v in cumulative[:, i]),
                prob_above_outside=risk[i][0],
                prob_above_outside_stderr=risk[i][1],
            )
            for i in range(n)
        )
        results[rule] = RuleResult(
            rule=rule,
            label=RULE_LABELS[rule],
            exact=alloc.exact,
            method=alloc.method,
            stability=stability,
            members=members,
            transfers=settlement_transfers(names, settlement, tol),
            stderr=tuple(float(v) for v in alloc.stderr) if alloc.stderr is not None else None,
            draw_stability=draw_stability,
        )
    return ScenarioResult(
        engine_version=ENGINE_VERSION,
        players=names,
        years=tuple(range(1, spec.params.horizon_years + 1)),
        draws=spec.draws,
        seed=spec.seed,
        grand_cost=game.grand_cost(),
        standalone_total=float(standalone.sum()),
        rules=results,
        headline=headline,
        warnings=plausibility_warnings(spec.labs, spec.params),
        outsider_share=outsider_share(spec.params),
        no_consortium_total=float(no_consortium.sum()),
    )


def run_scenario(spec: ScenarioSpec) -> ScenarioResult:
    return finalize(spec, [simulate_chunk(spec, 0, spec.draws)])
