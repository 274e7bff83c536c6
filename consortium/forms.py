"""Coordinators change who is in a consortium; the history of spells is kept by consortium.services."""

from __future__ import annotations

import datetime

from django import forms

from labs.models import Lab

from .models import Membership

LEAVE = "left"
# Larger ids overflow the database's integer column, which Django's choice fields would let through.
MAX_ID = 2**63 - 1


def _checked_ids(values):
    for value in values:
        text = str(value).strip()
        if text and not (text.isdigit() and int(text) <= MAX_ID):
            raise forms.ValidationError(
                "Select a valid choice. %(value)s is not one of the available choices.",
                code="invalid_choice",
                params={"value": value},
            )


class IdChoiceField(forms.ModelChoiceField):
    """A ModelChoiceField that refuses ids the database column cannot hold, instead of failing on them."""

    def to_python(self, value):
        if value not in self.empty_values:
            _checked_ids([value])
        return super().to_python(value)


class IdMultipleChoiceField(forms.ModelMultipleChoiceField):
    def _check_values(self, value):
        _checked_ids(value)
        return super()._check_values(value)


class MembershipForm(forms.Form):
    lab = IdChoiceField(queryset=Lab.objects.order_by("name"), label="Lab")
    status = forms.ChoiceField(
        label="New status",
        choices=[*Membership.Status.choices, (LEAVE, "Leaves the consortium")],
        help_text="A change closes the lab's current spell and opens a new one; the history stays.",
    )
    on_date = forms.DateField(
        label="From",
        initial=datetime.date.today,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


class ApplicationForm(forms.Form):
    """A lab of the user's asks to join a listed consortium."""

    lab = IdChoiceField(queryset=Lab.objects.none(), label="Lab", empty_label=None)
    note = forms.CharField(
        label="Note to the coordinators",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Why your lab wants to join and what it brings (compute, artifacts, research areas). "
        "Up to 2,000 characters.",
    )

    def __init__(self, *args, labs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lab"].queryset = labs


class ApplicationAcceptForm(forms.Form):
    status = forms.ChoiceField(
        choices=[(s.value, s.label) for s in (Membership.Status.CANDIDATE, Membership.Status.MEMBER)],
        initial=Membership.Status.CANDIDATE,
    )
