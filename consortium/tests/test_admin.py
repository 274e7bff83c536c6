"""Membership spells are history in the admin too: read-only, added through the service."""

from __future__ import annotations

import pytest

from consortium.models import Membership
from tests import factories as f

pytestmark = pytest.mark.usefixtures("plain_static")


@pytest.fixture
def root_client(client):
    client.force_login(f.UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def test_admin_cannot_edit_or_delete_a_spell(world, root_client) -> None:
    spell = world.consortium.memberships.get(lab=world.lab_a)
    base = f"/admin/consortium/membership/{spell.pk}/"
    response = root_client.post(
        f"{base}change/",
        {"consortium": world.consortium.pk, "lab": world.lab_a.pk, "status": "observer", "joined_on": "2020-01-01"},
    )
    assert response.status_code == 403
    assert root_client.post(f"{base}delete/", {"post": "yes"}).status_code == 403
    spell.refresh_from_db()
    assert (spell.status, spell.left_on) == ("member", None)


def test_consortium_page_shows_spells_without_editable_inline_rows(world, root_client) -> None:
    page = root_client.get(f"/admin/consortium/consortium/{world.consortium.pk}/change/").content.decode()
    assert "Lab A" in page
    assert 'name="memberships-0-status"' not in page
    assert 'name="memberships-0-DELETE"' not in page


def test_admin_adds_a_spell_through_the_service_closing_the_current_one(world, root_client) -> None:
    response = root_client.post(
        "/admin/consortium/membership/add/",
        {"consortium": world.consortium.pk, "lab": world.lab_a.pk, "status": "candidate", "joined_on": "2026-06-01"},
    )
    assert response.status_code == 302, response.content[:2000]
    spells = list(world.consortium.memberships.filter(lab=world.lab_a).order_by("joined_on"))
    assert [(s.status, str(s.left_on)) for s in spells][-2:] == [("member", "2026-06-01"), ("candidate", "None")]


def test_admin_add_shows_the_services_error_instead_of_saving(world, root_client) -> None:
    before = Membership.objects.count()
    response = root_client.post(
        "/admin/consortium/membership/add/",
        {"consortium": world.consortium.pk, "lab": world.lab_a.pk, "status": "member", "joined_on": "2026-06-01"},
    )
    assert response.status_code == 200
    assert "already a member" in response.content.decode()
    assert Membership.objects.count() == before


def test_admin_adding_a_lab_not_yet_in_only_invites_it(world, root_client) -> None:
    """Staff are not the lab's users: the lab still has to accept."""
    response = root_client.post(
        "/admin/consortium/membership/add/",
        {"consortium": world.consortium.pk, "lab": world.lab_d.pk, "status": "member", "joined_on": "2026-06-01"},
    )
    assert response.status_code == 302
    assert world.consortium.memberships.get(lab=world.lab_d).status == "invited"
    # An invitation already waits: a second one is a form error, not a 500.
    again = root_client.post(
        "/admin/consortium/membership/add/",
        {"consortium": world.consortium.pk, "lab": world.lab_d.pk, "status": "member", "joined_on": "2026-06-01"},
    )
    assert again.status_code == 200
    assert "already invited" in again.content.decode()
