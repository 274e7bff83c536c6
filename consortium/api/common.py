"""Pieces every ledger-resource viewset shares: model validation in serializers, the error schema,
and the permission classes that turn consortium.access rules into 403s.

Visibility is applied by each viewset's queryset, so an object a user cannot see answers 404;
the permission classes here only decide whether a visible object may be changed (403 if not).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import permissions, serializers
from rest_framework.pagination import PageNumberPagination

from consortium.access import can_edit_lab, is_coordinator

from .parsers import BoundedJSONParser

ErrorSerializer = inline_serializer(
    name="ApiError",
    fields={
        "error": inline_serializer(
            name="ApiErrorBody",
            fields={
                "status": serializers.IntegerField(),
                "code": serializers.CharField(),
                "message": serializers.CharField(help_text="A readable sentence naming the offending field."),
                "fields": serializers.DictField(
                    child=serializers.ListField(child=serializers.CharField()),
                    required=False,
                    help_text="Validation errors per field (400 only).",
                ),
            },
        )
    },
)

ERROR_DESCRIPTIONS = {
    400: "Invalid input; `error.fields` names each offending field.",
    401: "No or invalid credentials (session or `Authorization: Token <key>`).",
    403: "Authenticated, but not allowed to do this to a resource it can see.",
    404: "No such resource or page, or one the user may not see.",
    405: "The method is not allowed on this resource.",
    413: "The body is larger than the limit (REQUEST_BODY_MAX_BYTES).",
    415: "The body is not JSON.",
    429: "Too many requests of this kind for now, or (starting a run) too many runs of the consortium queued "
    "or running; `Retry-After` says how many seconds to wait when it is known.",
    503: "The database cannot be reached for now; retry after `Retry-After` seconds.",
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """Schema entries for the error responses `codes`, all in the shared error format."""
    return {code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code]) for code in codes}


def django_errors_to_drf(
    exc: DjangoValidationError, rename: dict[str, str] | None = None
) -> serializers.ValidationError:
    """The same errors keyed as the API names fields (`rename` maps a model's name to the request's)."""
    if not hasattr(exc, "error_dict"):
        return serializers.ValidationError({"non_field_errors": exc.messages})
    names = {NON_FIELD_ERRORS: "non_field_errors"} | (rename or {})
    return serializers.ValidationError({names.get(name, name): msgs for name, msgs in exc.message_dict.items()})


class ModelCleanSerializer(serializers.ModelSerializer):
    """Runs the model's own validation (field validators and clean()) on the would-be instance.

    DRF's ModelSerializer skips Model.clean(); without this, rules stated once on the model (an
    R&D share strictly between 0 and 1, no reuse of one's own artifact) would be bypassed by the API.
    """

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        for name, value in attrs.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise serializers.ValidationError({name: "Must be a finite number."})
        model = self.Meta.model
        # A copy, so a failed validation leaves the stored instance untouched.
        instance = copy.copy(self.instance) if self.instance is not None else model()
        many_to_many = {f.name for f in model._meta.many_to_many}
        for name, value in attrs.items():
            if name not in many_to_many:
                setattr(instance, name, value)
        writable = {name for name, field in self.fields.items() if not field.read_only}
        exclude = [f.name for f in model._meta.concrete_fields if f.name not in writable]
        try:
            instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
        except DjangoValidationError as exc:
            raise django_errors_to_drf(exc) from None
        return attrs


class IsLabUserOrReadOnly(permissions.BasePermission):
    """Changes to a lab's data are for that lab's users; `lab_of(obj)` names the owning lab."""

    message = "Only the lab's own users can change this."

    def has_object_permission(self, request, view, obj) -> bool:  # type: ignore[no-untyped-def]
        return request.method in permissions.SAFE_METHODS or can_edit_lab(request.user, view.lab_of(obj))


class IsCoordinatorOrReadOnly(permissions.BasePermission):
    """Changes to a consortium's data are for its coordinators; `consortium_of(obj)` names it."""

    message = "Only the consortium's coordinators can change this."

    def has_object_permission(self, request, view, obj) -> bool:  # type: ignore[no-untyped-def]
        return request.method in permissions.SAFE_METHODS or is_coordinator(request.user, view.consortium_of(obj))


class ListPagination(PageNumberPagination):
    """Pages of 50 by default; `page_size` from 1 to 500, and a 400 naming it when it is not."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request) -> int:  # type: ignore[no-untyped-def]
        # DRF silently falls back to the default on a bad page_size; a client should hear about its typo.
        given = request.query_params.get(self.page_size_query_param)
        if given is None:
            return self.page_size
        if not given.isdigit() or not 1 <= int(given) <= self.max_page_size:
            raise serializers.ValidationError({"page_size": [f"Enter a whole number from 1 to {self.max_page_size}."]})
        return int(given)

    def get_schema_operation_parameters(self, view):  # type: ignore[no-untyped-def]
        parameters = super().get_schema_operation_parameters(view)
        bounds = {self.page_query_param: {"minimum": 1}, self.page_size_query_param: {"minimum": 1, "maximum": 500}}
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters


class JsonOnlyMixin:
    """Ledger resources take JSON bodies only, as the schema says; a form post answers 415."""

    parser_classes = [BoundedJSONParser]


# Ids are 64-bit: a larger number cannot name a row (and SQLite cannot even compare it).
MAX_ID = 2**63 - 1


class IdFilter(django_filters.NumberFilter):
    """An object id: a whole number (`?lab=0.5` is a 400); an id beyond any row gives an empty list."""

    field_class = forms.IntegerField

    def filter(self, qs, value):  # type: ignore[no-untyped-def]
        if value is not None and not 0 <= value <= MAX_ID:
            return qs.none()
        return super().filter(qs, value)


class StrictFilterSet(django_filters.FilterSet):
    """A parameter given without a usable value (`?start=`, `?current=null`) is an error rather than
    silently ignored; text filters are exempt, an empty text matching everything."""

    def get_form_class(self):  # type: ignore[no-untyped-def]
        base = super().get_form_class()

        class StrictForm(base):  # type: ignore[misc, valid-type]
            def clean(self):  # type: ignore[no-untyped-def]
                cleaned = super().clean()
                for name, field in self.fields.items():
                    if isinstance(field, forms.CharField) or name not in self.data or name in self.errors:
                        continue
                    if isinstance(field, forms.NullBooleanField) and self.data.get(name) not in ("true", "false"):
                        # The stock widget also reads "2", "3" and "unknown"; the schema says true or false.
                        self.add_error(name, "Enter true or false.")
                    elif cleaned.get(name) in (None, ""):
                        self.add_error(name, "Give a value or leave the parameter out.")
                return cleaned

        return StrictForm
