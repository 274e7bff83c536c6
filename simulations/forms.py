"""The scenario editor and the comparison picker.

Every cost-model parameter comes from the engine's PARAMETER_SPECS, so the editor always shows the
engine's own defaults, allowed ranges, units and source notes. An "area" parameter is one value for
every research area unless "set per research area" is ticked, which enables six inputs. The
weighted rule's weights are a basis, a cap and one number per lab, checked by the same
consortium.services.scenario_weights_check the services and the API use.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from consortium.forms import IdChoiceField, IdMultipleChoiceField
from consortium.models import (
    LAB_OVERRIDE_FIELDS,
    OPENNESS_SOURCE_CHOICES,
    Membership,
    Scenario,
    validate_weight_cap,
)
from consortium.services import lab_overrides_clean, scenario_weights_check
from labs.models import GPU_CHOICES, Lab
from labs.selectors import EVIDENCE_MONTHS_DEFAULT, evidence_window, lab_evidence_get
from simulations.engine import RULE_LABELS, RULES
from simulations.engine.params import AREA_LABELS, AREAS, PARAMETER_SPECS

from .models import SimulationRun

MIN_COMPARED, MAX_COMPARED = 2, 4
# What one lab's number means under each weight basis.
WEIGHT_UNITS = {
    "shares": "%",
    "scale": "number on the scale",
    "delivered": "not used with compute delivered, which the ledger gives",
}


def _range_text(spec) -> str:
    unit = f" {spec.unit}" if spec.unit else ""
    if spec.kind == "bool":
        return "on or off"
    return f"{_plain(spec.low)} to {_plain(spec.high)}{unit}"


def _plain(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1000:
        return f"{int(value):,}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:g}"


def _tidy(value):
    """Whole floats show as integers in the inputs (1000000, not 1000000.0)."""
    if isinstance(value, list | tuple):
        return [_tidy(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class ParameterRow:
    """What the editor shows for one parameter: its inputs, default, allowed range, unit and source."""

    def __init__(self, form: ScenarioForm, spec):
        self.spec = spec
        self.field = form[f"p_{spec.name}"]
        self.default_text = _plain(spec.default[0] if spec.kind == "area" else spec.default)
        self.range_text = _range_text(spec)
        unit = f" {spec.unit}" if spec.unit else ""
        self.plausible_text = f"{_plain(spec.plausible_low)} to {_plain(spec.plausible_high)}{unit}"
        self.per_area_field = form[f"p_{spec.name}__per_area"] if spec.kind == "area" else None
        self.area_fields = [form[f"p_{spec.name}__{area}"] for area in AREAS] if spec.kind == "area" else []

    @property
    def errors(self):
        errors = list(self.field.errors)
        for bound in self.area_fields:
            errors.extend(bound.errors)
        return errors


class OverrideGroup:
    """One lab's override inputs in the editor: blank inputs keep the lab's own value."""

    def __init__(self, form: ScenarioForm, lab: Lab):
        self.lab = lab
        prefix = f"o_{lab.pk}_"
        self.fields = [form[f"{prefix}{name}"] for name in SIMPLE_OVERRIDES]
        self.area_fields = [form[f"{prefix}area_{area}"] for area in AREAS]
        self.area_error = form.override_area_errors.get(lab.pk, [])

    @property
    def count(self) -> int:
        given = [bound for bound in self.fields if bound.value() not in (None, "")]
        return len(given) + any(bound.value() not in (None, "") for bound in self.area_fields)

    @property
    def has_errors(self) -> bool:
        return bool(self.area_error) or any(bound.errors for bound in [*self.fields, *self.area_fields])


# The override inputs with one form field each (the research-area weights take one per area).
SIMPLE_OVERRIDES = [name for name in LAB_OVERRIDE_FIELDS if name != "area_weights"]


class ScenarioForm(forms.ModelForm):
    rules = forms.MultipleChoiceField(
        label="Cost-sharing rules",
        choices=[(rule, RULE_LABELS[rule]) for rule in RULES],
        widget=forms.CheckboxSelectMultiple,
        help_text="The first rule chosen is the headline on dashboards and reports.",
    )

    # Built in clean() from one input per lab; not an input itself, it carries the weights' errors.
    weight_values = forms.JSONField(required=False, disabled=True, widget=forms.HiddenInput)
    weighted_label = RULE_LABELS["weighted"]
    # Built in clean() from the per-lab override inputs; carries the errors that name no single input.
    overrides = forms.JSONField(required=False, disabled=True, widget=forms.HiddenInput)
    # Built in clean() from one choice per lab; carries the errors the service gives the exceptions.
    openness_by_lab = forms.JSONField(required=False, disabled=True, widget=forms.HiddenInput)

    class Meta:
        model = Scenario
        fields = [
            "name",
            "description",
            "labs",
            "weight_basis",
            "weight_cap",
            "openness_source",
            "evidence_months",
            "draws",
            "seed",
        ]
        field_classes = {"labs": IdMultipleChoiceField}
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "labs": forms.CheckboxSelectMultiple,
            "openness_source": forms.RadioSelect,
        }
        labels = {
            "weight_basis": "Weight basis",
            "weight_cap": "Cap on a member's share",
            "openness_source": "Every lab's openness",
            "evidence_months": "Evidence window (months before each run)",
        }
        help_texts = {
            "draws": "Monte Carlo draws of the uncertain parameters; more draws give steadier bands (1 to 100,000).",
            "seed": "The same seed and inputs give the same results.",
            "labs": "Current members and candidates of the consortium.",
            "weight_cap": "Scale only, optional: the largest share of the joint costs one member pays, above 0 and "
            "at most 1 (0.25 for 25 %); the rest is spread over the others.",
            "openness_source": "From the ledger: the GPU-hour-weighted openness of the lab's artifacts released in the "
            "window (open 1, partially open 0.5, internal fork 0). A lab without artifacts in the window keeps its "
            "assumed openness, and the run says so.",
            "evidence_months": "The ledger is read over this many months up to the day a run starts (1 to 120).",
        }

    def __init__(self, *args, consortium, **kwargs):
        super().__init__(*args, **kwargs)
        self.consortium = consortium
        self.instance.consortium = consortium
        participants = Membership.objects.current().filter(
            consortium=consortium, status__in=[Membership.Status.MEMBER, Membership.Status.CANDIDATE]
        )
        statuses = dict(participants.values_list("lab_id", "status"))
        self.fields["labs"].queryset = Lab.objects.filter(pk__in=statuses).order_by("name")
        self.fields["labs"].label = "Labs in this scenario"
        self.fields["labs"].label_from_instance = lambda lab: (
            f"{lab.name} (candidate)" if statuses.get(lab.pk) == Membership.Status.CANDIDATE else lab.name
        )
        self.fields["draws"].widget.attrs.update({"min": "1", "max": "100000"})
        self.fields["weight_cap"].validators.append(validate_weight_cap)
        self.fields["weight_cap"].widget.attrs.update({"step": "any", "min": "0", "max": "1"})
        given = self.instance.weight_values if self.instance.pk else {}
        self.weight_labs = list(self.fields["labs"].queryset)
        for lab in self.weight_labs:
            self.fields[f"w_{lab.pk}"] = forms.FloatField(
                # Named apart from the lab's checkbox for screen readers; the visible label is the lab's name.
                label=format_html('<span class="sr-only">Weight of </span>{}', lab.name),
                required=False,
                initial=_tidy(given.get(str(lab.pk))),
                widget=forms.NumberInput(attrs={"step": "any"}),
            )
            # Needed under the weighted rule with shares or a scale; not "(optional)".
            self.fields[f"w_{lab.pk}"].conditionally_required = True
        self.fields["evidence_months"].widget.attrs.update({"min": "1", "max": "120"})
        # Left out of a post (an older client), both keep the scenario's value.
        self.fields["evidence_months"].required = False
        self.fields["openness_source"].required = False
        # A page always posts them (the inputs start filled in): not "(optional)".
        self.fields["evidence_months"].conditionally_required = True
        self.fields["openness_source"].conditionally_required = True
        self.fields["openness_source"].choices = OPENNESS_SOURCE_CHOICES
        self._add_openness_fields()
        self.override_area_errors: dict[int, list[str]] = {}
        stored = self.instance.overrides if self.instance.pk else {}
        for lab in self.weight_labs:
            self._add_override_fields(lab, stored.get(str(lab.pk), {}))
        self.fields["rules"].initial = (
            list(self.instance.rules) if self.instance.pk else ["shapley", "nucleolus", "proportional"]
        )
        values = (
            self.instance.effective_parameters()
            if self.instance.pk
            else {name: spec.default for name, spec in PARAMETER_SPECS.items()}
        )
        for name, spec in PARAMETER_SPECS.items():
            self._add_parameter_fields(spec, values.get(name, spec.default))

    def _add_openness_fields(self) -> None:
        """One choice per lab: as the scenario's source, or the other one; labelled with both figures."""
        start, end = evidence_window(self.instance.evidence_months or EVIDENCE_MONTHS_DEFAULT)
        evidence = lab_evidence_get(labs=self.weight_labs, start=start, end=end)
        given = self.instance.openness_by_lab if self.instance.pk else {}
        for lab in self.weight_labs:
            measured = evidence[lab.pk].measured_openness
            measured_text = "no evidence" if measured is None else f"{measured:.0%}"
            self.fields[f"s_{lab.pk}"] = forms.ChoiceField(
                label=format_html(
                    '{} <span class="small subtle">(assumed {}, measured {})</span>',
                    lab.name,
                    f"{lab.openness:.0%}",
                    measured_text,
                ),
                required=False,
                choices=[("", "As for every lab"), *OPENNESS_SOURCE_CHOICES],
                initial=given.get(str(lab.pk), ""),
            )

    @property
    def openness_fields(self):
        return [self[f"s_{lab.pk}"] for lab in self.weight_labs]

    def _clean_openness(self, cleaned: dict) -> None:
        """Collect the labs whose openness comes from another source than the scenario's."""
        if not cleaned.get("openness_source") and "openness_source" not in self.errors:
            cleaned["openness_source"] = self.instance.openness_source or "assumed"
        if cleaned.get("evidence_months") is None and "evidence_months" not in self.errors:
            cleaned["evidence_months"] = self.instance.evidence_months or EVIDENCE_MONTHS_DEFAULT
        chosen = {lab.pk for lab in cleaned.get("labs") or []}
        self.openness_value: dict[str, str] = {}
        for lab in self.weight_labs:
            source = cleaned.get(f"s_{lab.pk}")
            if not source:
                continue
            if lab.pk not in chosen and "labs" not in self.errors:
                self.add_error(
                    f"s_{lab.pk}",
                    f"{lab.name} is not in this scenario: tick it above or choose “As for every lab”.",
                )
                continue
            self.openness_value[str(lab.pk)] = source
        cleaned["openness_by_lab"] = self.openness_value

    def _add_override_fields(self, lab: Lab, given: dict) -> None:
        """Inputs for each of the lab's overridable fields, blank unless the scenario overrides it.

        The placeholder shows the lab's own value, which a blank input keeps.
        """
        prefix = f"o_{lab.pk}_"
        own = {
            "final_run_gpu_hours": lab.final_run_gpu_hours,
            "rd_share": lab.rd_share,
            "price_per_gpu_hour": lab.price_per_gpu_hour,
            "throughput_factor": lab.throughput_factor,
            "openness": lab.openness,
        }

        def number(label, name, field_class=forms.FloatField, **kwargs):
            placeholder = "datasheet" if own[name] is None else _plain(_tidy(own[name]))
            self.fields[f"{prefix}{name}"] = field_class(
                label=format_html('{}<span class="sr-only"> of {}</span>', label, lab.name),
                required=False,
                initial=_tidy(given.get(name)),
                widget=forms.NumberInput(attrs={"step": "any", "placeholder": placeholder.replace(",", "")}),
                **kwargs,
            )

        number("Final run (GPU-hours/year)", "final_run_gpu_hours", forms.IntegerField)
        number("R&D share", "rd_share")
        number("Price (US$/GPU-hour)", "price_per_gpu_hour", forms.DecimalField)
        self.fields[f"{prefix}gpu_type"] = forms.ChoiceField(
            label=format_html('GPU type<span class="sr-only"> of {}</span>', lab.name),
            required=False,
            choices=[("", f"Lab's own ({lab.gpu_type})"), *GPU_CHOICES],
            initial=given.get("gpu_type", ""),
        )
        number("Throughput factor (H100-eq./GPU-hour)", "throughput_factor")
        number("Openness (0 to 1)", "openness")
        areas = given.get("area_weights") or {}
        for area in AREAS:
            self.fields[f"{prefix}area_{area}"] = forms.FloatField(
                label=format_html('{}<span class="sr-only"> weight of {}</span>', AREA_LABELS[area], lab.name),
                required=False,
                initial=_tidy(areas.get(area)),
                widget=forms.NumberInput(
                    attrs={"step": "any", "min": "0", "max": "1", "placeholder": _plain(lab.area_weights.get(area))}
                ),
            )

    @property
    def override_groups(self) -> list[OverrideGroup]:
        return [OverrideGroup(self, lab) for lab in self.weight_labs]

    def _clean_overrides(self, cleaned: dict) -> None:
        """Collect each lab's filled-in override inputs and check them with the lab's own validation."""
        chosen = {lab.pk for lab in cleaned.get("labs") or []}
        self.overrides_value: dict[str, dict] = {}
        for lab in self.weight_labs:
            prefix = f"o_{lab.pk}_"
            fields = {
                name: cleaned[f"{prefix}{name}"]
                for name in SIMPLE_OVERRIDES
                if cleaned.get(f"{prefix}{name}") not in (None, "")
            }
            areas = {area: cleaned.get(f"{prefix}area_{area}") for area in AREAS}
            if any(value is not None for value in areas.values()):
                if any(value is None for value in areas.values()):
                    self.override_area_errors[lab.pk] = [
                        "Give a weight for every research area (they sum to 1), or leave them all blank."
                    ]
                    self.add_error(None, f"{lab.name}: give every research-area weight or none.")
                    continue
                fields["area_weights"] = areas
            if not fields or any(f"{prefix}{name}" in self.errors for name in fields):
                continue
            if lab.pk not in chosen and "labs" not in self.errors:
                self.add_error(
                    "overrides",
                    f"{lab.name} is not in this scenario but has overrides: tick it above or clear its overrides.",
                )
                continue
            errors, values = lab_overrides_clean(lab, fields)
            for name, messages in errors.items():
                if name == "area_weights":
                    self.override_area_errors[lab.pk] = messages
                    self.add_error(None, f"{lab.name}, research-area weights: {' '.join(messages)}")
                else:
                    self.add_error(f"{prefix}{name}", messages)
            if values:
                self.overrides_value[str(lab.pk)] = values
        cleaned["overrides"] = self.overrides_value

    def _add_parameter_fields(self, spec, value) -> None:
        key = f"p_{spec.name}"
        value = _tidy(value)
        number_attrs = {
            "step": "any",
            "min": _plain(spec.low).replace(",", ""),
            "max": _plain(spec.high).replace(",", ""),
        }
        if spec.kind == "bool":
            self.fields[key] = forms.BooleanField(label=spec.label, required=False, initial=bool(value))
        elif spec.kind == "int":
            self.fields[key] = forms.IntegerField(
                label=spec.label, initial=value, widget=forms.NumberInput(attrs={**number_attrs, "step": "1"})
            )
        elif spec.kind == "area":
            values = list(value)
            same = all(item == values[0] for item in values)
            self.fields[key] = forms.FloatField(
                label=f"{spec.label}: all areas",
                initial=values[0],
                required=False,
                widget=forms.NumberInput(attrs=number_attrs),
            )
            self.fields[key].conditionally_required = True
            self.fields[f"{key}__per_area"] = forms.BooleanField(
                label="Set per research area", required=False, initial=not same
            )
            for area, item in zip(AREAS, values, strict=True):
                self.fields[f"{key}__{area}"] = forms.FloatField(
                    label=AREA_LABELS[area], initial=item, required=False, widget=forms.NumberInput(attrs=number_attrs)
                )
        else:
            self.fields[key] = forms.FloatField(
                label=spec.label, initial=value, widget=forms.NumberInput(attrs=number_attrs)
            )

    @property
    def parameter_rows(self) -> list[ParameterRow]:
        return [ParameterRow(self, spec) for spec in PARAMETER_SPECS.values()]

    @property
    def weight_fields(self):
        return [self[f"w_{lab.pk}"] for lab in self.weight_labs]

    @property
    def weight_unit(self) -> str:
        """The unit of each lab's number under the basis currently chosen (the posted one, else the stored one)."""
        return WEIGHT_UNITS.get(str(self["weight_basis"].value()), "")

    def _clean_weights(self, cleaned: dict) -> None:
        """Collect one number per chosen lab and check them with the services' own check."""
        basis, labs, rules = cleaned.get("weight_basis"), cleaned.get("labs"), cleaned.get("rules")
        # Compute delivered takes no numbers, and a lab left out of the scenario keeps none.
        self.weight_values = {
            str(lab.pk): cleaned[f"w_{lab.pk}"]
            for lab in labs or []
            if basis != "delivered" and cleaned.get(f"w_{lab.pk}") is not None
        }
        cleaned["weight_values"] = self.weight_values
        inputs = ["weight_basis", "weight_cap", "labs", "rules", *(f"w_{lab.pk}" for lab in self.weight_labs)]
        if any(name in self.errors for name in inputs):
            return
        try:
            scenario_weights_check(
                consortium=self.consortium,
                labs=labs,
                rules=rules,
                basis=basis,
                values=self.weight_values,
                cap=cleaned.get("weight_cap"),
            )
        except ValidationError as error:
            for name, messages in error.message_dict.items():
                self.add_error(name if name in self.fields else None, messages)

    def clean(self):
        cleaned = super().clean()
        parameters = {}
        for name, spec in PARAMETER_SPECS.items():
            key = f"p_{name}"
            if spec.kind == "area":
                if cleaned.get(f"{key}__per_area"):
                    values = [cleaned.get(f"{key}__{area}") for area in AREAS]
                    for area, value in zip(AREAS, values, strict=True):
                        if value is None and f"{key}__{area}" not in self.errors:
                            self.add_error(f"{key}__{area}", "Enter a value for this research area.")
                else:
                    single = cleaned.get(key)
                    if single is None:
                        if key not in self.errors:
                            self.add_error(key, "Enter a value (it applies to every research area).")
                        continue
                    values = [single] * len(AREAS)
                if any(value is None for value in values):
                    continue
                self._check_range(spec, values, key)
                parameters[name] = values
            elif key in cleaned and cleaned[key] is not None:
                value = cleaned[key]
                self._check_range(spec, value, key)
                parameters[name] = value
        self.parameters = parameters
        self._clean_weights(cleaned)
        self._clean_overrides(cleaned)
        self._clean_openness(cleaned)
        return cleaned

    def _check_range(self, spec, value, key) -> None:
        if spec.kind == "bool":
            return
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            if not spec.low <= item <= spec.high:
                target = (
                    f"{key}__{AREAS[index]}"
                    if isinstance(value, list) and self.cleaned_data.get(f"{key}__per_area")
                    else key
                )
                if target in self.errors:
                    continue
                self.add_error(target, f"Must be between {_range_text(spec)}; got {_plain(item)}.")

    def service_values(self) -> dict:
        return {
            "name": self.cleaned_data["name"],
            "description": self.cleaned_data.get("description", ""),
            "labs": list(self.cleaned_data["labs"]),
            "parameters": self.parameters,
            "rules": list(self.cleaned_data["rules"]),
            "weight_basis": self.cleaned_data["weight_basis"],
            "weight_values": self.weight_values,
            "weight_cap": self.cleaned_data.get("weight_cap"),
            "overrides": self.overrides_value,
            "openness_source": self.cleaned_data["openness_source"],
            "openness_by_lab": self.openness_value,
            "evidence_months": self.cleaned_data["evidence_months"],
            "draws": self.cleaned_data["draws"],
            "seed": self.cleaned_data["seed"],
        }


