"""consortium.services: membership history and scenarios."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError

from consortium import services
from consortium.models import Consortium, Membership, Scenario, default_parameters
from tests import factories as f

D = datetime.date


def spells(world, lab):  # type: ignore[no-untyped-def]
    return [
        (m.status, m.joined_on, m.left_on)
        for m in Membership.objects.filter(consortium=world.consortium, lab=lab).order_by("joined_on")
    ]


def test_status_change_closes_the_spell_and_opens_a_new_one(world) -> None:
    new = services.membership_change(
        consortium=world.consortium, lab=world.lab_b, status="observer", on_date=D(2026, 4, 1), by=world.coordinator
    )
    assert new.left_on is None
    assert spells(world, world.lab_b) == [("member", D(2026, 1, 1), D(2026, 4, 1)), ("observer", D(2026, 4, 1), None)]


def test_a_new_lab_joins_with_a_first_spell_when_its_own_user_adds_it(world) -> None:
    services.membership_change(
        consortium=world.consortium, lab=world.lab_d, status="candidate", on_date=D(2026, 5, 1), by=world.user_d
    )
    assert spells(world, world.lab_d) == [("candidate", D(2026, 5, 1), None)]


def test_a_coordinator_who_is_not_a_user_of_the_lab_only_invites_it(world) -> None:
    services.membership_change(
        consortium=world.consortium, lab=world.lab_d, status="candidate", on_date=D(2026, 5, 1), by=world.coordinator
    )
    assert spells(world, world.lab_d) == [("invited", D(2026, 5, 1), None)]


@pytest.mark.parametrize(
    ("status", "on_date", "field"),
    [
        ("member", D(2026, 4, 1), "status"),
        ("observer", D(2025, 12, 31), "on_date"),
        ("president", D(2026, 4, 1), "status"),
    ],
)
def test_status_change_refuses_no_change_an_early_date_and_unknown_status(world, status, on_date, field) -> None:
    with pytest.raises(ValidationError) as caught:
        services.membership_change(
            consortium=world.consortium, lab=world.lab_a, status=status, on_date=on_date, by=world.coordinator
        )
    assert field in caught.value.message_dict
    assert spells(world, world.lab_a) == [("member", D(2026, 1, 1), None)]


def test_end_closes_the_spell_and_rejoining_cannot_predate_it(world) -> None:
    services.membership_end(consortium=world.consortium, lab=world.lab_a, on_date=D(2026, 6, 1), by=world.coordinator)
    with pytest.raises(ValidationError) as caught:
        services.membership_end(
            consortium=world.consortium, lab=world.lab_a, on_date=D(2026, 7, 1), by=world.coordinator
        )
    assert "lab" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        services.membership_change(
            consortium=world.consortium, lab=world.lab_a, status="member", on_date=D(2026, 5, 1), by=world.coordinator
        )
    assert "on_date" in caught.value.message_dict
    assert spells(world, world.lab_a) == [("member", D(2026, 1, 1), D(2026, 6, 1))]


def test_consortium_create_makes_the_founder_coordinator(world) -> None:
    consortium = services.consortium_create(created_by=world.user_a, name="E", slug="e")
    assert list(consortium.coordinators.all()) == [world.user_a]
    with pytest.raises(ValidationError) as caught:
        services.consortium_create(created_by=world.user_a, name="F", slug="f", currency="XYZ")
    assert "currency" in caught.value.message_dict
    assert not Consortium.objects.filter(slug="f").exists()


def create(world, **changes):  # type: ignore[no-untyped-def]
    values = {
        "consortium": world.consortium,
        "created_by": world.coordinator,
        "name": "Pair",
        "labs": [world.lab_a, world.lab_b],
        "parameters": {"growth": 2.5},
        "rules": ["shapley"],
        "draws": 100,
        "seed": 3,
    } | changes
    return services.scenario_create(**values)


def test_scenario_create_stores_all_parameters(world) -> None:
    scenario = create(world, description="Two labs")
    assert scenario.parameters == default_parameters() | {"growth": 2.5}
    assert set(scenario.labs.all()) == {world.lab_a, world.lab_b}
    assert (scenario.created_by, scenario.description) == (world.coordinator, "Two labs")


def test_candidates_may_be_in_a_scenario_but_observers_may_not(world) -> None:
    services.membership_change(
        consortium=world.consortium, lab=world.lab_b, status="candidate", on_date=D(2026, 2, 1), by=world.coordinator
    )
    assert create(world, name="With candidate").labs.count() == 2
    services.membership_change(
        consortium=world.consortium, lab=world.lab_b, status="observer", on_date=D(2026, 3, 1), by=world.coordinator
    )
    with pytest.raises(ValidationError) as caught:
        create(world, name="With observer")
    assert "Lab B" in caught.value.message_dict["labs"][0]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"labs": []}, "labs"),
        ({"parameters": {"depreciation": 1.5}}, "parameters"),
        ({"parameters": {"shareable_fraction": [0.5, 0.5]}}, "parameters"),
        ({"rules": ["shapley", "shapley"]}, "rules"),
        ({"draws": 0}, "draws"),
        ({"name": "All in"}, "name"),
        ({"name": ""}, "name"),
    ],
)
def test_scenario_create_refuses_bad_input_naming_the_field(world, changes, field) -> None:
    with pytest.raises(ValidationError) as caught:
        create(world, **changes)
    assert field in caught.value.message_dict
    assert Scenario.objects.count() == 1


def test_scenario_update_changes_only_given_fields_and_keeps_labs_on_failure(world) -> None:
    scenario = world.scenario
    services.scenario_update(scenario=scenario, rules=["banzhaf"], parameters={"absorption": 0.2})
    scenario.refresh_from_db()
    assert scenario.rules == ["banzhaf"]
    assert scenario.parameters["absorption"] == 0.2
    other = f.LabFactory()
    with pytest.raises(ValidationError):
        services.scenario_update(scenario=scenario, labs=[world.lab_a, other])
    assert set(scenario.labs.all()) == {world.lab_a, world.lab_b}
    with pytest.raises(ValidationError) as caught:
        services.scenario_update(scenario=scenario, consortium=world.other_consortium)
    assert "consortium" in caught.value.message_dict


@pytest.mark.parametrize("change", ["status", "end"])
def test_a_future_date_is_refused_and_the_lab_stays_in(world, change) -> None:
    tomorrow = datetime.date.today() + datetime.timedelta(days=1)
    with pytest.raises(ValidationError) as raised:
        if change == "status":
            services.membership_change(
                consortium=world.consortium, lab=world.lab_a, status="observer", on_date=tomorrow, by=world.coordinator
            )
        else:
            services.membership_end(
                consortium=world.consortium, lab=world.lab_a, on_date=tomorrow, by=world.coordinator
            )
    assert "on_date" in raised.value.message_dict
    assert world.consortium.memberships.current().get(lab=world.lab_a).status == "member"


def test_the_api_answers_400_naming_the_date_for_a_future_leaving_date(ledger, client_as) -> None:
    ledger.lab_d.listed_in_directory = True
    ledger.lab_d.save()
    tomorrow = (datetime.date.today() + datetime.timedelta(days=1)).isoformat()
    client = client_as("coordinator")
    ended = client.post(f"/api/v1/memberships/{ledger.spell_a.pk}/end/", {"on_date": tomorrow}, format="json")
    assert ended.status_code == 400
    assert "on_date" in ended.json()["error"]["fields"]
    joined = client.post(
        "/api/v1/memberships/",
        {"consortium": ledger.consortium.pk, "lab": ledger.lab_d.pk, "status": "member", "joined_on": tomorrow},
        format="json",
    )
    assert joined.status_code == 400
    assert "joined_on" in joined.json()["error"]["fields"]
    assert client_as("user_b").get(f"/api/v1/labs/{ledger.lab_a.pk}/").status_code == 200
