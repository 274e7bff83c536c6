"""Query-string filters of the ledger resources (django-filter).

Related objects are filtered by plain id (IdFilter), not by choice among all rows, so an id the
user may not see gives an empty list rather than revealing whether it exists.
"""

from __future__ import annotations

import django_filters
from django.db.models import Q

from consortium.api.common import IdFilter, StrictFilterSet

from ..models import Artifact, ArtifactReuse, ComputeContribution, Lab


class LabFilter(StrictFilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Lab
        fields = ("name", "kind", "country", "gpu_type")


class ContributionFilter(StrictFilterSet):
    lab = IdFilter()
    consortium = IdFilter()
    start = django_filters.DateFilter(field_name="period_start", lookup_expr="gte", label="Period starts on or after")
    end = django_filters.DateFilter(field_name="period_start", lookup_expr="lte", label="Period starts on or before")
    current = django_filters.BooleanFilter(
        method="filter_current",
        label="true: only entries that stand (neither corrected nor a reversal); false: only those that do not",
    )

    class Meta:
        model = ComputeContribution
        fields = ("lab", "consortium", "entry_type", "gpu_type", "start", "end", "current")

    def filter_current(self, queryset, name, value):  # type: ignore[no-untyped-def]
        superseded = Q(reversed_by__isnull=False) | Q(entry_type=ComputeContribution.EntryType.REVERSAL)
        return queryset.exclude(superseded) if value else queryset.filter(superseded)


class ArtifactFilter(StrictFilterSet):
    lab = IdFilter()
    title = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Artifact
        fields = ("lab", "kind", "openness", "research_area", "title")


class ReuseFilter(StrictFilterSet):
    artifact = IdFilter()
    reusing_lab = IdFilter()
    artifact_lab = IdFilter(field_name="artifact__lab", label="Lab that published the artifact")

    class Meta:
        model = ArtifactReuse
        fields = ("artifact", "reusing_lab", "artifact_lab")
