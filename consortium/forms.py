"""Coordinators change who is in a consortium; the history of spells is kept by consortium.services."""

from __future__ import annotations

import datetime

from django import forms

from labs.models import Lab

from .models import Membership

LEAVE = "left"


class MembershipForm(forms.Form):
    lab = forms.ModelChoiceField(queryset=Lab.objects.order_by("name"), label="Lab")
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