class CompareForm(forms.Form):
    scenarios = IdMultipleChoiceField(
        queryset=Scenario.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        label="Scenarios to compare",
        help_text=f"Pick {MIN_COMPARED} to {MAX_COMPARED} scenarios with a finished run.",
    )
    baseline = IdChoiceField(
        queryset=Scenario.objects.none(),
        required=False,
        label="Baseline",
        empty_label="The first scenario ticked",
        help_text="Differences in the table are against this scenario; it must be one of those compared.",
    )

    # Runs instead of scenarios (`?runs=<id>&runs=<id>`, from a run's page): two runs of one
    # scenario compare as two scenarios do. Runs of archived scenarios count: their runs stay readable.
    runs = IdMultipleChoiceField(
        queryset=SimulationRun.objects.none(), required=False, widget=forms.MultipleHiddenInput, label="Runs"
    )

    def __init__(self, *args, consortium, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["runs"].queryset = SimulationRun.objects.filter(scenario__consortium=consortium).select_related(
            "scenario"
        )
        if self.is_bound and self.data.get("runs"):
            self.fields["scenarios"].required = False
        self.fields["scenarios"].queryset = consortium.scenarios.active().order_by("name")
        self.fields["baseline"].queryset = consortium.scenarios.active().order_by("name")
        self.fields["baseline"].label_from_instance = lambda scenario: scenario.name
        finished = set(
            SimulationRun.objects.filter(scenario__consortium=consortium, status=SimulationRun.Status.SUCCEEDED)
            .values_list("scenario_id", flat=True)
            .distinct()
        )
        self.fields["scenarios"].label_from_instance = lambda scenario: (
            scenario.name if scenario.pk in finished else f"{scenario.name} (not run yet)"
        )

    def clean_runs(self):
        chosen = self.cleaned_data["runs"]
        if chosen and not MIN_COMPARED <= len(chosen) <= MAX_COMPARED:
            raise forms.ValidationError(
                f"Pick between {MIN_COMPARED} and {MAX_COMPARED} runs; you picked {len(chosen)}."
            )
        unfinished = [run for run in chosen if run.status != SimulationRun.Status.SUCCEEDED]
        if unfinished:
            names = ", ".join(f"#{run.pk} ({run.get_status_display().lower()})" for run in unfinished)
            raise forms.ValidationError(f"Only finished runs can be compared; not run {names}.")
        return chosen

    def clean_scenarios(self):
        chosen = self.cleaned_data["scenarios"]
        if not chosen and self.data.get("runs"):
            return chosen
        if not MIN_COMPARED <= len(chosen) <= MAX_COMPARED:
            raise forms.ValidationError(
                f"Pick between {MIN_COMPARED} and {MAX_COMPARED} scenarios; you picked {len(chosen)}."
            )
        return chosen

    def clean(self):
        cleaned = super().clean()
        if "runs" in self.errors:
            # The runs are named in the address, not by an input: their messages go at the top of the form.
            self.add_error(None, [f"Runs: {message}" for message in self.errors.pop("runs")])
        if cleaned.get("runs") and cleaned.get("scenarios"):
            self.add_error(None, "Compare either scenarios or runs, not both.")
        baseline, chosen = cleaned.get("baseline"), cleaned.get("scenarios")
        if baseline is not None and chosen is not None and baseline not in chosen:
            self.add_error(
                "baseline",
                f"“{baseline.name}” is not among the scenarios compared: tick it too, or choose one of those ticked.",
            )
        return cleaned


MAX_GAME_UPLOAD = 1_000_000  # bytes; the engine's own text limit is the same in characters


class CustomGameForm(forms.Form):
    """A custom game: a pasted or uploaded table (or airport game) and the rules to split it by.

    The table is read by simulations.engine.custom (through consortium.services.custom_game_check)
    when the service saves it, so the page, the API and the CLI refuse the same input with the
    same message naming the row.
    """

    KIND_CHOICES = [
        (Scenario.Kind.TABLE, 'Table of coalition costs: CSV `coalition,cost` or JSON {"A+B": cost}'),
        (Scenario.Kind.AIRPORT, "Airport game: player types, each with the level it needs and a count"),
    ]

    name = forms.CharField(max_length=120)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    kind = forms.ChoiceField(choices=KIND_CHOICES, widget=forms.RadioSelect, initial=Scenario.Kind.TABLE)
    text = forms.CharField(
        label="Paste the game",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false", "class": "mono"}),
        help_text="CSV or JSON. A table names every non-empty coalition once (members joined by +, up to 20 "
        "players). An airport game has columns player, level, cost, count (rows without a player give a level's "
        "cost).",
    )
    upload = forms.FileField(label="…or upload a file", required=False, help_text="CSV or JSON, up to 1 MB.")
    rules = forms.MultipleChoiceField(
        choices=[(rule, RULE_LABELS[rule]) for rule in RULES if rule != "weighted"],
        widget=forms.CheckboxSelectMultiple,
        initial=["shapley", "nucleolus", "proportional"],
    )

    def __init__(self, *args, scenario: Scenario | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if scenario is not None:
            # The kind of a saved game stays; its table is shown back for editing.
            self.fields["kind"].disabled = True
            self.initial.update(name=scenario.name, description=scenario.description, kind=scenario.kind)
            self.initial.update(rules=scenario.rules, text=scenario_game_text(scenario))

    def clean(self):
        data = super().clean()
        upload = data.get("upload")
        text = data.get("text") or ""
        if upload is not None:
            if text.strip():
                raise ValidationError({"upload": "Paste the game or upload a file, not both."})
            if upload.size > MAX_GAME_UPLOAD:
                raise ValidationError({"upload": f"The file is {upload.size:,} bytes; the limit is 1,000,000 bytes."})
            try:
                text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise ValidationError(
                    {"upload": "The file is not UTF-8 text; save it as CSV (UTF-8) or JSON."}
                ) from None
        elif not text.strip():
            raise ValidationError({"text": "Paste the game's table here or upload a file."})
        data["game_text"] = text
        return data


def scenario_game_text(scenario: Scenario) -> str:
    from simulations.engine.custom import game_text

    return game_text(scenario.kind, scenario.game) if scenario.game else ""
