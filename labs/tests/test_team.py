"""The lab's people under concurrency: two admins stepping down at once leave one admin, never none."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from conftest import require_service
from labs import team
from labs.models import LabMember
from tests import factories as f


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_admins_demoting_each_other_at_once_leave_one_admin() -> None:
    if connection.vendor != "postgresql":
        require_service("postgresql", "row locks need PostgreSQL (SQLite serialises writers)")
    lab = f.LabFactory(name="Twin Lab", slug="twin")
    first = f.LabMemberFactory(lab=lab, user=f.UserFactory(username="first"), role="admin")
    second = f.LabMemberFactory(lab=lab, user=f.UserFactory(username="second"), role="admin")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def demote(member: LabMember, by: LabMember) -> None:
        try:
            barrier.wait()
            team.lab_member_role_change(member=member, role="member", by=by.user)
            outcomes.append("demoted")
        except ValidationError as exc:
            outcomes.append("refused: " + " ".join(exc.messages))
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=demote, args=(first, second)),
        threading.Thread(target=demote, args=(second, first)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    demoted, refused = sorted(outcomes)
    assert demoted == "demoted"
    assert refused.startswith("refused: ") and "is the last admin of Twin Lab" in refused
    assert LabMember.objects.filter(lab=lab, role="admin").count() == 1


def test_the_last_admin_is_kept_by_the_service(world) -> None:
    admin = LabMember.objects.get(lab=world.lab_a, user=world.user_a)
    with pytest.raises(ValidationError, match="last admin"):
        team.lab_member_remove(member=admin, by=world.user_a)
    with pytest.raises(ValidationError, match="last admin"):
        team.lab_member_role_change(member=admin, role="member", by=world.user_a)
    assert LabMember.objects.filter(lab=world.lab_a, role="admin").count() == 1
