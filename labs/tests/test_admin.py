"""Every lab and consortium model is in the admin, and each admin page renders."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin

from tests import factories as f

pytestmark = pytest.mark.usefixtures("plain_static")

MODELS = [model for label in ("labs", "consortium") for model in apps.get_app_config(label).get_models()]


def test_every_model_is_registered() -> None:
    assert [m._meta.label for m in MODELS if m not in admin.site._registry] == []


@pytest.fixture
def ledger(ledger):
    """The shared ledger plus one row of the models it does not fill: an application, a lab invitation."""
    from django.utils import timezone

    from consortium.models import Application
    from labs.models import LabInvitation

    Application.objects.create(consortium=ledger.consortium, lab=ledger.lab_d, note="We bring kernels.")
    LabInvitation.objects.create(
        lab=ledger.lab_a, email="colleague@lab.example", expires_at=timezone.now() + timezone.timedelta(days=7)
    )
    return ledger


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_changelist_and_first_object_render(model, ledger, client) -> None:
    """The list page and the first object's page answer 200 for a superuser (read-only for the ledger)."""
    client.force_login(f.UserFactory(username="root", is_staff=True, is_superuser=True))
    base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
    assert client.get(base).status_code == 200
    first = model.objects.first()
    assert first is not None
    assert client.get(f"{base}{first.pk}/change/").status_code == 200
