"""A lab enters a consortium only with its users' consent: coordinators invite, the lab answers."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError

from consortium import access, services
from consortium.models import Membership
from tests import factories as f

pytestmark = pytest.mark.usefixtures("plain_static")


def _found_and_add_victim(client, victim, status: str = "observer") -> dict:
    """A fresh consortium adds `victim`, a lab listed in the directory (the only strangers it may pick)."""
    victim.listed_in_directory = True
    victim.save()
    founded = client.post("/api/v1/consortia/", {"name": "Trojan", "slug": "trojan"}, format="json")
    assert founded.status_code == 201
    added = client.post(
        "/api/v1/memberships/",
        {"consortium": founded.json()["id"], "lab": victim.pk, "status": status},
        format="json",
    )
    assert added.status_code == 201, added.content
    return added.json()


@pytest.mark.parametrize("status", ["observer", "member", "candidate"])
def test_founding_a_consortium_and_adding_a_lab_shows_nothing_of_that_lab(ledger, client_as, status) -> None:
    """The reviewer's attack: D's user founds a consortium and adds lab A; lab A stays hidden."""
    client = client_as("other_coordinator")
    spell = _found_and_add_victim(client, ledger.lab_a, status)
    assert spell["status"] == "invited"
    assert spell["is_current"] is False
    assert client.get(f"/api/v1/labs/{ledger.lab_a.pk}/").status_code == 404
    assert client.get(f"/api/v1/artifacts/{ledger.artifact_a.pk}/").status_code == 404
    assert client.get(f"/api/v1/contributions/{ledger.entry_a.pk}/").status_code == 404
    assert client.get(f"/api/v1/reuses/{ledger.reuse_b.pk}/").status_code == 404
    listed = client.get("/api/v1/labs/", {"page_size": 500}).json()["results"]
    assert ledger.lab_a.pk not in [lab["id"] for lab in listed]


def test_invited_lab_sees_the_invitation_but_not_the_consortiums_data(ledger, client_as) -> None:
    _found_and_add_victim(client_as("other_coordinator"), ledger.lab_a)
    client = client_as("user_a")
    spells = client.get("/api/v1/memberships/", {"status": "invited"}).json()["results"]
    assert [(s["consortium_name"], s["lab_name"]) for s in spells] == [("Trojan", "Lab A")]
    # The consortium itself, and its other labs, stay hidden until the lab accepts.
    assert client.get(f"/api/v1/consortia/{spells[0]['consortium']}/").status_code == 404
    assert client.get(f"/api/v1/labs/{ledger.lab_d.pk}/").status_code == 404


def test_accepting_opens_a_candidate_spell_the_same_day_and_keeps_the_history(ledger, client_as) -> None:
    spell = _found_and_add_victim(client_as("other_coordinator"), ledger.lab_a)
    accepted = client_as("user_a").post(f"/api/v1/memberships/{spell['id']}/accept/", format="json")
    assert accepted.status_code == 201
    today = datetime.date.today()
    history = Membership.objects.filter(consortium_id=spell["consortium"], lab=ledger.lab_a).order_by("id")
    assert [(s.status, s.joined_on, s.left_on) for s in history] == [
        ("invited", today, today),
        ("candidate", today, None),
    ]
    # Now in the consortium, lab A is visible to its coordinator.
    assert client_as("other_coordinator").get(f"/api/v1/labs/{ledger.lab_a.pk}/").status_code == 200


def test_declining_closes_the_invitation_and_the_lab_stays_hidden(ledger, client_as) -> None:
    spell = _found_and_add_victim(client_as("other_coordinator"), ledger.lab_a)
    declined = client_as("token").post(f"/api/v1/memberships/{spell['id']}/decline/", format="json")
    assert declined.status_code == 200
    assert declined.json()["left_on"] == datetime.date.today().isoformat()
    assert client_as("other_coordinator").get(f"/api/v1/labs/{ledger.lab_a.pk}/").status_code == 404
    again = client_as("user_a").post(f"/api/v1/memberships/{spell['id']}/accept/", format="json")
    assert again.status_code == 400


def test_a_lab_user_who_coordinates_adds_the_lab_directly(world) -> None:
    """Consent is given by the person asking when they are a user of the lab."""
    world.consortium.coordinators.add(world.user_d)
    spell = services.membership_change(
        consortium=world.consortium, lab=world.lab_d, status="member", on_date=datetime.date.today(), by=world.user_d
    )
    assert spell.status == "member"
    assert access.can_view_lab(world.coordinator, world.lab_d)


def test_an_invited_lab_takes_no_part_in_scenarios_or_the_ledger(world) -> None:
    invitation = services.membership_change(
        consortium=world.consortium,
        lab=world.lab_d,
        status="candidate",
        on_date=datetime.date.today(),
        by=world.coordinator,
    )
    assert invitation.status == "invited"
    with pytest.raises(ValidationError) as raised:
        services.scenario_update(scenario=world.scenario, labs=[world.lab_a, world.lab_d])
    # Not named: the coordinator cannot see lab D.
    assert f"lab {world.lab_d.pk}" in str(raised.value) and "Lab D" not in str(raised.value)
    from labs.services import contribution_check_participant

    with pytest.raises(ValidationError):
        contribution_check_participant(lab=world.lab_d, consortium=world.consortium)
    # A coordinator cannot turn the invitation into a membership on the lab's behalf.
    with pytest.raises(ValidationError, match="already invited"):
        services.membership_change(
            consortium=world.consortium,
            lab=world.lab_d,
            status="member",
            on_date=datetime.date.today(),
            by=world.coordinator,
        )


def test_a_lab_already_in_cannot_be_invited(world) -> None:
    with pytest.raises(ValidationError, match="cannot be invited"):
        services.membership_change(
            consortium=world.consortium,
            lab=world.lab_a,
            status="invited",
            on_date=datetime.date.today(),
            by=world.coordinator,
        )


def test_scenario_error_names_observers_but_not_invisible_labs(world, client_as) -> None:
    observer = f.LabFactory(name="Watcher Lab", slug="watcher")
    f.MembershipFactory(consortium=world.consortium, lab=observer, status="observer")
    response = client_as("coordinator").patch(
        f"/api/v1/scenarios/{world.scenario.pk}/",
        {"labs": [world.lab_a.pk, observer.pk, world.lab_d.pk]},
        format="json",
    )
    assert response.status_code == 400
    message = str(response.json())
    assert "Watcher Lab" in message
    assert f"lab {world.lab_d.pk}" in message
    assert "Lab D" not in message
