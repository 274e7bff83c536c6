"""Log-in throttling with django-axes: who is counted, and what a locked-out visitor sees.

Axes counts failed log-ins in the database (settings.AXES_*). This module gives it the client
address the API's throttle already uses, and answers a refused attempt with the log-in page
itself (status 429) saying when to try again, for the site's and the admin's log-in alike.
"""

from __future__ import annotations

import datetime

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from rest_framework.throttling import BaseThrottle


class LoginThrottleBackend(AxesStandaloneBackend):
    """Axes' check before the model backend, for log-ins that come with a request.

    Every HTTP log-in passes its request to authenticate() (Django's LoginView and the admin's
    do). A call without one is no attempt over the network (the test client's login(), a shell)
    and is left to the next backend, where plain AxesBackend would raise instead.
    """

    def authenticate(self, request: HttpRequest | None, username=None, password=None, **kwargs):  # type: ignore[no-untyped-def]
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def client_address(request: HttpRequest) -> str:
    """The address the API's rate limits count by: REMOTE_ADDR, or the nearest of NUM_PROXIES proxies' view."""
    return BaseThrottle().get_ident(request)


def retry_after(request: HttpRequest) -> datetime.datetime | None:
    """When a refused visitor may try again, or None when only staff can unlock the account."""
    cool_off = get_cool_off(request)
    return timezone.now() + cool_off if cool_off else None


def lockout_response(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:  # type: ignore[no-untyped-def]
    """The log-in form again, empty, with the lockout explained; 429 with Retry-After when it ends by itself."""
    until = retry_after(request)
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    form = AuthenticationForm(request, initial={"username": username})
    response = render(
        request,
        "registration/login.html",
        {
            "form": form,
            "locked_out": True,
            "retry_at": until,
            "cool_off_minutes": settings.LOGIN_COOLOFF_MINUTES,
            "next": request.POST.get("next", request.GET.get("next", "")),
        },
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )
    if until is not None:
        response["Retry-After"] = str(settings.LOGIN_COOLOFF_MINUTES * 60)
    return response
