"""The scenario page's what-if panel (coordinators): change one input, see the central figures.

The panel is one partial (templates/simulations/partials/whatif.html). Its form asks with htmx
(GET, nothing changes) whenever the target or the value changes and gets the panel back: the
figures beside the scenario's own, or the value's error beside the input. Without JavaScript the
form's GET shows the scenario page with the panel filled in (status 400 on bad input). "Save as
new scenario" posts the change and redirects to the new scenario.

Members who are not coordinators see no panel and get 403 from both endpoints; people outside the
consortium get 404, as for every scenario page.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from consortium.models import Scenario
from simulations.engine import RULE_LABELS

from . import whatif
from .views import _coordinated_scenario, scenario_page


class WhatIfForm(forms.Form):
    target = forms.ChoiceField(label="Change")
    value = forms.CharField(label="To", required=False, max_length=40)

    def __init__(self, *args, scenario: Scenario, **kwargs):
        # Its own ids: the scenario page also holds the lever study's form, whose field is `target` too.
        kwargs.setdefault("auto_id", "whatif_%s")
        super().__init__(*args, **kwargs)
        self.scenario = scenario
        self.targets = {target.key: target for target in whatif.whatif_targets(scenario=scenario)}
        parameters = [(t.key, t.label) for t in self.targets.values() if t.kind == "parameter"]
        overrides = [(t.key, t.label) for t in self.targets.values() if t.kind == "override"]
        self.fields["target"].choices = [
            ("", "Pick a parameter or a lab input"),
            ("Scenario parameters", parameters),
            ("Lab inputs (an override for this scenario)", overrides),
        ]
        url = reverse("simulations:whatif", args=[scenario.pk])
        # A new target asks for the panel alone (the value belongs to the old target); a new value
        # asks for the figures only, so an answer never overwrites what is being typed.
        self.fields["target"].widget.attrs.update(
            {"hx-get": url, "hx-trigger": "change", "hx-target": "#whatif", "hx-swap": "outerHTML"}
        )
        self.value_attrs = {
            "hx-get": url,
            "hx-trigger": "input changed delay:400ms, change",
            "hx-include": "closest form",
            "hx-target": "#whatif-results",
            "hx-select": "#whatif-results",
            "hx-select-oob": "#whatif-value-error",
            "hx-swap": "outerHTML",
            "hx-sync": "closest form:replace",
            "aria-describedby": "whatif-value-error",
        }
        self.change: whatif.Change | None = None
        self.chosen = self.targets.get(self.data.get("target", "")) if self.is_bound else None
        if self.chosen is not None:
            self._widget_for(self.chosen)

    def _widget_for(self, target: whatif.Target) -> None:
        field = whatif.value_field(target)
        current = whatif.value_text(whatif.current_value(scenario=self.scenario, target=target)).replace(",", "")
        if isinstance(field, forms.ChoiceField):
            widget: forms.Widget = forms.Select(choices=field.choices, attrs=self.value_attrs)
        else:
            attrs = {"inputmode": "decimal", "placeholder": current, "autocomplete": "off"}
            widget = forms.TextInput(attrs={**attrs, **self.value_attrs})
        self.fields["value"].widget = widget
        unit = f" {target.unit}" if target.unit else ""
        self.fields["value"].label = f"To{unit and ' (' + unit.strip() + ')'}"
        self.current_text = current + unit

    def clean(self):
        cleaned = super().clean()
        if "target" not in cleaned or self.chosen is None:
            return cleaned
        value = cleaned.get("value", "")
        if value in ("", None):
            # A target alone shows the scenario's own figures and the current value to start from.
            return cleaned
        try:
            self.change = whatif.whatif_change_clean(scenario=self.scenario, target_key=cleaned["target"], value=value)
        except ValidationError as error:
            for name, found in error.message_dict.items():
                self.add_error(name if name in self.fields else None, found)
        return cleaned


def panel_context(*, scenario: Scenario, form: WhatIfForm) -> dict:
    """The panel's figures, or its errors; never raises for bad input."""
    context = {
        "whatif_form": form,
        "scenario": scenario,
        "rule_label": RULE_LABELS.get(scenario.rules[0], scenario.rules[0]),
        "currency": scenario.consortium.currency,
    }
    if not form.is_bound or not form.is_valid():
        return context
    try:
        if form.change is not None:
            context["result"] = whatif.whatif_compute(scenario=scenario, change=form.change)
        else:
            baseline, _ = whatif.baseline_get(scenario=scenario)
            context["baseline"] = baseline
            context["baseline_lines"] = list(zip(baseline.names, baseline.savings, baseline.savings_pct, strict=True))
    except ValidationError as error:
        for name, found in error.message_dict.items():
            form.add_error(name if name in form.fields else None, found)
    return context


def _panel_scenario(request, pk: int) -> Scenario:
    scenario = _coordinated_scenario(request, pk)
    if scenario.is_custom:
        raise Http404("A custom game has no what-if panel.")
    return scenario


@login_required
@require_GET
def whatif_panel(request, pk: int):
    """The panel for htmx; the scenario page with the panel filled in otherwise."""
    scenario = _panel_scenario(request, pk)
    form = WhatIfForm(request.GET, scenario=scenario)
    context = panel_context(scenario=scenario, form=form)
    if request.htmx:
        # htmx swaps 200 answers only: errors come back in the panel with a 200. A new value asks
        # for the figures and the value's message alone (the form stays as it is being typed).
        answer = request.htmx.target == "whatif-results"
        template = "simulations/partials/whatif_answer.html" if answer else "simulations/partials/whatif.html"
        response = render(request, template, context)
    else:
        response = scenario_page(request, scenario, whatif=context, status=400 if form.errors else 200)
    if "result" in context:
        # The engine's share of the answer, for browsers' developer tools and bench/whatif.
        response["Server-Timing"] = f"engine;dur={1000 * context['result'].engine_seconds:.1f}"
    return response


@login_required
@require_POST
def whatif_save(request, pk: int):
    scenario = _panel_scenario(request, pk)
    form = WhatIfForm(request.POST, scenario=scenario)
    if form.is_valid() and form.change is None:
        form.add_error("value", "Enter the value to save.")
    if form.is_valid():
        try:
            saved = whatif.scenario_whatif_save(scenario=scenario, change=form.change, by=request.user)
        except ValidationError as error:
            form.add_error(None, error.messages)
        else:
            messages.success(request, f"Scenario “{saved.name}” saved. Run it for the full results and their bands.")
            return redirect(saved)
    return scenario_page(request, scenario, whatif=panel_context(scenario=scenario, form=form), status=400)
