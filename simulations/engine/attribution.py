"""Why members' savings differ between two scenarios: one-at-a-time attribution at central parameters.

`attribute(base, other, rule)` lists every difference between two scenario specs (labs added, labs
removed, each parameter changed, each lab input changed) and walks from `base` to `other` applying
them one at a time in that fixed order; after each step it computes every member's savings at
central parameters (build_game, then allocate under `rule`). A member's bar for a step is the change
in its savings that step made, so its bars add up to its total change, the savings at `other` minus
the savings at `base`, by construction (docs/model.md, "Explaining a comparison").

A lab outside the consortium saves nothing, so a lab added starts from 0 and a lab removed ends at 0.
Within each group the order is fixed: labs by name, parameters in PARAMETER_SPECS order, lab inputs
by lab name then in LAB_FIELDS order. One-at-a-time bars depend on that order when differences
interact (the same change of openness is worth more with more members); the order is part of the
answer, which is why it is fixed and documented rather than chosen per comparison.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .model import build_game
from .params import PARAMETER_SPECS, LabInput, Params
from .rules import allocate
from .scenario import CENTRAL_STREAM, ScenarioSpec

# The lab inputs a step may change, in the order steps apply them. `gpu_type` is one step with the
# throughput factor (a type without a datasheet factor is only valid with one), shown as "A100" or
# "other x 0.5". `delivered_value` moves only the settlement, never the savings: not a difference.
LAB_FIELDS = ("final_run_gpu_hours", "rd_share", "price_per_gpu_hour", "gpu_type", "area_weights", "openness", "weight")


@dataclass(frozen=True)
class Difference:
    """One difference between the scenarios: `kind` is `lab_added`, `lab_removed`, `parameter` or
    `lab_input`; `lab` names the lab (None for a parameter), `field` the parameter or input."""

    kind: str
    lab: str | None
    field: str | None
    old: object
    new: object


@dataclass(frozen=True)
class Attribution:
    """`bars[name][k]` is member `name`'s change in savings at step k (differences[k]); `start` and
    `end` its savings at central parameters in `base` and `other` (0 where it is not a member)."""

    rule: str
    differences: tuple[Difference, ...]
    members: tuple[str, ...]
    start: dict[str, float]
    end: dict[str, float]
    bars: dict[str, tuple[float, ...]]

    def total(self, name: str) -> float:
        return self.end[name] - self.start[name]


def central_savings(labs: tuple[LabInput, ...], params: Params, rule: str, seed: int = 0) -> dict[str, float]:
    """Each member's savings at central parameters under `rule`: its outside option minus its allocation."""
    game = build_game(labs, params)
    weights = np.array([lab.weight for lab in labs])
    x = allocate(game, rule, weights=weights, rng=np.random.default_rng([seed, CENTRAL_STREAM, 0])).values
    savings = game.standalone() - x
    return {lab.name: float(value) for lab, value in zip(labs, savings, strict=True)}


def differences(base: ScenarioSpec, other: ScenarioSpec) -> tuple[Difference, ...]:
    """What differs from `base` to `other`, in the order `attribute` applies it."""
    old_labs = {lab.name: lab for lab in base.labs}
    new_labs = {lab.name: lab for lab in other.labs}
    found = [Difference("lab_added", name, None, None, None) for name in sorted(set(new_labs) - set(old_labs))]
    found += [Difference("lab_removed", name, None, None, None) for name in sorted(set(old_labs) - set(new_labs))]
    for name in PARAMETER_SPECS:
        old, new = getattr(base.params, name), getattr(other.params, name)
        if old != new:
            found.append(Difference("parameter", None, name, _plain(old), _plain(new)))
    for name in sorted(set(old_labs) & set(new_labs)):
        for field in LAB_FIELDS:
            old, new = _lab_value(old_labs[name], field), _lab_value(new_labs[name], field)
            if old != new:
                found.append(Difference("lab_input", name, field, _plain(old), _plain(new)))
    return tuple(found)


def _lab_value(lab: LabInput, field: str) -> object:
    if field == "gpu_type":
        return lab.gpu_type if lab.throughput_factor is None else f"{lab.gpu_type} x {lab.throughput_factor:g}"
    return getattr(lab, field)


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def _apply(
    labs: dict[str, LabInput], params: Params, step: Difference, other: ScenarioSpec
) -> tuple[dict[str, LabInput], Params]:
    if step.kind == "parameter":
        assert step.field is not None  # a parameter step names its parameter
        return labs, dataclasses.replace(params, **{step.field: getattr(other.params, step.field)})
    assert step.lab is not None  # every other step names its lab
    name = step.lab
    if step.kind == "lab_added":
        return {**labs, name: next(lab for lab in other.labs if lab.name == name)}, params
    if step.kind == "lab_removed":
        return {key: lab for key, lab in labs.items() if key != name}, params
    assert step.field is not None
    new = next(lab for lab in other.labs if lab.name == name)
    fields = ("gpu_type", "throughput_factor") if step.field == "gpu_type" else (step.field,)
    return {**labs, name: dataclasses.replace(labs[name], **{f: getattr(new, f) for f in fields})}, params


def attribute(base: ScenarioSpec, other: ScenarioSpec, rule: str) -> Attribution:
    """Attribute each member's change in savings under `rule` to the differences, one at a time."""
    steps = differences(base, other)
    labs = {lab.name: lab for lab in base.labs}
    params = base.params
    members = tuple(sorted({lab.name for lab in base.labs} | {lab.name for lab in other.labs}))

    def savings() -> dict[str, float]:
        ordered = tuple(labs[name] for name in sorted(labs))
        found = central_savings(ordered, params, rule, base.seed)
        return {name: found.get(name, 0.0) for name in members}

    current = savings()
    start = current
    bars: dict[str, list[float]] = {name: [] for name in members}
    for step in steps:
        labs, params = _apply(labs, params, step, other)
        after = savings()
        for name in members:
            bars[name].append(after[name] - current[name])
        current = after
    return Attribution(
        rule=rule,
        differences=steps,
        members=members,
        start=start,
        end=current,
        bars={name: tuple(values) for name, values in bars.items()},
    )
