"""Applications and lab invitations over the API: the flows, and bad input answered 400 with the field named."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from consortium.models import Application, Membership
from labs.models import LabInvitation, LabMember
from labs.team import invitation_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def listed(world):
    world.other_consortium.listed = True
    world.other_consortium.save(update_fields=["listed"])
    return world.other_consortium


def _error(response, field):
    body = response.json()["error"]
    assert body["status"] == 400
    return " ".join(body["fields"][field])


def test_a_lab_applies_over_the_api_and_the_coordinator_accepts(world, client_as, listed):
    lab_b = client_as("user_b")
    created = lab_b.post(
        "/api/v1/applications/",
        {"consortium": listed.pk, "lab": world.lab_b.pk, "note": "We bring an RL recipe."},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["status"], body["lab_name"], body["applied_by"], body["membership"]) == (
        "pending",
        "Lab B",
        "user_b",
        None,
    )
    accepted = client_as("other_coordinator").post(
        f"/api/v1/applications/{body['id']}/accept/", {"status": "member"}, format="json"
    )
    assert accepted.status_code == 200
    assert accepted.json()["status"] == "accepted"
    spell = Membership.objects.get(pk=accepted.json()["membership"])
    assert (spell.consortium, spell.lab, spell.status, spell.left_on) == (listed, world.lab_b, "member", None)
    assert lab_b.get(f"/api/v1/applications/{body['id']}/").json()["decided_by"] == "other_coordinator"


def test_applying_twice_over_the_api_is_refused(world, client_as, listed):
    client = client_as("user_b")
    payload = {"consortium": listed.pk, "lab": world.lab_b.pk, "note": "Please."}
    assert client.post("/api/v1/applications/", payload, format="json").status_code == 201
    again = client.post("/api/v1/applications/", payload, format="json")
    assert "already applied" in _error(again, "consortium")
    assert Application.objects.count() == 1


def test_an_unlisted_consortium_cannot_be_applied_to_over_the_api(world, client_as):
    response = client_as("user_d").post(
        "/api/v1/applications/", {"consortium": world.consortium.pk, "lab": world.lab_d.pk, "note": "x"}, format="json"
    )
    assert "does not exist" in _error(response, "consortium")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"note": ""}, "note"),
        ({"note": "x" * 2001}, "note"),
        ({"lab": "abc"}, "lab"),
        ({"consortium": None}, "consortium"),
    ],
)
def test_bad_application_input_names_the_field(world, client_as, listed, payload, field):
    body = {"consortium": listed.pk, "lab": world.lab_b.pk, "note": "Please."} | payload
    response = client_as("user_b").post("/api/v1/applications/", body, format="json")
    assert _error(response, field)
    assert not Application.objects.exists()


def test_an_answered_application_cannot_be_answered_again(world, client_as, listed):
    application = Application.objects.create(consortium=world.consortium, lab=world.lab_d, note="x")
    coordinator = client_as("coordinator")
    assert coordinator.post(f"/api/v1/applications/{application.pk}/decline/").status_code == 200
    again = coordinator.post(f"/api/v1/applications/{application.pk}/accept/", {}, format="json")
    assert "already declined" in _error(again, "non_field_errors")


def test_accepting_with_an_unknown_status_is_refused(world, client_as):
    application = Application.objects.create(consortium=world.consortium, lab=world.lab_d, note="x")
    response = client_as("coordinator").post(
        f"/api/v1/applications/{application.pk}/accept/", {"status": "invited"}, format="json"
    )
    assert _error(response, "status")
    application.refresh_from_db()
    assert application.status == "pending"


def test_an_admin_invites_over_the_api_and_gets_the_link_once(world, client_as):
    response = client_as("user_a").post(
        "/api/v1/lab-invitations/", {"lab": world.lab_a.pk, "email": "new@lab.example", "role": "admin"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    invitation = LabInvitation.objects.get(pk=body["id"])
    assert body["accept_url"].endswith(f"/labs/invitations/{invitation_token(invitation)}/")
    assert body["state"] == "pending"
    assert body["email_sent"] is True
    assert len(mail.outbox) == 1 and body["accept_url"] in mail.outbox[0].body
    listed = client_as("token").get(f"/api/v1/lab-invitations/{invitation.pk}/").json()
    assert "accept_url" not in listed


def _invitation(world, **fields):
    defaults = {
        "lab": world.lab_b,
        "email": world.user_a.email,
        "expires_at": timezone.now() + datetime.timedelta(days=1),
    }
    return LabInvitation.objects.create(**(defaults | fields))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"expires_at": timezone.now() - datetime.timedelta(seconds=1)}, "expired"),
        ({"accepted_at": timezone.now()}, "already been used"),
        ({"revoked_at": timezone.now()}, "withdrawn"),
        ({"email": "someone.else@lab.example"}, "This invitation is for someone.else@lab.example"),
    ],
)
def test_an_invitation_that_cannot_be_used_is_refused_with_the_reason(world, client_as, fields, message):
    invitation = _invitation(world, **fields)
    response = client_as("user_a").post(
        "/api/v1/lab-invitations/accept/", {"token": invitation_token(invitation)}, format="json"
    )
    assert message in _error(response, "token")
    assert not LabMember.objects.filter(lab=world.lab_b, user=world.user_a).exists()


def test_a_forged_token_is_refused(world, client_as):
    response = client_as("user_a").post("/api/v1/lab-invitations/accept/", {"token": "1:forged"}, format="json")
    assert "not valid" in _error(response, "token")


def test_accepting_over_the_api_joins_the_lab_once(world, client_as):
    invitation = _invitation(world)
    client = client_as("user_a")
    joined = client.post("/api/v1/lab-invitations/accept/", {"token": invitation_token(invitation)}, format="json")
    assert joined.status_code == 201
    assert joined.json() == {"lab": world.lab_b.pk, "lab_name": "Lab B", "role": "member"}
    again = client.post("/api/v1/lab-invitations/accept/", {"token": invitation_token(invitation)}, format="json")
    assert "already been used" in _error(again, "token")


def test_withdrawing_twice_is_refused(world, client_as):
    invitation = _invitation(world, lab=world.lab_a, email="x@lab.example")
    client = client_as("user_a")
    assert client.post(f"/api/v1/lab-invitations/{invitation.pk}/revoke/").json()["state"] == "revoked"
    again = client.post(f"/api/v1/lab-invitations/{invitation.pk}/revoke/")
    assert "revoked, not open" in _error(again, "non_field_errors")


def test_a_coordinator_adding_a_lab_that_applied_answers_its_application(world, client_as):
    """The application is the lab's consent: the lab gets the status asked for, not an invitation."""
    application = Application.objects.create(consortium=world.consortium, lab=world.lab_d, note="x")
    response = client_as("coordinator").post(
        "/api/v1/memberships/",
        {"consortium": world.consortium.pk, "lab": world.lab_d.pk, "status": "member"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["status"] == "member"
    application.refresh_from_db()
    assert (application.status, application.membership_id, application.decided_by) == (
        "accepted",
        response.json()["id"],
        world.coordinator,
    )


def test_without_an_application_a_coordinator_still_only_invites(world, client_as):
    world.lab_d.listed_in_directory = True
    world.lab_d.save(update_fields=["listed_in_directory"])
    response = client_as("coordinator").post(
        "/api/v1/memberships/",
        {"consortium": world.consortium.pk, "lab": world.lab_d.pk, "status": "member"},
        format="json",
    )
    assert response.json()["status"] == "invited"


def test_a_consortium_founded_listed_over_the_api_takes_applications(world, client_as):
    founded = client_as("user_d").post(
        "/api/v1/consortia/", {"name": "Consortium E", "slug": "e", "listed": True}, format="json"
    )
    assert founded.status_code == 201
    assert founded.json()["listed"] is True
    applied = client_as("user_b").post(
        "/api/v1/applications/",
        {"consortium": founded.json()["id"], "lab": world.lab_b.pk, "note": "Hi."},
        format="json",
    )
    assert applied.status_code == 201
    unlisted = client_as("user_d").patch(f"/api/v1/consortia/{founded.json()['id']}/", {"listed": False}, format="json")
    assert unlisted.json()["listed"] is False


def test_the_directory_endpoint_lists_listed_consortia_to_everyone_signed_in(world, client_as, listed):
    """A lab outside every consortium finds the id to apply to; unlisted ones stay out of it."""
    response = client_as("user_b").get("/api/v1/consortia/directory/")
    assert response.status_code == 200
    assert [row["slug"] for row in response.json()["results"]] == ["d"]
    assert set(response.json()["results"][0]) == {"id", "name", "slug", "charter"}


def test_an_invitation_the_mail_server_refused_still_returns_its_link(world, client_as):
    import smtplib
    from unittest import mock

    with mock.patch("labs.team.send_mail", side_effect=smtplib.SMTPServerDisconnected("down")):
        response = client_as("user_a").post(
            "/api/v1/lab-invitations/", {"lab": world.lab_a.pk, "email": "new@lab.example"}, format="json"
        )
    assert response.status_code == 201
    assert response.json()["email_sent"] is False
    assert "/labs/invitations/" in response.json()["accept_url"]
