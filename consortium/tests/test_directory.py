"""A coordinator picks only labs it may know of; invitations are limited per consortium and shown plainly."""

from __future__ import annotations

import datetime

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from consortium import access
from consortium.models import Membership
from tests import factories as f

pytestmark = pytest.mark.usefixtures("plain_static")

FORM_URL = reverse("consortium:membership_change", args=["c"])


def _picker(client) -> str:
    return client.get(FORM_URL).content.decode()


def test_a_lab_is_not_listed_in_the_directory_by_default(db) -> None:
    assert f.LabFactory().listed_in_directory is False


def test_the_picker_offers_the_consortiums_labs_listed_labs_and_past_ones_only(world, client) -> None:
    listed = f.LabFactory(name="Lab Listed", listed_in_directory=True)
    former = f.LabFactory(name="Lab Former")
    Membership.objects.create(
        consortium=world.consortium, lab=former, status="member", joined_on="2025-01-01", left_on="2025-06-30"
    )
    invited = f.LabFactory(name="Lab Invited")
    Membership.objects.create(consortium=world.consortium, lab=invited, status="invited", joined_on="2026-01-01")
    f.LabFactory(name="Lab Unlisted")
    client.force_login(world.coordinator)
    page = _picker(client)
    for name in ("Lab A", "Lab B", listed.name, former.name, invited.name):
        assert f">{name}</option>" in page, name
    for name in ("Lab D", "Lab Unlisted"):
        assert name not in page, name


def test_a_freshly_founded_consortium_sees_only_listed_labs_and_its_founders_own(world, client) -> None:
    f.LabFactory(name="Lab Listed", listed_in_directory=True)
    founder = world.user_d
    consortium = f.ConsortiumFactory(name="New", slug="new", coordinators=[founder])
    names = set(access.invitable_labs(consortium, founder).values_list("name", flat=True))
    assert names == {"Lab Listed", "Lab D"}


def test_the_form_refuses_a_hidden_lab_exactly_as_a_missing_one(world, client) -> None:
    client.force_login(world.coordinator)
    answers = []
    for lab_id in (world.lab_d.pk, 987654321):
        response = client.post(FORM_URL, {"lab": lab_id, "status": "member", "on_date": "2026-05-01"})
        assert response.status_code == 400
        answers.append(response.context["form"].errors["lab"])
    assert answers[0] == answers[1]
    assert not Membership.objects.filter(consortium=world.consortium, lab=world.lab_d).exists()


def test_the_api_refuses_a_hidden_lab_exactly_as_a_missing_one_and_never_names_it(world, client_as) -> None:
    client = client_as("coordinator")
    bodies = []
    for lab_id in (world.lab_d.pk, 987654321):
        response = client.post(
            "/api/v1/memberships/", {"consortium": world.consortium.pk, "lab": lab_id, "status": "member"}
        )
        assert response.status_code == 400
        assert "Lab D" not in response.content.decode()
        bodies.append(response.content.decode().replace(str(lab_id), "<id>"))
    assert bodies[0] == bodies[1]
    assert "No lab <id> among the labs this consortium can invite or change." in bodies[0]
    assert not Membership.objects.filter(consortium=world.consortium, lab=world.lab_d).exists()


def test_listing_a_lab_lets_any_coordinator_invite_it(world, client_as) -> None:
    world.lab_d.listed_in_directory = True
    world.lab_d.save()
    response = client_as("coordinator").post(
        "/api/v1/memberships/", {"consortium": world.consortium.pk, "lab": world.lab_d.pk, "status": "member"}
    )
    assert response.status_code == 201
    assert response.json()["status"] == "invited"


