"""Command line: `python -m simulations.engine allocate FILE --rule RULE [--json] [--stability]`.

FILE is a custom game, either a table of coalition costs (CSV `coalition,cost`, or a JSON object
mapping coalitions to costs) or an airport game (CSV with a `player` column and `cost` or `level`,
optionally `count`; or JSON `{"levels": {...}, "players": [...]}`); `--kind` forces one reading.
Needs no database. Bad input exits with status 2 and a message naming the problem on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from .airport import (
    AirportGame,
    read_airport_csv,
    read_airport_json,
)
from .custom import airport_rule, airport_stability, airport_to_dict, results_json, run_custom, table_to_dict
from .errors import EngineError
from .games import ExplicitGame, read_csv_game, read_json_game
from .rules import RULES, allocate, normalize_rule
from .stability import check_stability

CLI_RULES = tuple(rule.replace("_", "-") for rule in RULES)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulations.engine", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    alloc = sub.add_parser("allocate", help="split the grand coalition's cost of a custom game")
    alloc.add_argument("file", help="CSV or JSON: a coalition cost table or an airport game")
    alloc.add_argument("--kind", choices=("auto", "table", "airport"), default="auto", help="how to read FILE")
    alloc.add_argument("--rule", required=True, help=f"one of: {', '.join(CLI_RULES)}")
    alloc.add_argument("--weights", help="for --rule weighted: NAME=WEIGHT,NAME=WEIGHT,...")
    alloc.add_argument("--json", action="store_true", help="print JSON instead of a table")
    alloc.add_argument("--stability", action="store_true", help="add the core check")
    alloc.add_argument("--seed", type=int, default=0, help="seed for sampled methods")
    alloc.add_argument(
        "--results",
        action="store_true",
        help="print, as JSON, every rule in --rule (comma-separated) the way the API's run results give them",
    )
    return parser


def _weights(text: str | None, players: Sequence[str]) -> np.ndarray | None:
    if text is None:
        return None
    given: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if not sep:
            raise EngineError(f"--weights entry {part!r} is not NAME=WEIGHT")
        try:
            given[name.strip()] = float(value)
        except ValueError:
            raise EngineError(f"--weights: {value!r} is not a number") from None
    missing = [p for p in players if p not in given]
    unknown = [p for p in given if p not in players]
    if missing or unknown:
        raise EngineError(
            "--weights must give every player exactly once"
            + (f"; missing: {', '.join(missing)}" if missing else "")
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
        )
    return np.array([given[p] for p in players])


def load_game(path: str, kind: str = "auto") -> ExplicitGame | AirportGame:
    """Read FILE as a table or an airport game, by `kind` or by its content."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            text = handle.read()
    except OSError as exc:
        raise EngineError(f"cannot read {path}: {exc.strerror or exc}") from None
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise EngineError(f"{path}: the JSON is not valid: {exc.msg} (line {exc.lineno})") from None
        airport = isinstance(data, dict) and ("players" in data or data.get("kind") == "airport")
        if kind == "airport" or (kind == "auto" and airport):
            return read_airport_json(data)
        return read_json_game(data)
    first = stripped.splitlines()[0].lower() if stripped else ""
    airport = "player" in [cell.strip() for cell in first.split(",")]
    if kind == "airport" or (kind == "auto" and airport):
        return read_airport_csv(text)
    return read_csv_game(text if "\n" in text else text + "\n")


def run_airport(game: AirportGame, rule: str, args: argparse.Namespace) -> dict[str, Any]:
    """The airport game's allocation per type: per player, for all its players, and the savings."""
    per_player, how, exact = airport_rule(game, rule, seed=args.seed)
    out: dict[str, Any] = {
        "kind": "airport",
        "rule": rule,
        "exact": exact,
        "method": how,
        "grand_cost": game.grand_cost(),
        "players": game.n_players,
        "types": [
            {
                "type": name,
                "level": game.levels[t] if game.levels else None,
                "count": int(game.counts[t]),
                "standalone_per_player": float(game.costs[t]),
                "allocated_per_player": float(per_player[t]),
                "allocated_total": float(per_player[t] * game.counts[t]),
                "savings_per_player": float(game.costs[t] - per_player[t]),
            }
            for t, name in enumerate(game.types)
        ],
    }
    if args.stability:
        out["stability"] = airport_stability(game, per_player).to_dict()
    return out


