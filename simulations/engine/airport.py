"""Airport games: players share one facility built to the level its most demanding user needs.

A player of type t needs the facility built to a level that costs C_t (the cost of the whole
facility at that level, not an increment), and a type may stand for m_t identical players (the
landings of one aircraft type in Littlechild and Thompson's runway study). A coalition pays for the
facility its most demanding member needs:

    c(S) = max_{i in S} C_i,   c(empty) = 0.

The game is concave (submodular), so its core is never empty and both rules below lie in it.

- Shapley value, by Littlechild and Owen (1973): each increment of the facility, from one level's
  cost to the next, is split equally among the players who need that level or a higher one.
  O(T log T) for T types.
- Nucleolus, by Littlechild (1974): with players in ascending order of cost c_1 <= ... <= c_n,
  the players 1..k* of the cheapest prefix pay, each,
      t* = min_{i < k <= n-1} (c_k - A) / (k - i + 1)
  where i players are already settled and pay A between them (k* the largest minimiser); then the
  next prefix is settled the same way, and player n pays the rest, c_n - A. Only the ends of type
  blocks (and n - 1) can minimise, so each step is one vectorised pass over the remaining types:
  O(T^2) in the worst case, a few milliseconds for 10,000 types.

Both work on types with multiplicities, so 10,000 players or 10,000 types cost milliseconds;
`to_explicit()` expands the types into players for the generic rules when n <= 20.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._bits import BoolArray, FloatArray, subset_max
from .errors import InvalidGameError, TooLargeError
from .games import ExplicitGame

MAX_AIRPORT_TYPES = 100_000
MAX_AIRPORT_PLAYERS = 10_000_000
MAX_AIRPORT_EXPLICIT = 20


@dataclass(frozen=True, eq=False)
class AirportGame:
    """Types of players, each with the cost of the facility level it needs and a count.

    `types` are names (unique); `costs[t]` is C_t >= 0; `counts[t]` >= 1 is how many identical
    players the type stands for; `levels[t]` optionally names the level (for reports).
    """

    types: tuple[str, ...]
    costs: FloatArray
    counts: np.ndarray
    levels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = tuple(self.types)
        if not names:
            raise InvalidGameError("an airport game needs at least one player type")
        if len(names) > MAX_AIRPORT_TYPES:
            raise TooLargeError(f"an airport game has at most {MAX_AIRPORT_TYPES:,} types; got {len(names):,}")
        for name in names:
            if not isinstance(name, str) or not name.strip():
                raise InvalidGameError(f"player type names must be non-empty strings, got {name!r}")
        if len(set(names)) != len(names):
            dupes = sorted({name for name in names if names.count(name) > 1})
            raise InvalidGameError(f"duplicated player type name(s): {', '.join(dupes[:5])}")
        costs = np.array(self.costs, dtype=np.float64).reshape(-1)
        counts = np.array(self.counts, dtype=np.int64).reshape(-1)
        if costs.shape != (len(names),) or counts.shape != (len(names),):
            raise InvalidGameError("an airport game needs one cost and one count per player type")
        if not np.isfinite(costs).all():
            raise InvalidGameError(
                f"the cost of type {names[int(np.flatnonzero(~np.isfinite(costs))[0])]!r} is not finite"
            )
        if (costs < 0).any():
            raise InvalidGameError(f"the cost of type {names[int(np.flatnonzero(costs < 0)[0])]!r} is negative")
        if (counts < 1).any():
            raise InvalidGameError(
                f"the count of type {names[int(np.flatnonzero(counts < 1)[0])]!r} must be at least 1"
            )
        if int(counts.sum()) > MAX_AIRPORT_PLAYERS:
            raise TooLargeError(
                f"an airport game has at most {MAX_AIRPORT_PLAYERS:,} players; got {int(counts.sum()):,}"
            )
        levels = tuple(self.levels)
        if levels and len(levels) != len(names):
            raise InvalidGameError("give a level name for every type or for none")
        costs.setflags(write=False)
        counts.setflags(write=False)
        object.__setattr__(self, "types", names)
        object.__setattr__(self, "costs", costs)
        object.__setattr__(self, "counts", counts)
        object.__setattr__(self, "levels", levels)

    @property
    def n_types(self) -> int:
        return len(self.types)

    @property
    def n_players(self) -> int:
        return int(self.counts.sum())

    def grand_cost(self) -> float:
        return float(self.costs.max())

    def total_by_type(self, per_player: FloatArray) -> FloatArray:
        """What all the players of each type pay together."""
        return np.asarray(per_player * self.counts, dtype=np.float64)

    # -- the generic game interface, on the expanded players (small games only) -------------------

    @property
    def players(self) -> tuple[str, ...]:
        names: list[str] = []
        for name, count in zip(self.types, self.counts, strict=True):
            names += [name] if count == 1 else [f"{name} #{k}" for k in range(1, int(count) + 1)]
        return tuple(names)

    @property
    def n(self) -> int:
        return self.n_players

    def player_costs(self) -> FloatArray:
        return np.repeat(self.costs, self.counts)

    def cost(self, mask: int) -> float:
        costs = self.player_costs()
        members = [i for i in range(len(costs)) if mask >> i & 1]
        return float(costs[members].max()) if members else 0.0

    def costs_of(self, members: BoolArray) -> FloatArray:
        return np.asarray(np.where(members, self.player_costs(), 0.0).max(axis=1, initial=0.0), dtype=np.float64)

    def standalone(self) -> FloatArray:
        return self.player_costs()

    def to_explicit(self) -> ExplicitGame:
        if self.n_players > MAX_AIRPORT_EXPLICIT:
            raise TooLargeError(
                f"cannot enumerate all coalitions of {self.n_players:,} players (limit {MAX_AIRPORT_EXPLICIT})"
            )
        return ExplicitGame(self.players, subset_max(self.player_costs()))


def airport_shapley(game: AirportGame) -> FloatArray:
    """Per-player Shapley value of each type (Littlechild and Owen 1973)."""
    order = np.argsort(game.costs, kind="stable")
    costs = game.costs[order]
    counts = game.counts[order].astype(np.float64)
    increments = np.diff(costs, prepend=0.0)
    # Players needing this type's level or more: every type at or after it in ascending order.
    users = np.cumsum(counts[::-1])[::-1]
    share = np.cumsum(increments / users)
    out = np.empty(game.n_types)
    out[order] = share
    return out


def airport_nucleolus(game: AirportGame) -> FloatArray:
    """Per-player nucleolus of each type (Littlechild 1974); see the module docstring."""
    return _nucleolus(game)[0]


def airport_nucleolus_levels(game: AirportGame) -> FloatArray:
    """The payment t* of each settled prefix, in order; the first is the least core's
    min over proper coalitions of c(S) - x(S), so the least-core epsilon is its negative."""
    return _nucleolus(game)[1]


def _nucleolus(game: AirportGame) -> tuple[FloatArray, FloatArray]:
    order = np.argsort(game.costs, kind="stable")
    costs = game.costs[order]
    counts = game.counts[order]
    n = int(counts.sum())
    out_sorted = np.empty(game.n_types)
    if n == 1:
        out_sorted[0] = costs[0]
        out = np.empty(game.n_types)
        out[order] = out_sorted
        return out, np.zeros(0)
    ends = np.cumsum(counts)  # position (1-based) of each block's last player
    # Candidate prefix lengths k: each block's end, except that the last block stops at n - 1.
    cand_k = ends.astype(np.float64).copy()
    cand_k[-1] = n - 1
    if counts[-1] == 1:
        cand_k = cand_k[:-1]
    cand_c = costs[: len(cand_k)]
    settled, paid, start = 0, 0.0, 0  # players settled, what they pay, first candidate not yet settled
    block = 0  # first type not yet settled
    per_player = np.empty(game.n_types)
    levels: list[float] = []
    while settled < n - 1:
        ks = cand_k[start:]
        ratios = (cand_c[start:] - paid) / (ks - settled + 1)
        best = float(ratios.min())
        # The largest minimiser: ties settle together (a relative tolerance absorbs rounding).
        tol = 1e-12 * max(1.0, abs(best))
        last = start + int(np.flatnonzero(ratios <= best + tol)[-1])
        k = int(cand_k[last])
        levels.append(best)
        # Types whose players all lie in settled+1..k get `best` each.
        stop = int(np.searchsorted(ends, k, side="right"))
        per_player[block:stop] = best
        paid += best * (k - settled)
        settled = k
        block = stop
        start = last + 1
    # Player n (the rest of the last type, if the cap at n - 1 split it) pays what is left.
    if block < game.n_types:
        # Either the whole last type is unsettled (count 1) or its first count-1 players were settled
        # at `best` together with the prefix; symmetric players pay alike, and the rest equals it.
        remaining = costs[-1] - paid
        if counts[-1] == 1:
            per_player[-1] = remaining
        else:
            per_player[-1] = (remaining + best * (counts[-1] - 1)) / counts[-1]
    out = np.empty(game.n_types)
    out[order] = per_player
    return out, np.array(levels)


def airport_max_excess(game: AirportGame, per_player: FloatArray) -> tuple[float, str | None]:
    """The largest x(S) - c(S) over all non-empty coalitions (N included), and the type topping it.

    With x(N) = c(N), x is in the core exactly when this is <= 0 (up to rounding).

    For a coalition whose most demanding member has cost C, adding players who need no more only
    adds their payments; the worst coalition topped at type t takes t's players and every player
    of a cheaper-or-equal type who pays a positive amount. O(T log T).
    """
    order = np.argsort(game.costs, kind="stable")
    costs = game.costs[order]
    pay = np.asarray(per_player, dtype=np.float64)[order]
    counts = game.counts[order]
    positive_total = np.where(pay > 0, pay * counts, 0.0)
    # Group equal costs: a coalition topped at cost C may take every type of cost <= C.
    upto = np.cumsum(positive_total)
    last_of_cost = np.searchsorted(costs, costs, side="right") - 1
    with_all = upto[last_of_cost]
    # The top type's own players must be in (at least one of them), even if they pay <= 0.
    top_if_nonpositive = np.where(pay > 0, 0.0, pay)
    excess = with_all + top_if_nonpositive - costs
    t = int(np.argmax(excess))
    return float(excess[t]), game.types[int(order[t])]


# -- reading ---------------------------------------------------------------------------------------


def _number(text: Any, what: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise InvalidGameError(f"{what}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise InvalidGameError(f"{what}: {text!r} is not finite")
    return value


def _count(text: Any, what: str) -> int:
    value = _number(text, what)
    if value != int(value) or value < 1:
        raise InvalidGameError(f"{what}: a count must be a whole number of at least 1, got {text!r}")
    return int(value)


def airport_from_rows(rows: Sequence[Mapping[str, Any]], level_costs: Mapping[str, Any] | None = None) -> AirportGame:
    """Build a game from rows with `player`, `count` (default 1) and either `cost` or `level`.

    A row's `level` names an entry of `level_costs` (the cost of the facility built to that
    level); a row may instead give its level's `cost` directly. Rows that name the same level must
    agree on its cost. Errors name the row: its `_where` (a CSV's "line 7"), else "row N" (1-based).
    """
    levels_known: dict[str, float] = {}
    for name, value in (level_costs or {}).items():
        cost = _number(value, f"level {name!r}")
        if cost < 0:
            raise InvalidGameError(f"level {name!r}: the cost is negative ({cost:g})")
        levels_known[str(name)] = cost
    names: list[str] = []
    costs: list[float] = []
    counts: list[int] = []
    levels: list[str] = []
    seen: dict[str, str] = {}
    for number, row in enumerate(rows, start=1):
        where = str(row.get("_where") or f"row {number}")
        name = str(row.get("player") or row.get("name") or "").strip()
        if not name:
            raise InvalidGameError(f"{where}: the player name is empty")
        if name in seen:
            raise InvalidGameError(f"{where}: player {name!r} is duplicated (first on {seen[name]})")
        seen[name] = where
        level = str(row.get("level") or "").strip()
        given = row.get("cost")
        if given not in (None, ""):
            cost = _number(given, f"{where} ({name}): cost")
            if cost < 0:
                raise InvalidGameError(f"{where} ({name}): the cost is negative ({cost:g})")
            if level:
                if level in levels_known and levels_known[level] != cost:
                    raise InvalidGameError(
                        f"{where} ({name}): level {level!r} costs {levels_known[level]:g} elsewhere, not {cost:g}"
                    )
                levels_known[level] = cost
        elif level:
            if level not in levels_known:
                raise InvalidGameError(f"{where} ({name}): unknown level {level!r}; give its cost")
            cost = levels_known[level]
        else:
            raise InvalidGameError(f"{where} ({name}): give the cost of the level it needs, or the level's name")
        count_text = row.get("count")
        count = 1 if count_text in (None, "") else _count(count_text, f"{where} ({name}): count")
        names.append(name)
        costs.append(cost)
        counts.append(count)
        levels.append(level)
    if not names:
        raise InvalidGameError("the table has no players")
    return AirportGame(tuple(names), np.array(costs), np.array(counts), tuple(levels) if any(levels) else ())


def read_airport_csv(text: str) -> AirportGame:
    """CSV with a header naming `player` and `cost` or `level`, and optionally `count`.

    Level costs may come as rows whose `player` cell is empty and whose `level` and `cost` are set
    (a level table above the players), or inline on each player's row.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if reader.fieldnames is None:
        raise InvalidGameError("the CSV is empty; expected a header such as `player,level,cost,count`")
    header = [(name or "").strip().lower() for name in reader.fieldnames]
    if "player" not in header or not ({"cost", "level"} & set(header)):
        raise InvalidGameError(f"the header must name `player` and `cost` or `level`, got `{','.join(header)}`")
    unknown = [name for name in header if name not in ("player", "level", "cost", "count")]
    if unknown:
        raise InvalidGameError(f"unknown column(s) {', '.join(unknown)}; use player, level, cost, count")
    level_costs: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    for line, raw in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None}
        if None in raw:
            raise InvalidGameError(f"line {line}: more cells than columns")
        if not any(row.values()):
            continue
        if not row.get("player"):
            if row.get("level") and row.get("cost"):
                level_costs[row["level"]] = row["cost"]
                continue
            raise InvalidGameError(f"line {line}: the player name is empty")
        row["_where"] = f"line {line}"
        rows.append(row)
    return airport_from_rows(rows, level_costs)