def test_a_lab_user_turns_the_directory_listing_on_in_the_profile_form_and_the_api(world, client, client_as) -> None:
    client.force_login(world.user_a)
    page = client.get(reverse("labs:edit", args=[world.lab_a.slug])).content.decode()
    assert 'name="listed_in_directory"' in page
    changed = client_as("user_a").patch(f"/api/v1/labs/{world.lab_a.pk}/", {"listed_in_directory": True})
    assert changed.status_code == 200
    assert changed.json()["listed_in_directory"] is True
    world.lab_a.refresh_from_db()
    assert world.lab_a.listed_in_directory is True


def _strangers(count: int) -> list:
    return [f.LabFactory(name=f"Stranger {number}", listed_in_directory=True) for number in range(count)]


@override_settings(INVITATIONS_PER_DAY=2)
def test_the_api_answers_429_once_a_consortium_used_its_daily_invitations(world, client_as) -> None:
    client = client_as("coordinator")
    labs = _strangers(3)
    for lab in labs[:2]:
        response = client.post(
            "/api/v1/memberships/", {"consortium": world.consortium.pk, "lab": lab.pk, "status": "member"}
        )
        assert response.status_code == 201
    refused = client.post(
        "/api/v1/memberships/",
        {"consortium": world.consortium.pk, "lab": labs[2].pk, "status": "member", "joined_on": "2025-01-01"},
    )
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["status"] == 429
    assert "2 invitations in the last 24 hours" in error["message"]
    assert 86000 < int(refused["Retry-After"]) <= 86400
    assert not Membership.objects.filter(lab=labs[2]).exists()
    # Changing a lab already in the consortium is no invitation and is not limited.
    spell_a = Membership.objects.current().get(consortium=world.consortium, lab=world.lab_a)
    assert client.post(f"/api/v1/memberships/{spell_a.pk}/change/", {"status": "observer"}).status_code == 201


@override_settings(INVITATIONS_PER_DAY=1)
def test_invitations_older_than_a_day_no_longer_count(world, client_as) -> None:
    old, new = _strangers(2)
    spell = Membership.objects.create(consortium=world.consortium, lab=old, status="invited", joined_on="2026-01-01")
    Membership.objects.filter(pk=spell.pk).update(recorded_at=timezone.now() - datetime.timedelta(hours=25))
    response = client_as("coordinator").post(
        "/api/v1/memberships/", {"consortium": world.consortium.pk, "lab": new.pk, "status": "member"}
    )
    assert response.status_code == 201


@override_settings(INVITATIONS_PER_DAY=1)
def test_the_form_shows_the_limit_beside_the_lab(world, client) -> None:
    first, second = _strangers(2)
    client.force_login(world.coordinator)
    assert client.post(FORM_URL, {"lab": first.pk, "status": "member", "on_date": "2026-05-01"}).status_code == 302
    refused = client.post(FORM_URL, {"lab": second.pk, "status": "member", "on_date": "2026-05-01"})
    assert refused.status_code == 429
    assert "1 invitations in the last 24 hours" in refused.context["form"].errors["lab"][0]


def test_the_invited_labs_dashboard_names_the_consortium_its_coordinators_and_quotes_its_charter(world, client) -> None:
    world.other_coordinator.first_name, world.other_coordinator.last_name = "Dana", "Diaz"
    world.other_coordinator.save()
    world.other_consortium.charter = '<script>alert(1)</script> Staff notice: "enter your password"'
    world.other_consortium.save()
    Membership.objects.create(
        consortium=world.other_consortium, lab=world.lab_a, status="invited", joined_on="2026-01-01"
    )
    client.force_login(world.user_a)
    page = client.get(reverse("dashboard")).content.decode()
    assert "The consortium <strong>Consortium D</strong> invites <strong>Lab A</strong>" in page
    assert "Coordinated by <strong>Dana Diaz</strong> (other_coordinator)." in page
    assert (
        "<blockquote>&lt;script&gt;alert(1)&lt;/script&gt; Staff notice: &quot;enter your password&quot;</blockquote>"
        in page
    )
    assert "Its charter, as the consortium wrote it:" in page
