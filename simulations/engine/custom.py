"""Custom games: a coordinator's own cost table or airport game, split by the same rules.

Two kinds:
- "table": every coalition's cost c(S), as the CLI reads it (CSV `coalition,cost` or a JSON object
  mapping coalitions to costs), up to 20 players;
- "airport": player types, each with the cost of the facility level it needs and a count
  (simulations.engine.airport), up to millions of players.

`parse_custom_game` turns text into a normalised game (JSON-safe, stored with the scenario and
snapshotted into each run); `run_custom` computes every rule's allocation, each member's savings
against going alone (its stand-alone cost c({i})) and the core check. There is no uncertainty in a
given table, so there are no draws: the figures are exact and the bands collapse to the value.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._bits import FloatArray
from .airport import (
    AIRPORT_RULES,
    MAX_AIRPORT_EXPLICIT,
    AirportGame,
    airport_allocation,
    airport_from_rows,
    airport_max_excess,
    airport_nucleolus_levels,
    read_airport_csv,
    read_airport_json,
)
from .errors import EngineError, InvalidGameError, TooLargeError
from .games import ExplicitGame, read_csv_game, read_json_game
from .rules import RULE_LABELS, allocate, normalize_rule
from .stability import Stability, check_stability

GAME_KINDS = ("table", "airport")
CUSTOM_RULES = tuple(rule for rule in RULE_LABELS if rule != "weighted")
MAX_GAME_TEXT = 1_000_000


def parse_custom_game(kind: str, text: str) -> dict[str, Any]:
    """Read a game of `kind` from CSV or JSON text; return its normalised, JSON-safe form.

    Raises InvalidGameError / TooLargeError naming the offending row.
    """
    if kind not in GAME_KINDS:
        raise InvalidGameError(f"unknown kind of game {kind!r}; choose one of: {', '.join(GAME_KINDS)}")
    if len(text) > MAX_GAME_TEXT:
        raise TooLargeError(f"the game is {len(text):,} characters; the limit is {MAX_GAME_TEXT:,}")
    stripped = text.lstrip("\ufeff").strip()
    if not stripped:
        raise InvalidGameError("the game is empty: paste or upload a CSV or JSON table")
    is_json = stripped.startswith(("{", "["))
    if kind == "table":
        game = read_json_game(stripped) if is_json else read_csv_game(stripped + "\n")
        return table_to_dict(game)
    airport = read_airport_json(stripped) if is_json else read_airport_csv(stripped + "\n")
    return airport_to_dict(airport)


def table_to_dict(game: ExplicitGame) -> dict[str, Any]:
    return {
        "players": list(game.players),
        "coalitions": {game.coalition_name(mask): float(game.costs[mask]) for mask in range(1, 1 << game.n)},
    }


def airport_to_dict(game: AirportGame) -> dict[str, Any]:
    return {
        "players": [
            {
                "player": name,
                "level": game.levels[t] if game.levels else "",
                "cost": float(game.costs[t]),
                "count": int(game.counts[t]),
            }
            for t, name in enumerate(game.types)
        ]
    }


def build_custom_game(kind: str, game: dict[str, Any]) -> ExplicitGame | AirportGame:
    if kind == "table":
        return read_json_game(game["coalitions"])
    if kind == "airport":
        return airport_from_rows(game["players"])
    raise InvalidGameError(f"unknown kind of game {kind!r}")


def custom_player_names(kind: str, game: dict[str, Any]) -> list[str]:
    """The names a coordinator matches to labs: players of a table, types of an airport game."""
    if kind == "table":
        return list(game["players"])
    return [row["player"] for row in game["players"]]


def custom_game_size(kind: str, game: dict[str, Any]) -> int:
    """Players in the game (an airport type counts as many players as it stands for)."""
    if kind == "table":
        return len(game["players"])
    return sum(int(row.get("count", 1)) for row in game["players"])


def game_text(kind: str, game: dict[str, Any]) -> str:
    """The game back as CSV, for editing."""
    if kind == "table":
        lines = ["coalition,cost"] + [f"{name},{cost!r}" for name, cost in game["coalitions"].items()]
    else:
        lines = ["player,level,cost,count"] + [
            f"{row['player']},{row.get('level', '')},{float(row['cost'])!r},{int(row.get('count', 1))}"
            for row in game["players"]
        ]
    return "\n".join(lines) + "\n"


def check_custom_rules(kind: str, game: dict[str, Any], rules: Sequence[str]) -> tuple[str, ...]:
    """The rules, normalised; raise EngineError for a rule the game cannot take."""
    names = tuple(dict.fromkeys(normalize_rule(rule) for rule in rules))
    if not names:
        raise EngineError("choose at least one rule")
    if "weighted" in names:
        raise EngineError("the weighted rule needs member weights, which a custom game does not have")
    if kind == "airport":
        size = custom_game_size(kind, game)
        slow = [rule for rule in names if rule not in AIRPORT_RULES]
        if slow and size > MAX_AIRPORT_EXPLICIT:
            raise TooLargeError(
                f"{', '.join(RULE_LABELS[r] for r in slow)} need(s) the explicit table, at most "
                f"{MAX_AIRPORT_EXPLICIT} players; this game has {size:,}. Exact at any size: "
                f"{', '.join(RULE_LABELS[r] for r in AIRPORT_RULES)}"
            )
    return names


@dataclass(frozen=True)
class CustomMember:
    """One member (a table's player, or an airport type with `count` players) under one rule.

    Costs are the member's totals: for a type, all its players together (`count` times the per
    player figure); `standalone_cost` is what it would pay going alone (each player alone).
    """

    name: str
    count: int
    standalone_cost: float
    allocated_cost: float
    savings: float
    savings_pct: float


@dataclass(frozen=True)
class CustomRuleResult:
    rule: str
    label: str
    exact: bool
    method: str
    members: tuple[CustomMember, ...]
    stability: Stability


@dataclass(frozen=True)
class CustomResult:
    kind: str
    grand_cost: float
    standalone_total: float
    players: int
    rules: dict[str, CustomRuleResult]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "grand_cost": self.grand_cost,
            "standalone_total": self.standalone_total,
            "players": self.players,
            "rules": {
                name: {
                    "rule": rr.rule,
                    "label": rr.label,
                    "exact": rr.exact,
                    "method": rr.method,
                    "members": [vars(m) for m in rr.members],
                    "stability": rr.stability.to_dict(),
                }
                for name, rr in self.rules.items()
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CustomResult:
        return cls(
            kind=data["kind"],
            grand_cost=float(data["grand_cost"]),
            standalone_total=float(data["standalone_total"]),
            players=int(data["players"]),
            rules={
                name: CustomRuleResult(
                    rule=rr["rule"],
                    label=rr["label"],
                    exact=bool(rr["exact"]),
                    method=rr["method"],
                    members=tuple(CustomMember(**m) for m in rr["members"]),
                    stability=Stability.from_dict(rr["stability"]),
                )
                for name, rr in data["rules"].items()
            },
        )


def member_figures(result: CustomResult, rule: str) -> list[dict[str, Any]]:
    """Each member's figures under `rule`, named as the run results store and the API shows them.

    A given table has no uncertainty: the bands collapse to the value, P(saving) is 1 or 0, and
    nothing is delivered in kind, so a member settles its whole allocated cost with the pool. The
    service stores exactly these (simulations.services) and the CLI prints them.
    """
    rr = result.rules[rule]
    tol = 1e-9 * max(1.0, result.grand_cost)
    out = []
    for m in rr.members:
        note = ""
        if m.count > 1:
            note = (
                f"{m.name}: {m.count:,} players; each pays {m.allocated_cost / m.count:,.2f} "
                f"instead of {m.standalone_cost / m.count:,.2f} alone."
            )
        out.append(
            {
                "lab_name": m.name,
                "exact": rr.exact,
                "standalone_cost": m.standalone_cost,
                "allocated_cost": m.allocated_cost,
                "savings": m.savings,
                "savings_pct": m.savings_pct,
                "savings_p10": m.savings,
                "savings_p50": m.savings,
                "savings_p90": m.savings,
                "savings_pct_p10": m.savings_pct,
                "savings_pct_p50": m.savings_pct,
                "savings_pct_p90": m.savings_pct,
                "prob_saving": 1.0 if m.savings > tol else 0.0,
                "delivered_value": 0.0,
                "settlement": m.allocated_cost,
                "savings_central": m.savings,
                "savings_pct_central": m.savings_pct,
                "direct_cost": 0.0,
                "note": note,
            }
        )
    return out


def results_json(result: CustomResult) -> dict[str, Any]:
    """The results as `GET /api/v1/runs/{id}/results/` gives them for a custom game's run (its
    `rules` block: each rule's members and core check), plus the game's totals."""
    return {
        "kind": result.kind,
        "grand_cost": result.grand_cost,
        "standalone_total": result.standalone_total,
        "players": result.players,
        "rules": [
            {"rule": rule, "members": member_figures(result, rule), "stability": rr.stability.to_dict()}
            for rule, rr in result.rules.items()
        ],
    }


def _member(name: str, count: int, alone: float, allocated: float) -> CustomMember:
    savings = alone - allocated
    # In percent, as the cost model's figures (the `pct` of the pages and the API's units).
    return CustomMember(name, count, alone, allocated, savings, 100.0 * savings / alone if alone > 0 else 0.0)


def airport_rule(game: AirportGame, rule: str, seed: int = 0) -> tuple[FloatArray, str, bool]:
    """Per-player cost of each type under `rule`, how it was computed, and whether it is exact.

    AIRPORT_RULES in closed form at any size; the other rules on the explicit table (at most
    MAX_AIRPORT_EXPLICIT players), each type's players averaged (they are symmetric).
    """
    if rule in AIRPORT_RULES:
        per_player, how = airport_allocation(game, rule)
        return per_player, how, True
    if game.n_players > MAX_AIRPORT_EXPLICIT:
        raise TooLargeError(
            f"the {rule} rule needs the explicit table of an airport game (at most {MAX_AIRPORT_EXPLICIT} players); "
            f"this one has {game.n_players:,}; closed forms exist for: {', '.join(AIRPORT_RULES)}"
        )
    expanded = allocate(game.to_explicit(), rule, seed=seed)
    starts = np.concatenate(([0], np.cumsum(game.counts)[:-1]))
    return np.add.reduceat(expanded.values, starts) / game.counts, expanded.method, expanded.exact


def airport_stability(game: AirportGame, per_player: np.ndarray) -> Stability:
    tol = 1e-9 * max(1.0, game.grand_cost())
    excess, top = airport_max_excess(game, per_player)
    blocking = None
    if excess > tol and top is not None:
        t = game.types.index(top)
        blocking = tuple(
            name
            for i, name in enumerate(game.types)
            if i == t or (game.costs[i] <= game.costs[t] and per_player[i] > 0)
        )
    levels = airport_nucleolus_levels(game)
    eps = -levels[0] if len(levels) else 0.0
    efficient = abs(float((per_player * game.counts).sum()) - game.grand_cost()) <= tol * max(1, game.n_types)
    return Stability(
        in_core=bool(efficient and excess <= tol),
        individually_rational=bool((per_player <= game.costs + tol).all()),
        blocking_coalition=blocking,
        max_excess=float(excess),
        least_core_epsilon=float(eps),
        exhaustive=True,
        method="closed form: the worst coalition topped at each type (airport games are concave); "
        "least-core epsilon from the nucleolus's first level",
    )


def run_custom(kind: str, game_data: dict[str, Any], rules: Sequence[str]) -> CustomResult:
    """Every rule's allocation of the custom game, with savings and the core check."""
    names = check_custom_rules(kind, game_data, rules)
    game = build_custom_game(kind, game_data)
    out: dict[str, CustomRuleResult] = {}
    if isinstance(game, AirportGame):
        for rule in names:
            per_player, how, exact = airport_rule(game, rule)
            members = tuple(
                _member(name, int(count), float(cost * count), float(pay * count))
                for name, count, cost, pay in zip(game.types, game.counts, game.costs, per_player, strict=True)
            )
            out[rule] = CustomRuleResult(
                rule, RULE_LABELS[rule], exact, how, members, airport_stability(game, per_player)
            )
        standalone_total = float((game.costs * game.counts).sum())
        return CustomResult(kind, game.grand_cost(), standalone_total, game.n_players, out)
    alone = game.standalone()
    for rule in names:
        allocation = allocate(game, rule, seed=0)
        members = tuple(
            _member(name, 1, float(a), float(x))
            for name, a, x in zip(game.players, alone, allocation.values, strict=True)
        )
        stability = check_stability(game, allocation.values)
        out[rule] = CustomRuleResult(rule, RULE_LABELS[rule], allocation.exact, allocation.method, members, stability)
    return CustomResult(kind, game.grand_cost(), float(alone.sum()), game.n, out)


def custom_result_json(result: CustomResult) -> str:
    return json.dumps(result.to_dict())
