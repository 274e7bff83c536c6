"""Command line: `python -m simulations.engine allocate FILE.csv --rule RULE [--json] [--stability]`.

Needs no database. Bad input exits with status 2 and a message naming the problem on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import EngineError
from .games import read_csv_game
from .rules import RULES, allocate, normalize_rule
from .stability import check_stability

CLI_RULES = tuple(rule.replace("_", "-") for rule in RULES)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulations.engine", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    alloc = sub.add_parser("allocate", help="split the grand coalition's cost of a custom game")
    alloc.add_argument("file", help="CSV with header coalition,cost; members joined by '+'")
    alloc.add_argument("--rule", required=True, help=f"one of: {', '.join(CLI_RULES)}")
    alloc.add_argument("--weights", help="for --rule weighted: NAME=WEIGHT,NAME=WEIGHT,...")
    alloc.add_argument("--json", action="store_true", help="print JSON instead of a table")
    alloc.add_argument("--stability", action="store_true", help="add the core check")
    alloc.add_argument("--seed", type=int, default=0, help="seed for sampled methods")
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


def run_allocate(args: argparse.Namespace) -> dict[str, Any]:
    rule = normalize_rule(args.rule)
    game = read_csv_game(args.file)
    result = allocate(game, rule, weights=_weights(args.weights, game.players), seed=args.seed)
    out: dict[str, Any] = result.to_dict()
    out["grand_cost"] = game.grand_cost()
    out["standalone"] = {p: float(v) for p, v in zip(game.players, game.standalone(), strict=True)}
    if args.stability:
        out["stability"] = check_stability(game, result.values).to_dict()
    return out


def _table(out: dict[str, Any]) -> str:
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
    print(json.dumps(out, indent=2) if args.json else _table(out))
    return 0
