"""Behaviour of the ledger resources beyond permissions: who sees which rows, what a create does,
filtering, ordering and pagination."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from consortium.models import Membership, Scenario, default_parameters
from labs.models import LabMember
from tests import factories as f


def _names(response, key: str = "name") -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.content
    return [row[key] for row in response.json()["results"]]


@pytest.mark.parametrize(
    ("role", "labs"),
    [
        ("user_a", ["Lab A", "Lab B"]),
        ("user_b", ["Lab A", "Lab B"]),
        ("coordinator", ["Lab A", "Lab B"]),
        ("other_coordinator", ["Lab D"]),
        ("token", ["Lab A", "Lab B"]),
        ("staff", ["Lab A", "Lab B", "Lab D"]),
    ],
)
def test_lab_list_shows_own_labs_and_labs_of_ones_consortia(ledger, client_as, role, labs) -> None:
    """Each role lists exactly the labs it may read."""
    assert _names(client_as(role).get("/api/v1/labs/")) == labs


@pytest.mark.parametrize(
    ("role", "titles"),
    [
        ("user_a", ["Lab A eval harness", "Lab A web corpus", "Lab B RL recipe"]),
        ("other_coordinator", ["Lab D kernels"]),
        ("staff", ["Lab A eval harness", "Lab A web corpus", "Lab B RL recipe", "Lab D kernels"]),
    ],
)
def test_artifact_list_follows_lab_visibility(ledger, client_as, role, titles) -> None:
    """Artifacts are listed for the labs a role may read, and only those."""
    assert sorted(_names(client_as(role).get("/api/v1/artifacts/"), "title")) == titles


def test_lab_user_keeps_reading_own_entries_after_leaving_a_consortium(ledger, client_as) -> None:
    """A lab's users read its own ledger entries even in a consortium the lab has left."""
    from consortium.services import membership_end

    membership_end(
        consortium=ledger.consortium, lab=ledger.lab_a, on_date=datetime.date(2026, 6, 1), by=ledger.coordinator
    )
    ids = [row["id"] for row in client_as("user_a").get("/api/v1/contributions/").json()["results"]]
    assert ids == [ledger.entry_a.pk]


