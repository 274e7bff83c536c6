"""Transferable-utility cost games: explicit tables and the structured games the model builds.

Coalitions are bitmasks over the players tuple: bit i set means players[i] is a member.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ._bits import BoolArray, FloatArray, popcount, subset_max, subset_sums
from .errors import InvalidGameError, TooLargeError

MAX_EXPLICIT_PLAYERS = 24
MAX_CSV_PLAYERS = 20


class Game(Protocol):
    """What every game offers to the rules and the stability check."""

    @property
    def players(self) -> tuple[str, ...]: ...

    @property
    def n(self) -> int: ...

    def cost(self, mask: int) -> float: ...

    def costs_of(self, members: BoolArray) -> FloatArray: ...

    def standalone(self) -> FloatArray: ...

    def grand_cost(self) -> float: ...

    def to_explicit(self) -> ExplicitGame: ...


def _check_players(players: Sequence[str]) -> tuple[str, ...]:
    names = tuple(players)
    if not names:
        raise InvalidGameError("a game needs at least one player")
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise InvalidGameError(f"player names must be non-empty strings, got {name!r}")
    dupes = sorted({name for name in names if names.count(name) > 1})
    if dupes:
        raise InvalidGameError(f"duplicated player name(s): {', '.join(dupes)}")
    return names


def overhead_of(sizes: FloatArray, fixed: float, per_member: float, exponent: float) -> FloatArray:
    """Coordination overhead of coalitions of the given sizes: fixed + per_member * size^exponent (0 when empty)."""
    sizes = np.asarray(sizes, dtype=np.float64)
    return np.asarray(np.where(sizes > 0, fixed + per_member * sizes**exponent, 0.0), dtype=np.float64)


def _check_finite(values: FloatArray, what: str) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InvalidGameError(f"{what} has a non-finite value ({values[first]!r}) at index {first}")


@dataclass(frozen=True, eq=False)
class ExplicitGame:
    """All 2^n coalition costs, indexed by bitmask; costs[0] (the empty coalition) is 0."""

    players: tuple[str, ...]
    costs: FloatArray

    def __post_init__(self) -> None:
        players = _check_players(self.players)
        object.__setattr__(self, "players", players)
        n = len(players)
        if n > MAX_EXPLICIT_PLAYERS:
            raise TooLargeError(f"an explicit game has at most {MAX_EXPLICIT_PLAYERS} players; got {n}")
        costs = self.costs
        if not (
            isinstance(costs, np.ndarray)
            and costs.dtype == np.float64
            and costs.ndim == 1
            and not costs.flags.writeable
            and costs.flags.c_contiguous
        ):
            costs = np.array(costs, dtype=np.float64).reshape(-1)  # a read-only float64 vector is kept as is
        if costs.shape != (1 << n,):
            raise InvalidGameError(
                f"an explicit game on {n} players needs {1 << n} costs (one per bitmask), got {costs.size}"
            )
        _check_finite(costs, "the cost table")
        if costs[0] != 0.0:
            raise InvalidGameError(f"the empty coalition must cost 0, got {costs[0]!r}")
        costs.setflags(write=False)
        object.__setattr__(self, "costs", costs)

    @property
    def n(self) -> int:
        return len(self.players)

    def cost(self, mask: int) -> float:
        return float(self.costs[mask])

    def costs_of(self, members: BoolArray) -> FloatArray:
        weights = np.int64(1) << np.arange(self.n, dtype=np.int64)
        return np.asarray(self.costs[members.astype(np.int64) @ weights], dtype=np.float64)

    def standalone(self) -> FloatArray:
        return np.array([self.costs[1 << i] for i in range(self.n)], dtype=np.float64)

    def grand_cost(self) -> float:
        return float(self.costs[-1])

    def to_explicit(self) -> ExplicitGame:
        return self

    def coalition_name(self, mask: int) -> str:
        return "+".join(p for i, p in enumerate(self.players) if mask >> i & 1)


@dataclass(frozen=True, eq=False)
class StructuredGame:
    """A cost game given by the model's structure rather than by a table.

    For |S| >= 2:  c(S) = sum_{i in S} additive_i + sum_k airport_prices_k * max_{i in S} D_ki
                          + overhead_fixed + overhead_per_member * |S| ** overhead_exponent
    For |S| == 1:  c({i}) = standalone_costs_i (going alone: no commons, no overhead).

    Each term is a game with a closed-form Shapley value, which `rules.shapley` exploits.
    """

    players: tuple[str, ...]
    additive: FloatArray
    airport_prices: FloatArray
    airport_demands: FloatArray
    standalone_costs: FloatArray
    overhead_fixed: float = 0.0
    overhead_per_member: float = 0.0
    overhead_exponent: float = 1.0
    term_names: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        players = _check_players(self.players)
        object.__setattr__(self, "players", players)
        n = len(players)
        additive = np.array(self.additive, dtype=np.float64).reshape(-1)
        prices = np.array(self.airport_prices, dtype=np.float64).reshape(-1)
        demands = np.array(self.airport_demands, dtype=np.float64).reshape(len(prices), n)
        alone = np.array(self.standalone_costs, dtype=np.float64).reshape(-1)
        if additive.shape != (n,) or alone.shape != (n,):
            raise InvalidGameError("additive and standalone_costs need one value per player")
        for values, what in (
            (additive, "additive costs"),
            (prices, "airport prices"),
            (demands, "airport demands"),
            (alone, "stand-alone costs"),
        ):
            _check_finite(np.asarray(values).reshape(-1), what)
        if (demands < 0).any():
            raise InvalidGameError("airport demands must be non-negative")
        for value, what in (
            (self.overhead_fixed, "overhead_fixed"),
            (self.overhead_per_member, "overhead_per_member"),
            (self.overhead_exponent, "overhead_exponent"),
        ):
            if not math.isfinite(value):
                raise InvalidGameError(f"{what} must be finite, got {value!r}")
        for arr in (additive, prices, demands, alone):
            arr.setflags(write=False)
        object.__setattr__(self, "additive", additive)
        object.__setattr__(self, "airport_prices", prices)
        object.__setattr__(self, "airport_demands", demands)
        object.__setattr__(self, "standalone_costs", alone)

    @property
    def n(self) -> int:
        return len(self.players)

    def overhead(self, sizes: FloatArray) -> FloatArray:
        return overhead_of(sizes, self.overhead_fixed, self.overhead_per_member, self.overhead_exponent)

    def costs_of(self, members: BoolArray) -> FloatArray:
        members = np.asarray(members, dtype=bool)
        sizes = members.sum(axis=1)
        out = members.astype(np.float64) @ self.additive
        for price, demand in zip(self.airport_prices, self.airport_demands, strict=True):
            out += price * np.where(members, demand, 0.0).max(axis=1, initial=0.0)
        out += self.overhead(sizes.astype(np.float64))
        single = sizes == 1
        if single.any():
            out[single] = self.standalone_costs[np.argmax(members[single], axis=1)]
        out[sizes == 0] = 0.0
        return out

    def cost(self, mask: int) -> float:
        members = ((mask >> np.arange(self.n)) & 1).astype(bool)[None, :]
        return float(self.costs_of(members)[0])

    def standalone(self) -> FloatArray:
        return self.standalone_costs.copy()

    def grand_cost(self) -> float:
        return float(self.costs_of(np.ones((1, self.n), dtype=bool))[0])

    def costs_without_each(self) -> FloatArray:
        """c(N minus i) for every i, in O(K n) with the top-two trick for each airport term."""
        n = self.n
        if n == 1:
            return np.zeros(1)
        if n == 2:
            return self.standalone_costs[::-1].copy()
        out = self.additive.sum() - self.additive
        for price, demand in zip(self.airport_prices, self.airport_demands, strict=True):
            order = np.argsort(demand)
            top, second = demand[order[-1]], demand[order[-2]]
            rest = np.full(n, top)
            rest[order[-1]] = second
            out += price * rest
        out += self.overhead(np.array([n - 1.0]))[0]
        return np.asarray(out, dtype=np.float64)

    def to_explicit(self) -> ExplicitGame:
        n = self.n
        if n > MAX_EXPLICIT_PLAYERS:
            raise TooLargeError(f"cannot enumerate all coalitions of {n} players (limit {MAX_EXPLICIT_PLAYERS})")
        costs = subset_sums(self.additive)
        for price, demand in zip(self.airport_prices, self.airport_demands, strict=True):
            costs += price * subset_max(demand)
        costs += self.overhead(popcount(n).astype(np.float64))
        for i in range(n):
            costs[1 << i] = self.standalone_costs[i]
        costs[0] = 0.0
        return ExplicitGame(self.players, costs)

    def scaled(self, factor: float) -> StructuredGame:
        return combine([self], [factor])


def combine(games: Sequence[StructuredGame], factors: Sequence[float]) -> StructuredGame:
    """sum_t factor_t * game_t for games on the same players with the same airport demands.

    All years of the model share demand vectors up to a scalar, so their discounted sum is again
    a structured game; a coalition's largest member is the same in every year.
    """
    first = games[0]
    for game in games[1:]:
        if game.players != first.players or game.overhead_exponent != first.overhead_exponent:
            raise InvalidGameError("only games on the same players and overhead shape combine")
        if not np.array_equal(game.airport_demands, first.airport_demands):
            raise InvalidGameError("only games with the same airport demands combine")
    f = [float(v) for v in factors]
    return StructuredGame(
        players=first.players,
        additive=sum((w * g.additive for w, g in zip(f, games, strict=True)), np.zeros(first.n)),
        airport_prices=sum(
            (w * g.airport_prices for w, g in zip(f, games, strict=True)),
            np.zeros(len(first.airport_prices)),
        ),
        airport_demands=first.airport_demands,
        standalone_costs=sum((w * g.standalone_costs for w, g in zip(f, games, strict=True)), np.zeros(first.n)),
        overhead_fixed=sum(w * g.overhead_fixed for w, g in zip(f, games, strict=True)),
        overhead_per_member=sum(w * g.overhead_per_member for w, g in zip(f, games, strict=True)),
        overhead_exponent=first.overhead_exponent,
        term_names=first.term_names,
    )


def read_csv_game(source: str | os.PathLike[str]) -> ExplicitGame:
    """Read a custom cost game: header `coalition,cost`, one row per non-empty coalition.

    A coalition is its members' names joined by `+`. Players are numbered in order of first
    appearance. `source` is a path, or the CSV text itself when it contains a newline.
    """
    if isinstance(source, os.PathLike) or (isinstance(source, str) and "\n" not in source):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise InvalidGameError(f"cannot read {path}: {exc.strerror or exc}") from None
    else:
        text = source.lstrip("\ufeff")
    rows = [
        (line, row) for line, row in enumerate(csv.reader(io.StringIO(text)), start=1) if any(c.strip() for c in row)
    ]
    if not rows:
        raise InvalidGameError("the CSV is empty; expected a header `coalition,cost`")
    header = [cell.strip().lower() for cell in rows[0][1]]
    if header != ["coalition", "cost"]:
        raise InvalidGameError(f"the CSV header must be `coalition,cost`, got `{','.join(rows[0][1])}`")
    entries: list[tuple[str, Any, str]] = []
    for line, row in rows[1:]:
        if len(row) != 2:
            raise InvalidGameError(f"line {line}: expected 2 columns, got {len(row)}")
        entries.append((row[0], row[1], f"line {line}"))
    return table_from_entries(entries)


def read_json_game(data: Any) -> ExplicitGame:
    """A custom cost game as a JSON object: {"A": 10, "B": 12, "A+B": 18, ...}.

    Keys are coalitions (members joined by `+`), values their costs; the same rules as the CSV.
    `data` is the parsed object or its JSON text.
    """
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise InvalidGameError(f"the JSON is not valid: {exc.msg} (line {exc.lineno})") from None
    if isinstance(data, dict) and isinstance(data.get("coalitions"), dict):
        data = data["coalitions"]
    if not isinstance(data, dict) or not data:
        raise InvalidGameError(
            'a custom game in JSON is an object mapping coalitions to costs, e.g. {"A": 1, "A+B": 2}'
        )
    return table_from_entries([(str(key), value, f"coalition {key!r}") for key, value in data.items()])


def table_from_entries(entries: Sequence[tuple[str, Any, str]]) -> ExplicitGame:
    """Validate rows (coalition text, cost, where) and build the table; errors name the row.

    Players are numbered in order of first appearance. The empty coalition may appear (as an
    empty name) only with cost 0.
    """
    players: dict[str, int] = {}
    parsed: list[tuple[list[str], float, str]] = []
    for coalition, cost, where in entries:
        text = str(coalition).strip()
        if isinstance(cost, bool):
            raise InvalidGameError(f"{where}: cost {cost!r} is not a number")
        try:
            value = float(cost)
        except (TypeError, ValueError):
            raise InvalidGameError(f"{where}: cost {cost!r} is not a number") from None
        if not math.isfinite(value):
            raise InvalidGameError(f"{where}: cost of {text!r} is {str(cost).strip()}, not finite")
        if text in ("", "{}", "()"):
            if value != 0:
                raise InvalidGameError(f"{where}: the empty coalition must cost 0, got {value:g}")
            continue
        names = [name.strip() for name in text.split("+")]
        if any(not name for name in names):
            raise InvalidGameError(f"{where}: empty player name in coalition {text!r}")
        if len(set(names)) != len(names):
            raise InvalidGameError(f"{where}: a player is repeated in coalition {text!r}")
        if value < 0:
            raise InvalidGameError(f"{where}: cost of {text!r} is negative ({value:g})")
        for name in names:
            players.setdefault(name, len(players))
            if len(players) > MAX_CSV_PLAYERS:
                raise TooLargeError(
                    f"a custom game has at most {MAX_CSV_PLAYERS} players; got {len(players)} by {where} ({name!r})"
                )
        parsed.append((names, value, where))
    n = len(players)
    if n == 0:
        raise InvalidGameError("the table has no coalitions")
    costs = np.full(1 << n, np.nan)
    costs[0] = 0.0
    seen: dict[int, str] = {}
    for names, value, where in parsed:
        mask = sum(1 << players[name] for name in names)
        if mask in seen:
            raise InvalidGameError(f"{where}: coalition {'+'.join(names)!r} is duplicated (first on {seen[mask]})")
        seen[mask] = where
        costs[mask] = value
    missing = np.flatnonzero(np.isnan(costs))
    if missing.size:
        order = list(players)
        first = int(missing[0])
        name = "+".join(p for i, p in enumerate(order) if first >> i & 1)
        raise InvalidGameError(
            f"{missing.size} coalition(s) missing from the table, e.g. {name!r}; "
            f"every non-empty coalition of the {n} players must appear once"
        )
    return ExplicitGame(tuple(players), costs)


def game_to_csv(game: ExplicitGame) -> str:
    """The inverse of read_csv_game, coalitions in bitmask order."""
    lines = ["coalition,cost"]
    lines += [f"{game.coalition_name(m)},{float(game.costs[m])!r}" for m in range(1, 1 << game.n)]
    return "\n".join(lines) + "\n"
