"""Live what-if: one parameter or one lab input of a model scenario changed, at central parameters.

A coordinator picks a target (a scenario parameter, or one lab's input as an override) and a
value; `whatif_compute` answers with each member's savings under the scenario's first rule and
the core verdict, beside the scenario's own figures (the baseline). Nothing is saved and no run
starts: the changed scenario is an unsaved copy of the row (`changed_scenario`), and its engine
spec is the runs' own `scenario_spec_build` of the scenario with the one parameter or lab input
replaced (`changed_spec`), computed by `engine.whatif.central_outcome` (the central figures a run
stores). `scenario_whatif_save` saves the change as a new scenario.

1. `whatif_change_clean` reads the value with the scenario editor's own field types, then checks
   it as the editor does: a parameter against PARAMETER_SPECS (the editor's range message, then
   the model's validator), an override with the lab's own validation
   (consortium.services.lab_overrides_clean, on the lab's overrides with the new one added).
2. The baseline is cached in the process (caches["local"]) under a hash of its engine spec, so a
   lab or ledger change since the last request gives a new baseline, never a stale one; only the
   what-if side is computed per request.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass

from django import forms
from django.core.cache import caches
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from consortium import access
from consortium import services as consortium_services
from consortium.models import LAB_OVERRIDE_FIELDS, Scenario, validate_parameters
from labs.models import GPU_CHOICES
from simulations import engine
from simulations.engine.errors import EngineError
from simulations.engine.params import PARAMETER_SPECS
from simulations.engine.scenario import ScenarioSpec
from simulations.engine.stability import MAX_ENUMERATED_PLAYERS
from simulations.engine.whatif import CentralOutcome, central_outcome

from .services import lab_input_build, scenario_spec_build

# A what-if is answered within the request: up to the size whose core check enumerates every coalition.
MAX_WHATIF_LABS = MAX_ENUMERATED_PLAYERS
BASELINE_SECONDS = 3600
# Lab inputs a what-if may change, one value each (the research-area weights take six, so the editor sets them).
WHATIF_OVERRIDES = [name for name in LAB_OVERRIDE_FIELDS if name != "area_weights"]
OVERRIDE_UNITS = {
    "final_run_gpu_hours": "GPU-hours/year",
    "price_per_gpu_hour": "US$/GPU-hour",
    "throughput_factor": "H100-eq./GPU-hour",
}


@dataclass(frozen=True)
class Target:
    """What a what-if changes: `key` is `p.<parameter>` or `o.<lab id>.<field>`."""

    key: str
    kind: str  # "parameter" or "override"
    field: str
    label: str
    unit: str = ""
    lab_id: int | None = None
    lab_name: str = ""


@dataclass(frozen=True)
class Change:
    """A target and its new value, as stored (a parameter's JSON value, an override's stored form)."""

    target: Target
    value: object
    old: object

    @property
    def value_text(self) -> str:
        return value_text(self.value)

    @property
    def old_text(self) -> str:
        return value_text(self.old)


@dataclass(frozen=True)
class MemberLine:
    name: str
    baseline_savings: float
    baseline_pct: float | None
    savings: float
    savings_pct: float | None

    @property
    def delta(self) -> float:
        return self.savings - self.baseline_savings

    @property
    def delta_pct(self) -> float | None:
        if self.savings_pct is None or self.baseline_pct is None:
            return None
        return self.savings_pct - self.baseline_pct


@dataclass(frozen=True)
class WhatIf:
    """The baseline and the what-if at central parameters under the scenario's first rule."""

    change: Change
    baseline: CentralOutcome
    outcome: CentralOutcome
    lines: tuple[MemberLine, ...]
    engine_seconds: float
    baseline_cached: bool


def value_text(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list | tuple):
        return value_text(value[0]) if len(set(value)) == 1 else " / ".join(value_text(item) for item in value)
    if value is None:
        return "datasheet"
    if isinstance(value, float):
        return f"{value:g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def whatif_targets(*, scenario: Scenario) -> list[Target]:
    """Every parameter (PARAMETER_SPECS order), then each lab's inputs (labs by name)."""
    targets = [
        Target(
            key=f"p.{name}",
            kind="parameter",
            field=name,
            label=spec.label + (" (all areas)" if spec.kind == "area" else ""),
            unit=spec.unit,
        )
        for name, spec in PARAMETER_SPECS.items()
    ]
    for lab in scenario.labs.order_by("name"):
        targets += [
            Target(
                key=f"o.{lab.pk}.{name}",
                kind="override",
                field=name,
                label=f"{lab.name}: {LAB_OVERRIDE_FIELDS[name]}",
                unit=OVERRIDE_UNITS.get(name, ""),
                lab_id=lab.pk,
                lab_name=lab.name,
            )
            for name in WHATIF_OVERRIDES
        ]
    return targets


