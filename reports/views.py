"""The API keys page of a consortium: its coordinators create keys, see when each was last used, and revoke them.

A new key's full token is in the response to the POST that created it and nowhere else: the page
is rendered from that POST (no redirect, which would have to keep the token somewhere to show it
after) and marked `no-store`, and the database keeps only the secret's hash and the public prefix.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from consortium.coordinator_views import coordinated_consortium
from labs.forms import add_service_errors

from .models import ApiKey
from .services import api_key_create, api_key_revoke


class ApiKeyForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["name"]
        labels = {"name": "Name"}
        help_texts = {"name": "Who or what uses the key, e.g. “finance dashboard”."}


def _page(request, consortium, form, *, created=None, token=None, status=200):
    keys = ApiKey.objects.filter(consortium=consortium).select_related("created_by", "revoked_by")
    return render(
        request,
        "reports/api_keys.html",
        {"consortium": consortium, "form": form, "keys": keys, "created": created, "token": token},
        status=status,
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def api_keys(request, slug: str):
    consortium = coordinated_consortium(request, slug)
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                api_key, token = api_key_create(
                    consortium=consortium, created_by=request.user, name=form.cleaned_data["name"]
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                return _page(request, consortium, ApiKeyForm(), created=api_key, token=token, status=201)
        return _page(request, consortium, form, status=400)
    return _page(request, consortium, form)


@login_required
@require_POST
def api_key_revoke_view(request, slug: str, pk: int):
    consortium = coordinated_consortium(request, slug)
    api_key = get_object_or_404(ApiKey, consortium=consortium, pk=pk)
    was_active = api_key.revoked_at is None
    api_key_revoke(api_key=api_key, by=request.user)
    if was_active:
        messages.success(request, f"Key “{api_key.name}” ({api_key.prefix}…) is revoked: requests with it now fail.")
    else:
        messages.info(request, f"Key “{api_key.name}” was already revoked.")
    return redirect("consortium:api_keys", consortium.slug)
