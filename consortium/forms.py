"""Coordinators change who is in a consortium; the history of spells is kept by consortium.services."""

from __future__ import annotations

import datetime

from django import forms

from labs.models import Lab

from . import access
from .models import Consortium, Membership

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
    """`lab` offers only access.invitable_labs: a hidden lab is refused as a lab that does not exist."""

    lab = IdChoiceField(
        queryset=Lab.objects.none(),
        label="Lab",
        help_text="Labs in this consortium (now or before), your own labs, and labs listed in the directory.",
    )
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

    def __init__(self, *args, consortium: Consortium, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["lab"].queryset = access.invitable_labs(consortium, user).order_by("name")
