"""Coordinators run their consortium on the web: found one, edit its charter, add and remove coordinators."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from consortium import services
from consortium.models import Consortium
from tests import factories as f

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("plain_static")]


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# Founding -----------------------------------------------------------------------------------------


def test_a_signed_in_person_founds_a_consortium_and_coordinates_it(world, client):
    client.force_login(world.user_d)
    response = client.post(
        reverse("consortium:new"), {"name": "Open Kernels Pool", "slug": "", "charter": "Share kernels."}
    )
    consortium = Consortium.objects.get(name="Open Kernels Pool")
    assert response.status_code == 302
    assert response["Location"] == consortium.get_absolute_url()
    assert consortium.slug == "open-kernels-pool"
    assert consortium.charter == "Share kernels."
    assert list(consortium.coordinators.all()) == [world.user_d]
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "Open Kernels Pool is founded and you coordinate it" in " ".join(messages_of(page))
    assert reverse("consortium:coordinators", args=["open-kernels-pool"]) in page.content.decode()


def test_founding_with_a_taken_name_or_short_name_shows_the_error_and_saves_nothing(world, client):
    client.force_login(world.user_d)
    before = Consortium.objects.count()
    taken_name = client.post(reverse("consortium:new"), {"name": "Consortium C", "slug": "fresh"})
    assert taken_name.status_code == 400
    assert "A consortium with this name exists already" in taken_name.context["form"].errors["name"][0]
    taken_slug = client.post(reverse("consortium:new"), {"name": "Fresh", "slug": "c"})
    assert taken_slug.status_code == 400
    assert "This short name is taken" in taken_slug.context["form"].errors["slug"][0]
    derived = client.post(reverse("consortium:new"), {"name": "D"})
    assert derived.status_code == 400
    assert "“d”, made from the name, is taken" in derived.context["form"].errors["slug"][0]
    assert Consortium.objects.count() == before


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": "", "slug": "x"}, "name", "This field is required"),
        ({"name": "New pool", "slug": "new"}, "slug", "reserved for a page of the site"),
        ({"name": "Invitations", "slug": ""}, "slug", "reserved for a page of the site"),
        ({"name": "Bad slug", "slug": "has spaces"}, "slug", "valid “slug”"),
        ({"name": "???", "slug": ""}, "slug", "Enter a short name of letters, digits and hyphens"),
        ({"name": "x" * 121, "slug": "long"}, "name", "at most 120 characters"),
    ],
)
def test_founding_refuses_bad_input_beside_the_field(world, client, data, field, message):
    client.force_login(world.user_a)
    before = Consortium.objects.count()
    response = client.post(reverse("consortium:new"), data)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert Consortium.objects.count() == before


def test_the_api_refuses_a_reserved_short_name_too(world, client_as):
    response = client_as("user_a").post("/api/v1/consortia/", {"name": "New", "slug": "new"}, format="json")
    assert response.status_code == 400
    assert "reserved" in response.json()["error"]["fields"]["slug"][0]


# Charter ------------------------------------------------------------------------------------------


def test_a_coordinator_edits_the_name_and_charter_but_not_the_short_name(world, client):
    client.force_login(world.coordinator)
    url = reverse("consortium:charter_edit", args=["c"])
    assert "Consortium C" in client.get(url).content.decode()
    response = client.post(url, {"name": "Consortium C (2027)", "charter": "Pool and publish.", "slug": "hijack"})
    assert response.status_code == 302
    world.consortium.refresh_from_db()
    assert (world.consortium.name, world.consortium.charter, world.consortium.slug) == (
        "Consortium C (2027)",
        "Pool and publish.",
        "c",
    )
    assert "Pool and publish." in client.get(world.consortium.get_absolute_url()).content.decode()


def test_a_charter_edit_with_a_taken_name_is_refused(world, client):
    client.force_login(world.coordinator)
    response = client.post(reverse("consortium:charter_edit", args=["c"]), {"name": "Consortium D", "charter": ""})
    assert response.status_code == 400
    assert "exists already" in response.context["form"].errors["name"][0]
    # The page still names the consortium by its stored name.
    assert "<title>Charter · Consortium C" in response.content.decode()
    world.consortium.refresh_from_db()
    assert world.consortium.name == "Consortium C"


# Coordinators -------------------------------------------------------------------------------------


def test_a_coordinator_adds_another_by_username_and_by_email(world, client):
    client.force_login(world.coordinator)
    url = reverse("consortium:coordinators", args=["c"])
    response = client.post(url, {"user": "user_a"})
    assert response.status_code == 302
    assert "user_a now coordinates Consortium C." in messages_of(client.get(url))
    response = client.post(url, {"user": "  USER_B@example.org "})
    assert response.status_code == 302
    assert set(world.consortium.coordinators.values_list("username", flat=True)) == {"coordinator", "user_a", "user_b"}


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("nobody", "No account has the username or email “nobody”"),
        ("nobody@example.org", "No account has the username or email “nobody@example.org”"),
        ("coordinator", "coordinator already coordinates Consortium C."),
        ("", "This field is required."),
    ],
)
def test_adding_an_unknown_account_or_a_coordinator_twice_is_refused(world, client, given, message):
    client.force_login(world.coordinator)
    response = client.post(reverse("consortium:coordinators", args=["c"]), {"user": given})
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors["user"])
    assert list(world.consortium.coordinators.all()) == [world.coordinator]


def test_an_email_shared_by_two_accounts_asks_for_the_username(world, client):
    f.UserFactory(username="twin1", email="twin@example.org")
    f.UserFactory(username="twin2", email="twin@example.org")
    client.force_login(world.coordinator)
    response = client.post(reverse("consortium:coordinators", args=["c"]), {"user": "twin@example.org"})
    assert response.status_code == 400
    assert "enter the username instead" in response.context["form"].errors["user"][0]


def test_a_deactivated_account_cannot_be_added(world, client):
    f.UserFactory(username="gone", is_active=False)
    client.force_login(world.coordinator)
    response = client.post(reverse("consortium:coordinators", args=["c"]), {"user": "gone"})
    assert response.status_code == 400
    assert world.consortium.coordinators.count() == 1


def test_a_coordinator_removes_another_and_the_removed_one_loses_the_pages(world, client):
    world.consortium.coordinators.add(world.user_a)
    client.force_login(world.coordinator)
    response = client.post(reverse("consortium:coordinator_remove", args=["c", world.user_a.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("consortium:coordinators", args=["c"])
    assert list(world.consortium.coordinators.all()) == [world.coordinator]
    client.force_login(world.user_a)
    assert client.get(reverse("consortium:coordinators", args=["c"])).status_code == 403


def test_the_last_coordinator_cannot_be_removed(world, client):
    client.force_login(world.coordinator)
    page = client.get(reverse("consortium:coordinators", args=["c"])).content.decode()
    assert "The only coordinator" in page
    assert reverse("consortium:coordinator_remove", args=["c", world.coordinator.pk]) not in page
    response = client.post(reverse("consortium:coordinator_remove", args=["c", world.coordinator.pk]), follow=True)
    assert response.status_code == 200
    assert (
        "coordinator is the only coordinator of Consortium C; add another coordinator before removing this one."
        in messages_of(response)
    )
    assert list(world.consortium.coordinators.all()) == [world.coordinator]


def test_a_coordinator_steps_down_and_lands_where_they_still_may_look(world, client):
    world.consortium.coordinators.add(world.user_a)
    client.force_login(world.user_a)
    response = client.post(reverse("consortium:coordinator_remove", args=["c", world.user_a.pk]))
    # Lab A is in C, so user_a still reads the consortium.
    assert response["Location"] == world.consortium.get_absolute_url()
    world.consortium.coordinators.add(world.user_d)
    client.force_login(world.user_d)
    response = client.post(reverse("consortium:coordinator_remove", args=["c", world.user_d.pk]))
    assert response["Location"] == reverse("dashboard")
    assert list(world.consortium.coordinators.all()) == [world.coordinator]


def test_removing_someone_who_does_not_coordinate_says_so(world, client):
    client.force_login(world.coordinator)
    response = client.post(reverse("consortium:coordinator_remove", args=["c", world.user_b.pk]), follow=True)
    assert "user_b does not coordinate Consortium C." in messages_of(response)
    assert client.post(reverse("consortium:coordinator_remove", args=["c", 999999])).status_code == 404


def test_the_service_keeps_one_coordinator_whoever_removes_whom(world):
    world.consortium.coordinators.add(world.user_a)
    services.coordinator_remove(consortium=world.consortium, user=world.user_a, by=world.coordinator)
    with pytest.raises(ValidationError, match="only coordinator"):
        services.coordinator_remove(consortium=world.consortium, user=world.coordinator, by=world.coordinator)
    assert world.consortium.coordinators.count() == 1


def test_the_dashboard_links_to_founding_and_to_the_coordinated_consortiums_keys(world, client):
    client.force_login(world.coordinator)
    page = client.get(reverse("dashboard")).content.decode()
    assert reverse("consortium:new") in page
    assert reverse("consortium:api_keys", args=["c"]) in page
    client.force_login(world.user_a)
    page = client.get(reverse("dashboard")).content.decode()
    assert reverse("consortium:new") in page
    assert reverse("consortium:api_keys", args=["c"]) not in page


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_coordinators_removing_each_other_at_once_leave_one() -> None:
    """With the consortium's row locked, the second removal waits, then finds a single coordinator."""
    import threading

    from django.db import connection, connections

    from conftest import require_service

    if connection.vendor != "postgresql":
        require_service("postgresql", "row locks need PostgreSQL (set DATABASE_URL)")
    first, second = f.UserFactory(username="first"), f.UserFactory(username="second")
    consortium = f.ConsortiumFactory(name="Duel", slug="duel", coordinators=[first, second])
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def remove(user, by) -> None:
        try:
            barrier.wait()
            services.coordinator_remove(consortium=consortium, user=user, by=by)
            outcomes.append("removed")
        except ValidationError as exc:
            outcomes.append("refused: " + " ".join(exc.messages))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=remove, args=pair) for pair in ((first, second), (second, first))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    refused, removed = sorted(outcomes)
    assert removed == "removed"
    assert refused.startswith("refused: ") and "is the only coordinator of Duel" in refused
    assert consortium.coordinators.count() == 1
