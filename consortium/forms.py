"""Coordinators change who is in a consortium; the history of spells is kept by consortium.services."""

from __future__ import annotations

import datetime

from django import forms
from django.utils.text import slugify

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


class ConsortiumForm(forms.ModelForm):
    """Found a consortium: its name, the short name in its web address, and its charter."""

    class Meta:
        model = Consortium
        fields = ["name", "slug", "charter"]
        labels = {"slug": "Short name", "charter": "Charter"}
        help_texts = {
            "name": "Shown on every page of the consortium, e.g. “Open Frontier Consortium”.",
            "slug": "Its web address, /consortia/<short name>/: lowercase letters, digits and hyphens. "
            "Left empty, it is made from the name; it cannot be changed later.",
            "charter": "What the consortium pools and shares, and on what terms. Labs read it before they join.",
        }
        widgets = {"charter": forms.Textarea(attrs={"rows": 6})}
        error_messages = {
            "name": {"unique": "A consortium with this name exists already; choose another name."},
            "slug": {"unique": "This short name is taken; choose another one."},
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False

    def clean_slug(self) -> str:
        slug = self.cleaned_data.get("slug") or slugify(self.data.get("name", ""))[:60].strip("-")
        if not slug:
            raise forms.ValidationError("Enter a short name of letters, digits and hyphens.")
        if slug != self.cleaned_data.get("slug") and Consortium.objects.filter(slug=slug).exists():
            raise forms.ValidationError(f"“{slug}”, made from the name, is taken; enter another short name.")
        return slug


class CharterForm(forms.ModelForm):
    """A consortium's coordinators change its name and charter (the short name stays: links use it)."""

    class Meta:
        model = Consortium
        fields = ["name", "charter"]
        help_texts = ConsortiumForm.Meta.help_texts
        widgets = ConsortiumForm.Meta.widgets
        error_messages = ConsortiumForm.Meta.error_messages


class CoordinatorAddForm(forms.Form):
    user = forms.CharField(
        label="Username or email",
        max_length=254,
        help_text="Of an existing account; they coordinate the consortium with you from now on.",
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