def run_results(args: argparse.Namespace) -> dict[str, Any]:
    """The API's results for a custom game of these rules (engine.custom.results_json)."""
    loaded = load_game(args.file, args.kind)
    if isinstance(loaded, AirportGame):
        kind, game = "airport", airport_to_dict(loaded)
    else:
        kind, game = "table", table_to_dict(loaded)
    return results_json(run_custom(kind, game, [rule.strip() for rule in args.rule.split(",")]))


def run_allocate(args: argparse.Namespace) -> dict[str, Any]:
    if args.results:
        return run_results(args)
    rule = normalize_rule(args.rule)
    loaded = load_game(args.file, args.kind)
    if isinstance(loaded, AirportGame):
        if args.weights:
            raise EngineError("--weights applies to tables, not airport games")
        return run_airport(loaded, rule, args)
    game = loaded
    result = allocate(game, rule, weights=_weights(args.weights, game.players), seed=args.seed)
    out: dict[str, Any] = {"kind": "table", **result.to_dict()}
    out["grand_cost"] = game.grand_cost()
    out["standalone"] = {p: float(v) for p, v in zip(game.players, game.standalone(), strict=True)}
    if args.stability:
        out["stability"] = check_stability(game, result.values).to_dict()
    return out


def _airport_table(out: dict[str, Any]) -> str:
    kind = "exact" if out["exact"] else "approximate"
    lines = [
        f"rule: {out['rule']} ({kind}; {out['method']})",
        f"grand coalition cost: {out['grand_cost']:.10g} ({out['players']:,} players)",
    ]
    width = max(len("type"), *(len(t["type"]) for t in out["types"]))
    lines.append(f"{'type':<{width}}  {'count':>8}  {'per player':>14}  {'all players':>16}  {'saves each':>14}")
    for t in out["types"]:
        lines.append(
            f"{t['type']:<{width}}  {t['count']:>8}  {t['allocated_per_player']:>14.10g}  "
            f"{t['allocated_total']:>16.10g}  {t['savings_per_player']:>14.10g}"
        )
    if "stability" in out:
        s = out["stability"]
        lines.append(f"in core: {'yes' if s['in_core'] else 'no'}; largest excess x(S) - c(S): {s['max_excess']:.10g}")
    return "\n".join(lines)


def _table(out: dict[str, Any]) -> str:
    if out.get("kind") == "airport":
        return _airport_table(out)
    kind = "exact" if out["exact"] else "approximate"
    lines = [f"rule: {out['rule']} ({kind}; {out['method']})", f"grand coalition cost: {out['grand_cost']:.10g}"]
    width = max(len("player"), *(len(p) for p in out["allocation"]))
    lines.append(f"{'player':<{width}}  {'allocated':>16}  {'stand-alone':>16}  {'savings':>16}")
    stderr = out.get("stderr") or {}
    for player, value in out["allocation"].items():
        alone = out["standalone"][player]
        line = f"{player:<{width}}  {value:>16.10g}  {alone:>16.10g}  {alone - value:>16.10g}"
        if player in stderr:
            line += f"  (se {stderr[player]:.3g})"
        lines.append(line)
    if "stability" in out:
        s = out["stability"]
        lines.append(
            f"in core: {'yes' if s['in_core'] else 'no'}; individually rational: "
            f"{'yes' if s['individually_rational'] else 'no'}"
        )
        lines.append(
            f"largest excess x(S) - c(S): {s['max_excess']:.10g}"
            + (f" by {'+'.join(s['blocking_coalition'])}" if s["blocking_coalition"] else "")
        )
        lines.append(f"least-core epsilon: {s['least_core_epsilon']:.10g} ({s['method']})")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        out = run_allocate(args)
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(out, indent=2) if args.json or args.results else _table(out))
    return 0
