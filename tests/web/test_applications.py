"""A lab applies to join a listed consortium with a note; the coordinators accept or decline; the lab sees the state."""

import pytest
from django.urls import reverse

from consortium.models import Application, Membership
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def listed(world):
    """Consortium D listed in the directory; lab B (not in D) applies to it."""
    world.other_consortium.listed = True
    world.other_consortium.save(update_fields=["listed"])
    return world.other_consortium


def apply(client, consortium, lab, note="We bring an RL recipe and 50,000 GPU-hours a quarter."):
    return client.post(reverse("consortium:apply", args=[consortium.slug]), {"lab": lab.pk, "note": note})


def test_the_directory_lists_only_listed_consortia(world, client, listed):
    client.force_login(f.UserFactory())
    page = client.get(reverse("consortium:directory"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Consortium D" in body
    assert "Consortium C" not in body
    assert reverse("labs:new") in body


def test_a_lab_user_applies_and_sees_the_pending_state(world, client, listed):
    client.force_login(world.user_b)
    assert client.get(reverse("consortium:apply", args=["d"])).status_code == 200
    response = apply(client, listed, world.lab_b)
    assert response["Location"] == world.lab_b.get_absolute_url()
    application = Application.objects.get()
    assert (application.lab, application.consortium, application.status) == (world.lab_b, listed, "pending")
    assert application.applied_by == world.user_b
    assert "Awaiting the coordinators" in client.get(world.lab_b.get_absolute_url()).content.decode()
    assert "Awaiting the coordinators" in client.get(reverse("dashboard")).content.decode()
    # Applying gives the consortium no membership yet.
    assert not Membership.objects.filter(consortium=listed, lab=world.lab_b).exists()


def test_applying_twice_is_refused_with_a_message(world, client, listed):
    client.force_login(world.user_b)
    apply(client, listed, world.lab_b)
    again = apply(client, listed, world.lab_b)
    assert again.status_code == 400
    assert "Lab B already applied to Consortium D" in again.content.decode()
    assert Application.objects.count() == 1


def test_a_lab_already_in_the_consortium_cannot_apply(world, client):
    world.consortium.listed = True
    world.consortium.save(update_fields=["listed"])
    client.force_login(world.user_b)
    response = apply(client, world.consortium, world.lab_b)
    assert response.status_code == 400
    assert "Lab B is already a member of Consortium C." in response.content.decode()


def test_an_invited_lab_is_told_to_accept_the_invitation(world, client, listed):
    Membership.objects.create(consortium=listed, lab=world.lab_b, status="invited", joined_on="2026-01-01")
    client.force_login(world.user_b)
    response = apply(client, listed, world.lab_b)
    assert response.status_code == 400
    assert "accept the invitation" in response.content.decode()


@pytest.mark.parametrize(("note", "message"), [("", "This field is required."), ("x" * 2001, "at most 2000")])
def test_an_application_needs_a_note_of_reasonable_length(world, client, listed, note, message):
    client.force_login(world.user_b)
    response = apply(client, listed, world.lab_b, note=note)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Application.objects.exists()


def test_a_user_cannot_apply_for_a_lab_that_is_not_theirs(world, client, listed):
    client.force_login(world.user_b)
    response = apply(client, listed, world.lab_a)
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Application.objects.exists()


def test_an_unlisted_consortium_takes_no_applications(world, client):
    client.force_login(world.user_d)
    assert client.get(reverse("consortium:apply", args=["c"])).status_code == 404
    assert apply(client, world.consortium, world.lab_d).status_code == 404
    assert not Application.objects.exists()


def test_a_person_without_a_lab_is_asked_to_register_one(client, listed):
    client.force_login(f.UserFactory())
    page = client.get(reverse("consortium:apply", args=["d"])).content.decode()
    assert "You have no lab yet" in page
    assert reverse("labs:new") in page


def test_coordinators_see_pending_applications_and_accept_one(world, client, listed):
    application = Application.objects.create(consortium=listed, lab=world.lab_b, note="Please let us in.")
    client.force_login(world.other_coordinator)
    page = client.get(listed.get_absolute_url()).content.decode()
    assert "Please let us in." in page
    assert reverse("consortium:application_accept", args=[application.pk]) in page
    response = client.post(reverse("consortium:application_accept", args=[application.pk]), {"status": "candidate"})
    assert response["Location"] == listed.get_absolute_url()
    application.refresh_from_db()
    assert application.status == "accepted"
    assert application.decided_by == world.other_coordinator
    spell = Membership.objects.current().get(consortium=listed, lab=world.lab_b)
    assert spell.status == "candidate"
    assert application.membership == spell
    # The lab's users now see the consortium, and the accepted state.
    client.force_login(world.user_b)
    assert client.get(listed.get_absolute_url()).status_code == 200
    assert "Accepted" in client.get(world.lab_b.get_absolute_url()).content.decode()


def test_accepting_as_a_member(world, client, listed):
    application = Application.objects.create(consortium=listed, lab=world.lab_b, note="Please.")
    client.force_login(world.other_coordinator)
    client.post(reverse("consortium:application_accept", args=[application.pk]), {"status": "member"})
    assert Membership.objects.current().get(consortium=listed, lab=world.lab_b).status == "member"


def test_a_declined_application_shows_as_declined_and_the_lab_may_apply_again(world, client, listed):
    application = Application.objects.create(consortium=listed, lab=world.lab_b, note="Please.")
    client.force_login(world.other_coordinator)
    client.post(reverse("consortium:application_decline", args=[application.pk]))
    application.refresh_from_db()
    assert application.status == "declined"
    assert not Membership.objects.filter(consortium=listed, lab=world.lab_b).exists()
    client.force_login(world.user_b)
    assert "Declined" in client.get(world.lab_b.get_absolute_url()).content.decode()
    assert apply(client, listed, world.lab_b).status_code == 302


def test_an_application_is_answered_once(world, client, listed):
    application = Application.objects.create(consortium=listed, lab=world.lab_b, note="Please.")
    client.force_login(world.other_coordinator)
    client.post(reverse("consortium:application_decline", args=[application.pk]))
    again = client.post(reverse("consortium:application_accept", args=[application.pk]), follow=True)
    assert "This application was already declined." in again.content.decode()
    assert not Membership.objects.filter(consortium=listed, lab=world.lab_b).exists()