def test_anonymous_request_gets_401_with_a_token_challenge(api_client, db) -> None:
    """Anonymous callers are told how to authenticate, in the shared error format."""
    response = api_client.get("/api/v1/contributions/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["error"]["code"] == "not_authenticated"


def test_bad_token_gets_401(api_client, db) -> None:
    """A token that does not exist is refused, not treated as anonymous."""
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = api_client.get("/api/v1/labs/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_lab_creator_becomes_its_admin(world, client_as) -> None:
    """Registering a lab makes the caller the lab's admin, so they can edit it and log for it."""
    client = client_as("staff")
    response = client.post(
        "/api/v1/labs/",
        {"name": "Lab E", "slug": "lab-e", "kind": "non_profit", "final_run_gpu_hours": 100000, "rd_share": 0.7},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["rd_gpu_hours"] == pytest.approx(100000 * 0.7 / 0.3)
    member = LabMember.objects.get(lab_id=body["id"])
    assert (member.user, member.role) == (world.staff, "admin")
    assert client.patch(f"/api/v1/labs/{body['id']}/", {"country": "Chile"}, format="json").status_code == 200


def test_consortium_founder_becomes_its_coordinator(world, client_as) -> None:
    """Founding a consortium makes the caller its coordinator, who may then add labs."""
    client = client_as("user_b")
    response = client.post("/api/v1/consortia/", {"name": "Consortium E", "slug": "e"}, format="json")
    assert response.status_code == 201
    assert response.json()["coordinators"] == ["user_b"]
    joined = client.post(
        "/api/v1/memberships/",
        {"consortium": response.json()["id"], "lab": world.lab_b.pk, "status": "member", "joined_on": "2026-06-01"},
        format="json",
    )
    assert joined.status_code == 201


def test_contribution_price_defaults_to_the_labs_price(ledger, client_as) -> None:
    """Without a price, an entry takes its lab's price per GPU-hour."""
    ledger.lab_a.price_per_gpu_hour = Decimal("3.10")
    ledger.lab_a.save()
    response = client_as("user_a").post(
        "/api/v1/contributions/",
        {
            "lab": ledger.lab_a.pk,
            "consortium": ledger.consortium.pk,
            "period_start": "2026-04-01",
            "period_end": "2026-06-30",
            "gpu_type": "H100",
            "gpu_hours_pledged": "100",
            "gpu_hours_delivered": "100",
        },
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["price_per_gpu_hour"], body["delivered_value"], body["recorded_by"]) == ("3.10", "310.0000", "user_a")


def test_candidate_labs_may_log_compute(ledger, client_as) -> None:
    """Candidates, not only members, log contributions to the consortium."""
    from consortium.services import membership_change

    membership_change(
        consortium=ledger.consortium,
        lab=ledger.lab_b,
        status="candidate",
        on_date=datetime.date(2026, 5, 1),
        by=ledger.coordinator,
    )
    response = client_as("user_b").post(
        "/api/v1/contributions/",
        {
            "lab": ledger.lab_b.pk,
            "consortium": ledger.consortium.pk,
            "period_start": "2026-05-01",
            "period_end": "2026-05-31",
            "gpu_type": "A100",
            "gpu_hours_pledged": "10",
            "gpu_hours_delivered": "10",
        },
        format="json",
    )
    assert response.status_code == 201


def test_membership_create_closes_the_current_spell_and_keeps_it(ledger, client_as) -> None:
    """A new status for a lab closes its current spell on that date; both spells stay listed."""
    client = client_as("coordinator")
    response = client.post(
        "/api/v1/memberships/",
        {"consortium": ledger.consortium.pk, "lab": ledger.lab_b.pk, "status": "observer", "joined_on": "2026-07-01"},
        format="json",
    )
    assert response.status_code == 201
    spells = client.get(f"/api/v1/memberships/?lab={ledger.lab_b.pk}&ordering=joined_on").json()["results"]
    assert [(s["status"], s["joined_on"], s["left_on"], s["is_current"]) for s in spells] == [
        ("member", "2026-01-01", "2026-07-01", False),
        ("observer", "2026-07-01", None, True),
    ]
    current = client.get(f"/api/v1/memberships/?consortium={ledger.consortium.pk}&current=true").json()["results"]
    assert [(s["lab_name"], s["status"]) for s in current] == [("Lab A", "member"), ("Lab B", "observer")]


def test_change_then_end_then_rejoin_builds_the_history(ledger, client_as) -> None:
    """change/ and end/ add to the history; a lab that left can be invited back; nothing is overwritten."""
    client = client_as("coordinator")
    changed = client.post(
        f"/api/v1/memberships/{ledger.spell_a.pk}/change/",
        {"status": "candidate", "on_date": "2026-03-01"},
        format="json",
    )
    assert changed.status_code == 201
    ended = client.post(f"/api/v1/memberships/{changed.json()['id']}/end/", {"on_date": "2026-05-01"}, format="json")
    assert ended.status_code == 200
    assert ended.json()["left_on"] == "2026-05-01"
    early = client.post(
        "/api/v1/memberships/",
        {"consortium": ledger.consortium.pk, "lab": ledger.lab_a.pk, "status": "member", "joined_on": "2026-04-01"},
        format="json",
    )
    assert early.status_code == 400
    assert "joined_on" in early.json()["error"]["fields"]
    rejoined = client.post(
        "/api/v1/memberships/",
        {"consortium": ledger.consortium.pk, "lab": ledger.lab_a.pk, "status": "member", "joined_on": "2026-09-01"},
        format="json",
    )
    assert rejoined.status_code == 201
    # The coordinator is not a user of lab A: rejoining needs lab A's consent again.
    assert rejoined.json()["status"] == "invited"
    history = Membership.objects.filter(consortium=ledger.consortium, lab=ledger.lab_a).order_by("joined_on")
    assert [(m.status, str(m.joined_on), m.left_on and str(m.left_on)) for m in history] == [
        ("member", "2026-01-01", "2026-03-01"),
        ("candidate", "2026-03-01", "2026-05-01"),
        ("invited", "2026-09-01", None),
    ]


def test_scenario_stores_every_parameter_with_defaults_for_the_omitted(ledger, client_as) -> None:
    """A scenario given one parameter stores all of them; the rest are the documented defaults."""
    response = client_as("coordinator").post(
        "/api/v1/scenarios/",
        {
            "consortium": ledger.consortium.pk,
            "name": "High replication",
            "labs": [ledger.lab_a.pk, ledger.lab_b.pk],
            "parameters": {"replication": 1.5},
            "rules": ["shapley", "nucleolus"],
            "draws": 500,
            "seed": 11,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["parameters"] == default_parameters() | {"replication": 1.5}
    assert (body["rules"], body["draws"], body["seed"], body["created_by"]) == (
        ["shapley", "nucleolus"],
        500,
        11,
        "coordinator",
    )
    assert sorted(body["labs"]) == sorted([ledger.lab_a.pk, ledger.lab_b.pk])


def test_scenario_update_keeps_its_consortium_and_checks_labs(ledger, client_as) -> None:
    """PATCH changes the given fields only; the consortium cannot be moved."""
    client = client_as("coordinator")
    url = f"/api/v1/scenarios/{ledger.scenario.pk}/"
    response = client.patch(url, {"rules": ["equal"], "consortium": ledger.other_consortium.pk}, format="json")
    assert response.status_code == 200
    ledger.scenario.refresh_from_db()
    assert (ledger.scenario.rules, ledger.scenario.consortium) == (["equal"], ledger.consortium)
    assert sorted(response.json()["labs"]) == sorted([ledger.lab_a.pk, ledger.lab_b.pk])
    assert Scenario.objects.count() == 1


def test_contributions_filter_and_order(ledger, client_as) -> None:
    """Lists filter on lab, entry type and period, and order on request."""
    for month in (2, 5, 8):
        f.ComputeContributionFactory(
            lab=ledger.lab_a,
            consortium=ledger.consortium,
            recorded_by=ledger.user_a,
            period_start=datetime.date(2026, month, 1),
            period_end=datetime.date(2026, month, 28),
        )
    client = client_as("user_b")
    starts = _names(
        client.get(f"/api/v1/contributions/?lab={ledger.lab_a.pk}&start=2026-02-01&ordering=-period_start"),
        "period_start",
    )
    assert starts == ["2026-08-01", "2026-05-01", "2026-02-01"]
    assert _names(client.get(f"/api/v1/contributions/?lab={ledger.lab_d.pk}"), "id") == []
    assert _names(client.get("/api/v1/contributions/?entry_type=reversal"), "id") == []


def test_lists_paginate_with_page_size(ledger, client_as) -> None:
    """page_size picks the page length; the body gives count, next and previous."""
    client = client_as("user_a")
    first = client.get("/api/v1/artifacts/?page_size=2&ordering=title").json()
    assert (first["count"], len(first["results"]), first["previous"]) == (3, 2, None)
    second = client.get(first["next"]).json()
    assert [row["title"] for row in second["results"]] == ["Lab B RL recipe"]


@pytest.mark.parametrize("page_size", ["0", "501", "ten"])
def test_bad_page_size_is_a_400_naming_it(ledger, client_as, page_size) -> None:
    """A page_size outside 1..500 is reported rather than silently replaced by the default."""
    response = client_as("user_a").get(f"/api/v1/labs/?page_size={page_size}")
    assert response.status_code == 400
    assert "page_size" in response.json()["error"]["fields"]
