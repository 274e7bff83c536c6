"""Simultaneous writes end in one winner and a 400-style ValidationError, never an IntegrityError (500)."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from conftest import require_service
from consortium import services
from consortium.models import Membership, Scenario
from labs import services as lab_services
from labs.models import Lab
from tests import factories as f


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_joins_give_one_spell_and_one_validation_error() -> None:
    if connection.vendor != "postgresql":
        require_service("postgresql", "row locks need PostgreSQL (set DATABASE_URL)")
    user = f.UserFactory(username="joiner")
    lab = f.LabFactory(name="Racing Lab", slug="racing")
    f.LabMemberFactory(lab=lab, user=user)
    consortium = f.ConsortiumFactory(name="Race", slug="race", coordinators=[user])
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def join() -> None:
        try:
            barrier.wait()
            services.membership_change(
                consortium=consortium, lab=lab, status="member", on_date=datetime.date.today(), by=user
            )
            outcomes.append("joined")
        except ValidationError as exc:
            # With the lab's row locked the second join waits and then sees the first one's spell.
            outcomes.append("refused: " + " ".join(exc.messages))
        except Exception as exc:  # the bug: IntegrityError
            outcomes.append(type(exc).__name__)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=join) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["joined", "refused: Racing Lab is already a member."]
    assert Membership.objects.filter(consortium=consortium, lab=lab, left_on__isnull=True).count() == 1


def test_a_spell_insert_refused_by_the_constraint_is_a_validation_error(world, monkeypatch) -> None:
    """What the losing request of a race meets: its checks passed, the unique constraint did not."""
    monkeypatch.setattr(services, "_current_spell", lambda **kwargs: None)
    with pytest.raises(ValidationError) as raised:
        services.membership_change(
            consortium=world.consortium,
            lab=world.lab_a,
            status="member",
            on_date=datetime.date.today(),
            by=world.user_a,
        )
    assert "lab" in raised.value.message_dict
    assert world.consortium.memberships.filter(lab=world.lab_a).count() == 1


def test_a_scenario_name_taken_at_the_same_moment_is_a_validation_error(world, monkeypatch) -> None:
    monkeypatch.setattr(services, "_check_unique_name", lambda **kwargs: None)
    with pytest.raises(ValidationError) as raised:
        services.scenario_create(
            consortium=world.consortium, created_by=world.coordinator, name="All in", labs=[world.lab_a, world.lab_b]
        )
    assert "name" in raised.value.message_dict
    assert Scenario.objects.filter(name="All in").count() == 1


@pytest.mark.parametrize(
    ("fields", "field"), [({"name": "Lab A", "slug": "other"}, "name"), ({"slug": "lab-a"}, "slug")]
)
def test_a_lab_name_or_slug_taken_at_the_same_moment_is_a_validation_error(world, monkeypatch, fields, field) -> None:
    # full_clean's uniqueness check passed in the other request's absence: skip it to stand for that.
    monkeypatch.setattr(Lab, "validate_unique", lambda self, exclude=None: None)
    monkeypatch.setattr(Lab, "validate_constraints", lambda self, exclude=None: None)
    data = {"name": "Fresh Lab", "slug": "fresh", "kind": "academic", "final_run_gpu_hours": 1000, "rd_share": 0.8}
    with pytest.raises(ValidationError) as raised:
        lab_services.lab_create(created_by=world.user_d, **(data | fields))
    assert field in raised.value.message_dict
    assert Lab.objects.count() == 3