def target_get(*, scenario: Scenario, key: str) -> Target:
    found = next((target for target in whatif_targets(scenario=scenario) if target.key == key), None)
    if found is None:
        raise ValidationError({"target": "Choose a parameter or a lab input of this scenario."})
    return found


def _lab(scenario: Scenario, target: Target):
    return scenario.labs.get(pk=target.lab_id)


def current_value(*, scenario: Scenario, target: Target) -> object:
    """The value the scenario's runs use now: its parameter, or the lab's input with its overrides."""
    if target.kind == "parameter":
        return scenario.effective_parameters()[target.field]
    lab = _lab(scenario, target)
    value = consortium_services.lab_effective_inputs(lab, scenario.overrides.get(str(lab.pk)))[target.field]
    return float(value) if target.field == "price_per_gpu_hour" else value


def value_field(target: Target) -> forms.Field:
    """The scenario editor's field type for the target's value."""
    if target.kind == "parameter":
        kind = PARAMETER_SPECS[target.field].kind
        if kind == "bool":
            return forms.TypedChoiceField(
                choices=[("on", "on"), ("off", "off")], coerce=lambda text: text == "on", empty_value=None
            )
        return forms.IntegerField() if kind == "int" else forms.FloatField()
    if target.field == "gpu_type":
        return forms.ChoiceField(choices=GPU_CHOICES)
    if target.field == "final_run_gpu_hours":
        return forms.IntegerField()
    if target.field == "price_per_gpu_hour":
        return forms.DecimalField()
    return forms.FloatField()


def _range_message(spec, value) -> str | None:
    from .forms import _plain, _range_text

    items = value if isinstance(value, list) else [value]
    for item in items:
        if not spec.low <= item <= spec.high:
            return f"Must be between {_range_text(spec)}; got {_plain(item)}."
    return None


def whatif_change_clean(*, scenario: Scenario, target_key: str, value: object) -> Change:
    """The change as the scenario would store it; a ValidationError on `target` or `value` otherwise."""
    target = target_get(scenario=scenario, key=str(target_key))
    text = value if not isinstance(value, str) else value.strip()
    try:
        parsed = value_field(target).clean(text)
    except ValidationError as error:
        raise ValidationError({"value": error.messages}) from None
    old = current_value(scenario=scenario, target=target)
    if target.kind == "parameter":
        spec = PARAMETER_SPECS[target.field]
        if spec.kind == "area":
            parsed = [parsed] * len(spec.default)
        if spec.kind != "bool" and (message := _range_message(spec, parsed)):
            raise ValidationError({"value": message})
        try:
            validate_parameters({target.field: parsed})
        except ValidationError as error:
            raise ValidationError({"value": error.messages}) from None
        return Change(target, parsed, old)
    lab = _lab(scenario, target)
    fields = {**scenario.overrides.get(str(lab.pk), {}), target.field: parsed}
    errors, stored = consortium_services.lab_overrides_clean(lab, fields)
    if errors:
        raise ValidationError({"value": [message for messages in errors.values() for message in messages]})
    return Change(target, stored[target.field], old)


def changed_scenario(*, scenario: Scenario, change: Change) -> Scenario:
    """An unsaved copy of the scenario's row with the change applied (its labs are the scenario's own)."""
    probe = copy.copy(scenario)
    if change.target.kind == "parameter":
        probe.parameters = {**scenario.effective_parameters(), change.target.field: change.value}
        return probe
    key = str(change.target.lab_id)
    fields = {**scenario.overrides.get(key, {}), change.target.field: change.value}
    probe.overrides = {**scenario.overrides, key: fields}
    return probe


def _spec(scenario: Scenario):
    labs = scenario.labs.count()
    if labs > MAX_WHATIF_LABS:
        raise ValidationError(
            {
                "scenario": f"The live what-if answers for at most {MAX_WHATIF_LABS} labs; this scenario has {labs}. "
                "Save the change as a new scenario and run it."
            }
        )
    try:
        return scenario_spec_build(scenario=scenario)
    except EngineError as exc:
        raise ValidationError({"scenario": f"The scenario cannot be simulated: {exc}"}) from None


def _outcome(spec) -> CentralOutcome:
    try:
        return central_outcome(spec)
    except EngineError as exc:
        raise ValidationError({"value": f"The changed scenario cannot be computed: {exc}"}) from None


