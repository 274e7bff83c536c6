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
from .errors import EngineError, InvalidParameterError
from .model import build_game, discount_factors, yearly_games
from .montecarlo import ChunkResult, simulate_chunk, uncertain_names
from .params import LabInput, Params
from .rules import RULE_LABELS, allocate, normalize_rule
from .stability import Stability, check_stability

ENGINE_VERSION = "1.0.0"
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
    """One member under one rule. Money in $ (present value unless `_by_year`)."""

    name: str
    standalone_cost: float
    allocated_cost: float
    savings: float
    savings_pct: float
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
                "rules": {
                    name: {
                        "rule": rr.rule,
                        "label": rr.label,
                        "exact": rr.exact,
                        "method": rr.method,
                        "stderr": list(rr.stderr) if rr.stderr is not None else None,
                        "stability": rr.stability.to_dict(),
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


def _merge(spec: ScenarioSpec, chunks: Sequence[ChunkResult]) -> tuple[FloatArray, FloatArray]:
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
        return np.zeros((0, n)), np.zeros((len(spec.rules), 0, n))
    return (
        np.concatenate([c.standalone for c in ordered], axis=0),
        np.concatenate([c.allocated for c in ordered], axis=1),
    )


def _pct(savings: FloatArray, standalone: FloatArray) -> FloatArray:
    out = np.full(np.shape(savings), np.nan)
    np.divide(100.0 * savings, standalone, out=out, where=standalone > 0)
    return out


def finalize(spec: ScenarioSpec, chunks: Sequence[ChunkResult]) -> ScenarioResult:
    """Merge chunks and compute every reported figure (see the module and docs/model.md)."""
    draw_standalone, draw_allocated = _merge(spec, chunks)
    game = build_game(spec.labs, spec.params)
    years = yearly_games(spec.labs, spec.params)
    beta = discount_factors(spec.params)
    yearly_standalone = np.array([g.standalone() for g in years])  # (T, n)
    yearly_grand = np.array([g.grand_cost() for g in years])
    year_share = yearly_grand / float(beta @ yearly_grand)
    standalone = game.standalone()
    direct = game.additive
    delivered = np.array([lab.delivered_value for lab in spec.labs])
    weights = np.array([lab.weight for lab in spec.labs])
    names = tuple(lab.name for lab in spec.labs)
    tol = 1e-9 * max(1.0, abs(game.grand_cost()))
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
        pool_share = x - direct
        settlement = pool_share - delivered
        consortium_by_year = np.outer(year_share, x)  # (T, n), nominal
        cumulative = np.cumsum(beta[:, None] * (yearly_standalone - consortium_by_year), axis=0)
        draw_savings = draw_standalone - draw_allocated[r]
        draw_pct = _pct(draw_savings, draw_standalone)
        if len(draw_savings):
            q_money = np.percentile(draw_savings, [10, 50, 90], axis=0)
            q_pct = np.full((3, len(names)), np.nan)
            if np.isfinite(draw_pct).any():
                q_pct = np.nanpercentile(draw_pct, [10, 50, 90], axis=0)
            prob = (draw_savings > 0).mean(axis=0)
        else:
            q_money = q_pct = np.full((3, len(names)), np.nan)
            prob = np.full(len(names), np.nan)
        pct = _pct(savings, standalone)
        members = tuple(
            MemberResult(
                name=names[i],
                standalone_cost=float(standalone[i]),
                allocated_cost=float(x[i]),
                savings=float(savings[i]),
                savings_pct=float(pct[i]),
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
            )
            for i in range(len(names))
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
    )


def run_scenario(spec: ScenarioSpec) -> ScenarioResult:
    return finalize(spec, [simulate_chunk(spec, 0, spec.draws)])
