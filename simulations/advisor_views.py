"""The membership advisor on the consortium page (coordinators only).

The consortium page holds the card with a scenario picker; the table itself comes from
`advisor_panel`, which htmx loads once the page is shown (it computes every variant, which takes
a moment the first time) and again when another scenario is picked. Without JavaScript the
picker's form opens the same view as a page of its own, which answers 400 with the message when
the scenario is refused (the htmx fragment answers 200 with it, since htmx swaps in only 2xx).
Members who are not coordinators get no card and 403 here; people outside the consortium 404.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, render

from consortium import access
from consortium.models import Consortium, Scenario

from .advisor import SOURCES, AdvisorError, advisor_get, advisor_scenarios


class AdvisorForm(forms.Form):
    scenario = forms.ModelChoiceField(
        queryset=Scenario.objects.none(),
        empty_label=None,
        error_messages={"invalid_choice": "Choose one of this consortium's active scenarios."},
    )

    def __init__(self, *args, consortium: Consortium, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["scenario"]
        # Every active scenario validates, so a custom game gets its own message; only cost-model ones are offered.
        field.queryset = consortium.scenarios.active()
        field.widget.choices = [(s.pk, s.name) for s in advisor_scenarios(consortium=consortium)]


def advisor_card_context(*, consortium: Consortium, chosen: str | None = None) -> dict:
    """The consortium page's card: the picker, and which scenario the panel opens with."""
    default = advisor_scenarios(consortium=consortium).first()
    initial = chosen or (str(default.pk) if default else None)
    return {
        "advisor_form": AdvisorForm(initial={"scenario": initial}, consortium=consortium),
        "advisor_initial": initial,
    }


def _coordinated_consortium(request, slug: str) -> Consortium:
    # 404 before 403: a consortium the user cannot see must look like one that does not exist.
    consortium = get_object_or_404(Consortium, slug=slug)
    if not access.can_view_consortium(request.user, consortium):
        raise Http404("No such consortium.")
    if not access.is_coordinator(request.user, consortium):
        raise PermissionDenied("Only the consortium's coordinators see the membership advisor.")
    return consortium


@login_required
def advisor_panel(request, slug: str):
    consortium = _coordinated_consortium(request, slug)
    default = advisor_scenarios(consortium=consortium).first()
    data = request.GET if "scenario" in request.GET else {"scenario": default.pk if default else ""}
    form = AdvisorForm(data, consortium=consortium)
    report = None
    if default is None and "scenario" not in request.GET:
        form = AdvisorForm(consortium=consortium)
    elif form.is_valid():
        try:
            report = advisor_get(scenario=form.cleaned_data["scenario"])
        except AdvisorError as error:
            form.add_error("scenario", str(error))
    joins = []
    if report is not None:
        joins = [(v, [SOURCES[s] for s in report.candidates[v.lab].sources]) for v in report.advice.joins]
    context = {"consortium": consortium, "form": form, "report": report, "joins": joins}
    if request.htmx:
        # htmx swaps in only 2xx answers: a refusal must still replace the panel's "working out" text.
        return render(request, "consortium/partials/advisor.html", context)
    return render(request, "consortium/advisor_page.html", context, status=400 if form.errors else 200)