def read_airport_json(data: Any) -> AirportGame:
    """{"levels": {"name": cost, ...}, "players": [{"player": ..., "level"/"cost": ..., "count": ...}]}."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise InvalidGameError(f"the JSON is not valid: {exc.msg} (line {exc.lineno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("players"), list):
        raise InvalidGameError('an airport game in JSON is an object with a "players" list')
    levels = data.get("levels") or {}
    if not isinstance(levels, dict):
        raise InvalidGameError('"levels" must be an object mapping level names to costs')
    rows = data["players"]
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise InvalidGameError(f"row {number}: each player is an object")
    return airport_from_rows(rows, levels)


# -- rules at scale -------------------------------------------------------------------------------

AIRPORT_RULES: tuple[str, ...] = ("shapley", "nucleolus", "proportional", "equal", "ensc", "scrb")


def _separable(game: AirportGame) -> FloatArray:
    """Per-player separable cost c(N) - c(N minus i): non-zero only for a lone most demanding player."""
    sc = np.zeros(game.n_types)
    top = int(np.argmax(game.costs))
    if game.n_players > 1 and game.counts[top] == 1 and (game.costs == game.costs[top]).sum() == 1:
        others = np.delete(game.costs, top)
        sc[top] = game.costs[top] - float(others.max())
    elif game.n_players == 1:
        sc[top] = game.costs[top]
    return sc


def airport_allocation(game: AirportGame, rule: str) -> tuple[FloatArray, str]:
    """Per-player cost of each type under `rule` (one of AIRPORT_RULES), and how it was computed.

    The key-based rules follow rules.simple on a game without private costs; ENSC and SCRB use
    the separable costs, which in an airport game only a lone most demanding player has.
    """
    total = game.grand_cost()
    counts = game.counts.astype(np.float64)
    n = float(game.n_players)
    if rule == "shapley":
        return airport_shapley(game), "Littlechild-Owen closed form: each increment split among the players who need it"
    if rule == "nucleolus":
        return airport_nucleolus(game), "Littlechild's (1974) sequential prefix algorithm, exact"
    if rule == "proportional":
        weight = float((game.costs * counts).sum())
        values = game.costs * (total / weight) if weight > 0 else np.zeros(game.n_types)
        return values, "in proportion to each player's stand-alone cost"
    if rule == "equal":
        return np.full(game.n_types, total / n), "equal split among all players"
    sc = _separable(game)
    rest = total - float((sc * counts).sum())
    if rule == "ensc":
        return sc + rest / n, "separable costs plus an equal share of the non-separable costs"
    if rule == "scrb":
        remaining = np.maximum(game.costs - sc, 0.0)
        weight = float((remaining * counts).sum())
        share = remaining * (rest / weight) if weight > 0 else np.full(game.n_types, rest / n)
        return sc + share, "separable costs plus non-separable costs by remaining benefit"
    raise TooLargeError(
        f"the {rule} rule on an airport game needs the explicit table (at most {MAX_AIRPORT_EXPLICIT} players)"
    )
