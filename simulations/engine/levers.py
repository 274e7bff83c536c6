"""Design levers: the publication embargo and the coordination overhead at which a rule stays stable.

For a scenario and its first rule (or a chosen one), `embargo_lever` finds the smallest embargo,
and `overhead_lever` the largest multiple of the coordination overhead (fixed and per member
together), at which the rule's allocation is in the core in at least `target` of the Monte Carlo
draws. Both levers are policies the consortium sets, so at a trial value the lever is fixed, not
drawn; every other uncertain parameter is drawn as in a run, from the same draws at every trial
value (common random numbers: the estimates at two trial values differ by the lever, not by luck).

Steps:
1. Bisection at central parameters for the edge where the rule enters the core (the embargo
   search assumes stability improves with a longer embargo: outsiders read the commons' work
   later; the overhead search that it worsens with a larger overhead).
2. From that edge, bisection on P(in core) over the draws (at most `draws` of the scenario's
   draws, through `simulate_chunk`, so up to 20 members the check is exhaustive) until the value
   found holds with P >= target and a value one resolution step beyond it does not.
The result names both values with their probabilities and standard errors, and a sentence.

`largest_stable_coalition` finds the largest group of the scenario's labs that, forming the
consortium on its own (the others not in the game), has the rule's allocation in the core at
central parameters. Up to EXACT_COALITION_LABS labs every subset is tried, largest first (ties:
the smallest largest excess); beyond, greedy removal drops, one at a time, the member whose
removal most lowers the largest excess of the remaining group's allocation, until the check
passes. The result says which of the two it used.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from .drawstability import MAX_DRAW_PLAYERS, proportion
from .errors import InvalidParameterError
from .model import LabInput, build_game
from .montecarlo import simulate_chunk
from .params import PARAMETER_SPECS
from .rules import RULE_LABELS, allocate
from .scenario import ScenarioSpec
from .stability import check_stability

EXACT_COALITION_LABS = 10  # 2^10 subsets: about a second at central parameters
EMBARGO_STEP = 0.25  # months
OVERHEAD_STEP = 0.05  # multiple of the scenario's overhead
MAX_OVERHEAD_MULTIPLE = 20.0


@dataclass(frozen=True)
class Lever:
    """`value` holds with P(in core) >= target (None if no value in range does); `beyond` is one
    step past it, where it fails (None if the range ends first)."""

    parameter: str
    rule: str
    target: float
    value: float | None
    prob_at_value: float
    stderr_at_value: float
    beyond: float | None
    prob_beyond: float
    stderr_beyond: float
    draws: int
    sentence: str


def _with_lever(spec: ScenarioSpec, parameter: str, value: float) -> ScenarioSpec:
    fixed: tuple[str, ...]
    if parameter == "embargo_months":
        params = dataclasses.replace(spec.params, embargo_months=float(value))
        fixed = ("embargo_months",)
    else:
        params = dataclasses.replace(
            spec.params,
            coordination_fixed=spec.params.coordination_fixed * value,
            coordination_per_member=spec.params.coordination_per_member * value,
        )
        fixed = ("coordination_fixed", "coordination_per_member")
    uncertain = tuple(name for name in spec.uncertain if name not in fixed)
    return dataclasses.replace(spec, params=params, uncertain=uncertain)


def _central_in_core(spec: ScenarioSpec, rule: str) -> bool:
    game = build_game(spec.labs, spec.params)
    weights = np.array([lab.weight for lab in spec.labs])
    x = allocate(game, rule, weights=weights, rng=np.random.default_rng([spec.seed, 2**32 - 1, 0])).values
    return check_stability(game, x, least_core=False).in_core


def _prob(spec: ScenarioSpec, rule: str, draws: int) -> tuple[float, float]:
    trial = dataclasses.replace(spec, rules=(rule,), draws=draws)
    chunk = simulate_chunk(trial, 0, draws)
    assert chunk.stability is not None
    return proportion(int(np.count_nonzero(chunk.stability.in_core[0] > 0.5)), draws)


def _edge(holds: Callable[[float], bool], good: float, bad: float, step: float) -> tuple[float, float]:
    """Bisection between a value where `holds` and one where it does not, to within `step`."""
    while abs(good - bad) > step:
        middle = (good + bad) / 2
        if holds(middle):
            good = middle
        else:
            bad = middle
    return good, bad


def _search(
    spec: ScenarioSpec, parameter: str, rule: str, target: float, draws: int, low: float, high: float, step: float
) -> Lever:
    if not 0 < target <= 1:
        raise InvalidParameterError(f"the target probability must lie in (0, 1], got {target!r}")
    if len(spec.labs) > MAX_DRAW_PLAYERS:
        raise InvalidParameterError(f"levers check every draw's core exhaustively, up to {MAX_DRAW_PLAYERS} labs")
    draws = max(1, min(draws, spec.draws or draws))
    increasing = parameter == "embargo_months"  # stability improves as the value grows
    overhead = (spec.params.coordination_fixed, spec.params.coordination_per_member)
    best, worst = (high, low) if increasing else (low, high)
    probs: dict[float, tuple[float, float]] = {}

    def prob(value: float) -> tuple[float, float]:
        key = round(value, 9)
        if key not in probs:
            probs[key] = _prob(_with_lever(spec, parameter, value), rule, draws)
        return probs[key]

    def holds(value: float) -> bool:
        return prob(value)[0] >= target

    if not holds(best):
        return _lever(parameter, rule, target, None, (float("nan"), float("nan")), best, prob(best), draws, overhead)
    if holds(worst):
        return _lever(parameter, rule, target, worst, prob(worst), None, (float("nan"), float("nan")), draws, overhead)

    # Step 1: the central edge narrows the bracket cheaply (no draws).
    def central(value: float) -> bool:
        return _central_in_core(_with_lever(spec, parameter, value), rule)

    start = best
    if central(best) and not central(worst):
        start, _ = _edge(central, best, worst, step)
    # Step 2: bisection on P(in core) over the draws, from the central edge.
    if holds(start):
        good, bad = _edge(holds, start, worst, step)
    else:
        good, bad = _edge(holds, best, start, step)
    return _lever(parameter, rule, target, good, prob(good), bad, prob(bad), draws, overhead)


def _lever(
    parameter: str,
    rule: str,
    target: float,
    value: float | None,
    at: tuple[float, float],
    beyond: float | None,
    past: tuple[float, float],
    draws: int,
    overhead: tuple[float, float] = (0.0, 0.0),
) -> Lever:
    label = RULE_LABELS[rule]
    if parameter == "embargo_months":
        what = "an embargo of at least {:.2f} months"
        missing = f"No embargo up to {PARAMETER_SPECS['embargo_months'].high:g} months keeps {label} in the core"
    else:
        fixed, member = overhead
        what = "a coordination overhead of at most {:.2f} times the scenario's"
        what += f" (${fixed:,.0f} a year plus ${member:,.0f} per member at 1 times)"
        missing = f"Even without coordination overhead {label} does not stay in the core"
    if value is None:
        sentence = f"{missing} in {target:.0%} of {draws} draws (it reaches {past[0]:.0%})."
    else:
        sentence = f"With {what.format(value)}, {label} stays in the core in {at[0]:.0%} of {draws} draws"
        sentence += f" (± {at[1]:.0%})."
        unit = "months" if parameter == "embargo_months" else "times"
        if beyond is not None:
            sentence += f" At {beyond:.2f} {unit} it is {past[0]:.0%}, below the {target:.0%} asked for."
        else:
            sentence += f" {value:.2f} {unit} is the end of the range searched, so the edge lies beyond it."
    return Lever(parameter, rule, target, value, at[0], at[1], beyond, past[0], past[1], draws, sentence)


def embargo_lever(spec: ScenarioSpec, *, rule: str | None = None, target: float = 0.9, draws: int = 200) -> Lever:
    """The smallest publication embargo (months) at which `rule` (default: the scenario's first)
    is in the core in at least `target` of the draws; see the module docstring."""
    ps = PARAMETER_SPECS["embargo_months"]
    return _search(spec, "embargo_months", rule or spec.rules[0], target, draws, ps.low, ps.high, EMBARGO_STEP)


def overhead_lever(spec: ScenarioSpec, *, rule: str | None = None, target: float = 0.9, draws: int = 200) -> Lever:
    """The largest multiple of the scenario's coordination overhead (fixed and per member scaled
    together) at which `rule` is in the core in at least `target` of the draws."""
    return _search(
        spec, "coordination_overhead", rule or spec.rules[0], target, draws, 0.0, MAX_OVERHEAD_MULTIPLE, OVERHEAD_STEP
    )


@dataclass(frozen=True)
class StableCoalition:
    """The largest group found whose allocation by `rule` is in the core at central parameters.

    `method` is "exact" (every subset tried) or "greedy" (members dropped one at a time: a lower
    bound on the largest size). `removed` lists the labs left out, in the order greedy dropped
    them (alphabetical for exact); `max_excess` is the group's largest coalition excess in $
    (at most 0 within tolerance when in the core).
    """

    rule: str
    method: str
    members: tuple[str, ...]
    removed: tuple[str, ...]
    max_excess: float
    sentence: str


def _excess(labs: tuple[LabInput, ...], params, rule: str, seed: int) -> tuple[bool, float]:
    game = build_game(labs, params)
    weights = np.array([lab.weight for lab in labs])
    x = allocate(game, rule, weights=weights, rng=np.random.default_rng([seed, 2**32 - 1, 0])).values
    verdict = check_stability(game, x, least_core=False)
    return verdict.in_core, verdict.max_excess


def largest_stable_coalition(spec: ScenarioSpec, *, rule: str | None = None, exact_up_to: int = EXACT_COALITION_LABS):
    """The largest subset of the scenario's labs stable under `rule` (default: the first); see the module docstring."""
    rule = rule or spec.rules[0]
    labs = spec.labs
    if len(labs) > MAX_DRAW_PLAYERS:
        raise InvalidParameterError(f"the coalition search checks cores exhaustively, up to {MAX_DRAW_PLAYERS} labs")
    n = len(labs)
    if n <= exact_up_to:
        method = "exact"
        best: tuple[tuple[int, ...], float] | None = None
        for size in range(n, 0, -1):
            for chosen in combinations(range(n), size):
                stable, excess = _excess(tuple(labs[i] for i in chosen), spec.params, rule, spec.seed)
                if stable and (best is None or excess < best[1]):
                    best = (chosen, excess)
            if best is not None:
                break
        assert best is not None  # a single lab pays its own cost: always in the core
        keep = set(best[0])
        members = tuple(labs[i].name for i in best[0])
        removed = tuple(labs[i].name for i in range(n) if i not in keep)
        max_excess = best[1]
    else:
        method = "greedy"
        current = list(labs)
        dropped: list[str] = []
        stable, max_excess = _excess(tuple(current), spec.params, rule, spec.seed)
        while not stable:
            trials = []
            for i in range(len(current)):
                rest = tuple(current[:i] + current[i + 1 :])
                trials.append((*_excess(rest, spec.params, rule, spec.seed), i))
            # Lowest largest excess; a stable group first among equals; then player order.
            stable, max_excess, i = min(trials, key=lambda t: (t[1], not t[0], t[2]))
            dropped.append(current.pop(i).name)
        members = tuple(lab.name for lab in current)
        removed = tuple(dropped)
    return StableCoalition(
        rule, method, members, removed, float(max_excess), _coalition_sentence(rule, method, members, removed, n)
    )


def _names(names: tuple[str, ...]) -> str:
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + f" and {names[-1]}"


def _coalition_sentence(rule: str, method: str, members: tuple[str, ...], removed: tuple[str, ...], n: int) -> str:
    label = RULE_LABELS[rule]
    how = "every subset of the labs tried" if method == "exact" else "found greedily, so a larger one may exist"
    if not removed:
        return (
            f"All {n} labs together ({_names(members)}) are stable: {label} is in the core at central "
            f"parameters ({how})."
        )
    return (
        f"The largest stable group is {len(members)} of the {n} labs, without {_names(removed)}: "
        f"{label} is in the core at central parameters for {_names(members)} ({how})."
    )
