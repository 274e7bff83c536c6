"""The scenario page's levers: start a lever study (coordinators) and follow it to its sentences.

The card is one partial (templates/simulations/partials/lever_study.html) that htmx swaps: the
form posts with htmx and gets the card back (errors beside the field, or the new study's progress
bar), and a running study's card asks for itself every second until it finishes. Without
JavaScript the form posts normally and the scenario page comes back with a message.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from consortium import access
from labs.forms import add_service_errors

from . import levers, services
from .models import LeverStudy
from .views import _coordinated_scenario


class LeverStudyForm(forms.Form):
    target = forms.FloatField(
        label="Probability of staying in the core",
        min_value=levers.MIN_TARGET,
        max_value=levers.MAX_TARGET,
        initial=levers.DEFAULT_TARGET,
        help_text="Share of the Monte Carlo draws, 0.5 to 0.99, in which the levers must keep the first rule stable.",
        widget=forms.NumberInput(attrs={"step": "0.01"}),
    )


def lever_card_context(*, study: LeverStudy | None, scenario, is_coordinator: bool, form=None) -> dict:
    """What the card needs, for the scenario page and for htmx alike."""
    return {
        "study": study,
        "scenario": scenario,
        "is_coordinator": is_coordinator,
        "lever_form": form or LeverStudyForm(initial={"target": study.target} if study else None),
        "can_start": is_coordinator and not scenario.is_archived and (study is None or study.is_finished),
    }


@login_required
@require_POST
def lever_study_start(request, pk: int):
    scenario = _coordinated_scenario(request, pk)
    form = LeverStudyForm(request.POST)
    study = None
    if form.is_valid():
        try:
            study = levers.lever_study_create(
                scenario=scenario, started_by=request.user, target=form.cleaned_data["target"]
            )
        except ValidationError as error:
            add_service_errors(form, error)
        except services.ActiveRunLimitError as error:
            form.add_error(None, str(error))
    if request.htmx:
        shown = study or levers.lever_study_latest(scenario=scenario)
        context = lever_card_context(study=shown, scenario=scenario, is_coordinator=True, form=None if study else form)
        return render(request, "simulations/partials/lever_study.html", context)
    if study:
        messages.success(request, "Searching for the levers; the results appear below in a few seconds.")
    else:
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    return redirect(f"{scenario.get_absolute_url()}#levers")


@login_required
def lever_study_progress(request, pk: int):
    """The levers card alone; htmx swaps it in every second until the study finishes."""
    study = get_object_or_404(LeverStudy.objects.select_related("scenario__consortium"), pk=pk)
    if not access.can_view_consortium(request.user, study.scenario.consortium):
        raise Http404("No such lever study.")
    context = lever_card_context(
        study=study,
        scenario=study.scenario,
        is_coordinator=access.is_coordinator(request.user, study.scenario.consortium),
    )
    return render(request, "simulations/partials/lever_study.html", context)
