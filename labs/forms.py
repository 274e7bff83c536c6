"""Forms of the lab pages. Model validation runs in each ModelForm's clean; writes go through labs.services."""

from __future__ import annotations

import datetime

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from consortium.forms import IdChoiceField
from consortium.models import Consortium, Membership
from simulations.engine.params import AREA_LABELS, AREAS

from .models import Artifact, ArtifactReuse, ComputeContribution, Lab, LabMember
from .services import AMENDABLE_FIELDS

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Put a service's ValidationError beside the fields it names; the rest at the top of the form."""
    if hasattr(error, "error_dict"):
        for name, messages in error.message_dict.items():
            form.add_error(name if name in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)


class LabProfileForm(forms.ModelForm):
    """A lab's profile; the research-area weights are six inputs that must sum to 1."""

    website = forms.URLField(label="Website", required=False, assume_scheme="https")

    class Meta:
        model = Lab
        fields = [
            "name",
            "kind",
            "country",
            "website",
            "description",
            "gpu_type",
            "throughput_factor",
            "price_per_gpu_hour",
            "final_run_gpu_hours",
            "rd_share",
            "openness",
            "listed_in_directory",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        help_texts = {
            "price_per_gpu_hour": "Before the all-in uplift of 1.3. H100 $2.40, H800 $2.00, A100 $1.20, H200 $3.50.",
            "final_run_gpu_hours": "GPU-hours of the lab's GPU type in this year's final training run "
            "(DeepSeek-V3: 2,788,000 H800 hours); the model converts them to H100-equivalents.",
            "openness": "Share of its shareable research the lab publishes into the commons, 0 to 1.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        weights = self.instance.area_weights or {}
        for area in AREAS:
            self.fields[f"weight_{area}"] = forms.FloatField(
                label=AREA_LABELS[area],
                min_value=0,
                max_value=1,
                initial=round(float(weights.get(area, 0)), 4),
                widget=forms.NumberInput(attrs={"step": "any"}),
            )
        self.fields["rd_share"].widget.attrs.update({"step": "0.01", "min": "0.01", "max": "0.99"})
        self.fields["openness"].widget.attrs.update({"step": "0.05", "min": "0", "max": "1"})
        self.fields["throughput_factor"].widget.attrs.update({"step": "any", "min": "0.01", "max": "100"})

    @property
    def weight_fields(self):
        return [self[f"weight_{area}"] for area in AREAS]

    def clean(self):
        cleaned = super().clean()
        weights = {area: cleaned.get(f"weight_{area}") for area in AREAS}
        if all(value is not None for value in weights.values()):
            total = sum(weights.values())
            if abs(total - 1) > 1e-3:
                self.add_error(
                    f"weight_{AREAS[0]}", f"The research-area weights must sum to 1; they sum to {total:.3f}."
                )
            else:
                # Small rounding in typed shares is absorbed into the last area so the model check passes.
                weights[AREAS[-1]] = weights[AREAS[-1]] + (1 - total)
                self.instance.area_weights = weights
        return cleaned


def _current_quarter(today: datetime.date) -> tuple[datetime.date, datetime.date]:
    first_month = 3 * ((today.month - 1) // 3) + 1
    start = today.replace(month=first_month, day=1)
    next_start = (
        start.replace(year=start.year + 1, month=1) if first_month == 10 else start.replace(month=first_month + 3)
    )
    return start, next_start - datetime.timedelta(days=1)


class ContributionForm(forms.ModelForm):
    """Log compute delivered to a consortium the lab currently belongs to."""

    evidence_url = forms.URLField(
        label="Evidence link",
        required=False,
        assume_scheme="https",
        help_text="An invoice, a cluster report or a dashboard that shows the delivery.",
    )

    class Meta:
        model = ComputeContribution
        fields = ["consortium", *AMENDABLE_FIELDS]
        field_classes = {"consortium": IdChoiceField}
        widgets = {
            "period_start": DATE,
            "period_end": DATE,
            "evidence_note": forms.Textarea(attrs={"rows": 2}),
        }
        labels = {"gpu_type": "GPU type", "over_pledge_confirmed": "Confirm a delivery above the pledge"}
        help_texts = {
            "price_per_gpu_hour": "The agreed in-kind price, US$ per GPU-hour.",
            "gpu_hours_pledged": "GPU-hours of the chosen GPU type promised for the period.",
            "gpu_hours_delivered": "GPU-hours of the chosen GPU type actually delivered so far.",
        }

    def __init__(self, *args, lab: Lab, **kwargs):
        super().__init__(*args, **kwargs)
        self.lab = lab
        self.instance.lab = lab
        current = Membership.objects.current().filter(
            lab=lab, status__in=[Membership.Status.MEMBER, Membership.Status.CANDIDATE]
        )
        if "consortium" in self.fields:
            self.fields["consortium"].queryset = Consortium.objects.filter(pk__in=current.values("consortium_id"))
            self.fields["consortium"].empty_label = None
        ratio = settings.LEDGER_DELIVERED_OVER_PLEDGED_RATIO.normalize()
        self.fields[
            "over_pledge_confirmed"
        ].help_text = f"Needed only when more than {ratio:f} times the pledge is delivered; recorded with the entry."
        for name in ("gpu_hours_pledged", "gpu_hours_delivered", "price_per_gpu_hour", "cash"):
            self.fields[name].min_value = 0
            self.fields[name].widget.attrs.update({"min": "0", "step": "any"})
        if not self.is_bound:
            start, end = _current_quarter(datetime.date.today())
            self.initial.setdefault("period_start", start)
            self.initial.setdefault("period_end", end)
            self.initial.setdefault("price_per_gpu_hour", lab.price_per_gpu_hour)
            self.initial.setdefault("gpu_type", lab.gpu_type)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("period_start"), cleaned.get("period_end")
        if start and end and end < start:
            self.add_error("period_end", "The period must end on or after its start date.")
        pledged, delivered = cleaned.get("gpu_hours_pledged"), cleaned.get("gpu_hours_delivered")
        for name, value in (("gpu_hours_pledged", pledged), ("gpu_hours_delivered", delivered)):
            if value is not None and value < 0:
                self.add_error(name, "GPU-hours cannot be negative; correct an entry to reduce a total.")
        price = cleaned.get("price_per_gpu_hour")
        if price is not None and price <= 0:
            self.add_error("price_per_gpu_hour", "The price per GPU-hour must be above $0.")
        return cleaned

    def service_values(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class CorrectionForm(ContributionForm):
    """Amend an entry (a reversal plus a replacement) or, with "reverse only", cancel it."""

    reason = forms.CharField(
        label="Reason for the correction",
        max_length=300,
        help_text="Kept in the ledger's history next to the reversal.",
    )
    reverse_only = forms.BooleanField(
        label="Reverse only (the entry was wrong altogether; no replacement)", required=False
    )

    class Meta(ContributionForm.Meta):
        fields = [name for name in ContributionForm.Meta.fields if name != "consortium"]

    def __init__(self, *args, original: ComputeContribution, **kwargs):
        initial = {name: getattr(original, name) for name in CorrectionForm.Meta.fields}
        super().__init__(*args, lab=original.lab, initial=initial, **kwargs)
        self.original = original
        self.instance.consortium = original.consortium
        if self.is_bound and self.data.get(self.add_prefix("reverse_only")):
            for name in CorrectionForm.Meta.fields:
                self.fields[name].required = False

    def _post_clean(self):
        if self.cleaned_data.get("reverse_only"):
            return
        super()._post_clean()

    def clean(self):
        if self.cleaned_data.get("reverse_only"):
            return self.cleaned_data
        cleaned = super().clean()
        if not self.errors and all(
            cleaned.get(name) == getattr(self.original, name) for name in CorrectionForm.Meta.fields
        ):
            raise ValidationError(
                "Nothing changed. Change at least one value, or tick “Reverse only” to cancel the entry."
            )
        return cleaned

    def new_values(self) -> dict:
        if self.cleaned_data.get("reverse_only"):
            return {}
        return {name: self.cleaned_data[name] for name in CorrectionForm.Meta.fields}


class ArtifactForm(forms.ModelForm):
    url = forms.URLField(label="Link", required=False, assume_scheme="https")

    class Meta:
        model = Artifact
        fields = [
            "title",
            "kind",
            "research_area",
            "url",
            "licence",
            "openness",
            "reproduction_gpu_hours",
            "release_date",
        ]
        widgets = {"release_date": DATE}
        help_texts = {
            "reproduction_gpu_hours": "An estimate of the GPU-hours another lab would spend to rebuild it.",
            "openness": "An internal fork of an open tool counts against the lab's openness.",
        }

    def __init__(self, *args, lab: Lab, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.lab = lab
        self.fields["reproduction_gpu_hours"].widget.attrs.update({"min": "0", "step": "any"})
        self.fields["release_date"].widget.attrs.update({"min": "2000-01-01", "max": timezone.localdate().isoformat()})


class ReuseForm(forms.ModelForm):
    """This lab reused another lab's artifact and saved some GPU-hours."""

    class Meta:
        model = ArtifactReuse
        fields = ["artifact", "reused_on", "gpu_hours_saved", "saving_exceeds_reason", "note"]
        field_classes = {"artifact": IdChoiceField}
        widgets = {"reused_on": DATE, "note": forms.Textarea(attrs={"rows": 2})}
        labels = {"saving_exceeds_reason": "Reason the saving exceeds the reproduction cost"}
        help_texts = {
            "gpu_hours_saved": "About how many GPU-hours reusing it saved this lab; at most what the artifact "
            "would take to reproduce, unless you give a reason below.",
            "saving_exceeds_reason": "Only when the saving is larger than the artifact's stated reproduction cost.",
        }

    def __init__(self, *args, lab: Lab, artifacts, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.reusing_lab = lab
        self.fields["artifact"].queryset = artifacts.exclude(lab=lab).select_related("lab")
        self.fields["artifact"].label_from_instance = lambda artifact: f"{artifact.title} ({artifact.lab.name})"
        self.fields["gpu_hours_saved"].widget.attrs.update({"min": "0", "step": "any"})


class LabCreateForm(LabProfileForm):
    """Register a lab: its profile plus the slug of its address (/labs/<slug>/), from the name when empty."""

    slug = forms.SlugField(
        label="Address",
        max_length=60,
        required=False,
        help_text="The lab's page is /labs/<address>/: lowercase letters, digits and hyphens. Empty: from the name.",
    )

    class Meta(LabProfileForm.Meta):
        fields = ["name", "slug", *LabProfileForm.Meta.fields[1:]]

    def clean_slug(self) -> str:
        from django.utils.text import slugify

        slug = self.cleaned_data.get("slug") or slugify(self.data.get(self.add_prefix("name"), ""))[:60]
        if not slug:
            raise ValidationError("Give the lab an address (letters or digits), or a name to make one from.")
        return slug

    def service_values(self) -> dict:
        values = {name: self.cleaned_data[name] for name in self.Meta.fields}
        return values | {"area_weights": self.instance.area_weights}


class LabInvitationForm(forms.Form):
    email = forms.EmailField(label="Colleague's email", max_length=254)
    role = forms.ChoiceField(label="Role", choices=LabMember.Role.choices, initial=LabMember.Role.MEMBER)


class LabRoleForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=LabMember.Role.choices)