def changed_spec(*, spec: ScenarioSpec, scenario: Scenario, change: Change) -> ScenarioSpec:
    """The scenario's spec with the change, from the spec as it stands (no second trip to the ledger):
    what scenario_spec_build gives for `changed_scenario`, as the tests check."""
    changed = changed_scenario(scenario=scenario, change=change)
    if change.target.kind == "parameter":
        try:
            return dataclasses.replace(spec, params=engine.Params.from_dict(changed.effective_parameters()))
        except EngineError as exc:
            raise ValidationError({"value": f"The changed scenario cannot be computed: {exc}"}) from None
    lab = _lab(scenario, change.target)
    labs = tuple(
        lab_input_build(
            lab,
            changed.overrides.get(str(lab.pk)),
            weight=old.weight,
            delivered_value=old.delivered_value,
            # The spec's openness may come from the ledger (scenario_evidence_get); only a change of
            # openness itself replaces it (an override wins over both sources).
            openness=None if change.target.field == "openness" else old.openness,
        )
        if old.name == lab.name
        else old
        for old in spec.labs
    )
    return dataclasses.replace(spec, labs=labs)


def baseline_get(*, scenario: Scenario, spec: ScenarioSpec | None = None) -> tuple[CentralOutcome, bool]:
    """The scenario's own central outcome, from the cache when its inputs have not changed; and whether it was."""
    spec = spec or _spec(scenario)
    digest = hashlib.sha256(json.dumps(spec.to_dict(), sort_keys=True, default=str).encode()).hexdigest()
    key = f"whatif:baseline:{scenario.pk}:{digest}"
    cache = caches["local"]
    found = cache.get(key)
    if found is not None:
        return found, True
    outcome = central_outcome(spec)
    cache.set(key, outcome, timeout=BASELINE_SECONDS)
    return outcome, False


def whatif_compute(*, scenario: Scenario, change: Change) -> WhatIf:
    """The baseline beside the scenario with `change` applied, at central parameters (nothing saved)."""
    if scenario.is_custom:
        raise ValidationError({"scenario": "A custom game has no parameters or lab inputs to change."})
    own = _spec(scenario)
    baseline, cached = baseline_get(scenario=scenario, spec=own)
    spec = changed_spec(spec=own, scenario=scenario, change=change)
    started = time.perf_counter()
    outcome = _outcome(spec)
    seconds = time.perf_counter() - started
    lines = tuple(
        MemberLine(
            name=name,
            baseline_savings=baseline.savings[i],
            baseline_pct=baseline.savings_pct[i],
            savings=outcome.savings[outcome.names.index(name)],
            savings_pct=outcome.savings_pct[outcome.names.index(name)],
        )
        for i, name in enumerate(baseline.names)
    )
    return WhatIf(change, baseline, outcome, lines, seconds, cached)


def whatif_name(*, scenario: Scenario, change: Change) -> str:
    """`<name> — what if <field> = <value>`, cut to fit and numbered while the name is taken."""
    target = change.target
    field = target.label if target.kind == "override" else target.field.replace("_", " ")
    base = f"{scenario.name} — what if {field} = {change.value_text}"
    limit = Scenario._meta.get_field("name").max_length
    taken = set(scenario.consortium.scenarios.values_list("name", flat=True))
    number = 1
    while True:
        suffix = "" if number == 1 else f" ({number})"
        name = base[: limit - len(suffix)] + suffix
        if name not in taken:
            return name
        number += 1


@transaction.atomic
def scenario_whatif_save(*, scenario: Scenario, change: Change, by) -> Scenario:
    """A new scenario: a copy of `scenario` (labs, rules, weights, overrides, draws, seed) with the change."""
    if not access.is_coordinator(by, scenario.consortium):
        raise PermissionDenied("Only the consortium's coordinators save scenarios.")
    changed = changed_scenario(scenario=scenario, change=change)
    target = change.target
    return consortium_services.scenario_create(
        consortium=scenario.consortium,
        created_by=by,
        name=whatif_name(scenario=scenario, change=change),
        description=f"{scenario.name} with {target.label} {change.old_text} → {change.value_text}.",
        labs=list(scenario.labs.all()),
        parameters=changed.parameters,
        rules=list(scenario.rules),
        weight_basis=scenario.weight_basis,
        weight_values=dict(scenario.weight_values),
        weight_cap=scenario.weight_cap,
        overrides=changed.overrides,
        draws=scenario.draws,
        seed=scenario.seed,
    )
