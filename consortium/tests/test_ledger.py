"""The compute ledger is append-only: no path changes or deletes an entry, corrections keep the
whole history, and totals are the sums of the ledger."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.contrib import admin
from django.db import connection, transaction
from django.test import RequestFactory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import require_service
from labs import selectors, services
from labs.models import ComputeContribution, LedgerImmutableError
from tests import factories as f

# The admin pages link static files; tests have no collectstatic manifest.
pytestmark = pytest.mark.usefixtures("plain_static")

# No update or delete path: model, queryset, API, admin, database


def test_saving_a_stored_entry_is_refused(ledger) -> None:
    """Model.save() on a stored entry raises instead of updating it."""
    ledger.entry_a.gpu_hours_delivered = Decimal("1")
    with pytest.raises(LedgerImmutableError):
        ledger.entry_a.save()
    assert ComputeContribution.objects.get(pk=ledger.entry_a.pk).gpu_hours_delivered == Decimal("8000")


@pytest.mark.parametrize(
    "remove",
    [
        lambda entry: entry.delete(),
        lambda entry: ComputeContribution.objects.filter(pk=entry.pk).delete(),
        lambda entry: ComputeContribution.objects.filter(pk=entry.pk).update(gpu_hours_delivered=1),
        lambda entry: ComputeContribution.objects.bulk_update([entry], ["gpu_hours_delivered"]),
    ],
    ids=["instance delete", "queryset delete", "queryset update", "bulk update"],
)
def test_model_and_queryset_refuse_changes_and_deletes(ledger, remove) -> None:
    """Every ORM path that would change or delete ledger rows raises and leaves the row as it was."""
    with pytest.raises(LedgerImmutableError):
        remove(ledger.entry_a)
    stored = ComputeContribution.objects.get(pk=ledger.entry_a.pk)
    assert (stored.gpu_hours_pledged, stored.gpu_hours_delivered) == (Decimal("10000"), Decimal("8000"))


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
@pytest.mark.parametrize("role", ["user_a", "token", "staff"])
def test_api_answers_405_to_changes_and_deletes_and_keeps_the_entry(ledger, client_as, role, method) -> None:
    """Even the entry's own lab and staff get 405; the entry keeps every value."""
    before = ComputeContribution.objects.filter(pk=ledger.entry_a.pk).values().get()
    response = getattr(client_as(role), method)(
        f"/api/v1/contributions/{ledger.entry_a.pk}/", {"gpu_hours_delivered": "1"}, format="json"
    )
    assert response.status_code == 405
    assert "correction" in response.json()["error"]["message"]
    assert ComputeContribution.objects.filter(pk=ledger.entry_a.pk).values().get() == before


@pytest.mark.services
@pytest.mark.parametrize(
    ("sql", "operation"),
    [
        ("UPDATE labs_computecontribution SET gpu_hours_delivered = 1 WHERE id = %s", "UPDATE"),
        ("DELETE FROM labs_computecontribution WHERE id = %s", "DELETE"),
    ],
)
def test_postgresql_refuses_raw_updates_and_deletes(ledger, sql, operation) -> None:
    """On PostgreSQL a trigger refuses changes that bypass the ORM (raw SQL, another client)."""
    if connection.vendor != "postgresql":
        require_service("postgresql", "the append-only trigger exists on PostgreSQL only")
    from django.db import IntegrityError

    expected = f"append-only: record a correction instead of {operation}"
    with pytest.raises(IntegrityError, match=expected), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [ledger.entry_a.pk])
    assert ComputeContribution.objects.filter(pk=ledger.entry_a.pk).exists()


def _admin_request(user):  # type: ignore[no-untyped-def]
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def test_admin_grants_no_change_or_delete_permission_even_to_superusers(ledger) -> None:
    """The admin shows entries read-only: no change, no delete, no bulk-delete action."""
    superuser = f.UserFactory(username="root", is_staff=True, is_superuser=True)
    model_admin = admin.site._registry[ComputeContribution]
    request = _admin_request(superuser)
    assert model_admin.has_view_permission(request, ledger.entry_a)
    assert not model_admin.has_change_permission(request, ledger.entry_a)
    assert not model_admin.has_delete_permission(request, ledger.entry_a)
    assert "delete_selected" not in model_admin.get_actions(request)


def test_admin_change_and_delete_pages_refuse_to_write(ledger, client) -> None:
    """Posting to the admin's change or delete page of an entry changes nothing."""
    client.force_login(f.UserFactory(username="root", is_staff=True, is_superuser=True))
    before = ComputeContribution.objects.filter(pk=ledger.entry_a.pk).values().get()
    base = f"/admin/labs/computecontribution/{ledger.entry_a.pk}"
    page = client.get(f"{base}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert client.post(f"{base}/change/", {"gpu_hours_delivered": "1"}).status_code == 403
    assert client.post(f"{base}/delete/", {"post": "yes"}).status_code == 403
    assert ComputeContribution.objects.filter(pk=ledger.entry_a.pk).values().get() == before


ADMIN_ENTRY = {
    "period_start": "2026-04-01",
    "period_end": "2026-06-30",
    "gpu_type": "H100",
    "gpu_hours_pledged": "100",
    "gpu_hours_delivered": "90",
    "price_per_gpu_hour": "2.40",
    "cash": "0",
}


def test_admin_adds_entries_through_the_service(ledger, client) -> None:
    """Adding in the admin records an original entry with the staff member as recorder."""
    root = f.UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(root)
    data = ADMIN_ENTRY | {"lab": ledger.lab_a.pk, "consortium": ledger.consortium.pk}
    response = client.post("/admin/labs/computecontribution/add/", data)
    assert response.status_code == 302, response.content[:2000]
    entry = ComputeContribution.objects.latest("id")
    assert (entry.lab, entry.recorded_by, entry.entry_type) == (ledger.lab_a, root, "original")


def test_admin_add_for_a_lab_outside_the_consortium_shows_the_error_and_saves_nothing(ledger, client) -> None:
    """The service's membership rule appears as a form error in the admin, not as a 500."""
    client.force_login(f.UserFactory(username="root", is_staff=True, is_superuser=True))
    count = ComputeContribution.objects.count()
    data = ADMIN_ENTRY | {"lab": ledger.lab_d.pk, "consortium": ledger.consortium.pk}
    response = client.post("/admin/labs/computecontribution/add/", data)
    assert response.status_code == 200
    assert b"is not a current member or candidate" in response.content
    assert ComputeContribution.objects.count() == count


# Corrections keep the full history


def test_amendment_keeps_original_and_links_reversal_and_replacement(ledger, client_as) -> None:
    """An amendment adds a reversal and a replacement; the original stays as it was, linked to both."""
    response = client_as("user_a").post(
        f"/api/v1/contributions/{ledger.entry_a.pk}/correct/",
        {"reason": "Delivered figure was a typo", "gpu_hours_delivered": "9000", "evidence_note": "invoice 42"},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    reversal, replacement = body["reversal"], body["replacement"]
    assert reversal["entry_type"] == "reversal"
    assert reversal["reverses"] == ledger.entry_a.pk
    assert (reversal["gpu_hours_pledged"], reversal["gpu_hours_delivered"]) == ("-10000.00", "-8000.00")
    assert replacement["entry_type"] == "replacement"
    assert replacement["replaces"] == ledger.entry_a.pk
    assert (replacement["gpu_hours_pledged"], replacement["gpu_hours_delivered"]) == ("10000.00", "9000.00")
    assert replacement["evidence_note"] == "invoice 42"
    assert replacement["reason"] == reversal["reason"] == "Delivered figure was a typo"

    original = client_as("user_b").get(f"/api/v1/contributions/{ledger.entry_a.pk}/").json()
    assert original["gpu_hours_delivered"] == "8000.00"
    assert (original["reversed_by"], original["replaced_by"]) == (reversal["id"], replacement["id"])
    history = list(selectors.ledger_history(lab=ledger.lab_a))
    assert [entry.entry_type for entry in history] == ["original", "reversal", "replacement"]


def test_plain_reversal_takes_the_entry_out_of_the_totals(ledger) -> None:
    """A correction without new values reverses only; the lab's total drops to zero, history stays."""
    reversal, replacement = services.contribution_correct(
        original=ledger.entry_a, recorded_by=ledger.user_a, reason="Logged twice"
    )
    assert reversal.reverses == ledger.entry_a
    assert replacement is None
    (row,) = selectors.contribution_totals(consortium=ledger.consortium, lab=ledger.lab_a)
    assert (row["gpu_hours_delivered"], row["delivered_value"], row["entries"]) == (Decimal("0"), Decimal("0"), 2)
    assert ComputeContribution.objects.filter(lab=ledger.lab_a).count() == 2


def test_replacement_can_itself_be_amended_and_the_chain_stays(ledger) -> None:
    """Correcting a replacement adds to the chain; the totals follow the latest values."""
    _, first = services.contribution_correct(
        original=ledger.entry_a, recorded_by=ledger.user_a, reason="typo", gpu_hours_delivered=Decimal("9000")
    )
    _, second = services.contribution_correct(
        original=first, recorded_by=ledger.user_a, reason="invoice", gpu_hours_delivered=Decimal("9500")
    )
    history = list(selectors.ledger_history(lab=ledger.lab_a))
    assert [entry.entry_type for entry in history] == ["original", "reversal", "replacement", "reversal", "replacement"]
    assert history[-1] == second
    assert second.replaces == first
    (row,) = selectors.contribution_totals(lab=ledger.lab_a)
    assert row["gpu_hours_delivered"] == Decimal("9500.00")
    assert row["delivered_value"] == Decimal("22800.00")


def test_a_failed_amendment_saves_no_reversal(ledger) -> None:
    """The reversal and its replacement are one transaction: an invalid replacement leaves no trace."""
    from django.core.exceptions import ValidationError

    count = ComputeContribution.objects.count()
    with pytest.raises(ValidationError) as caught:
        services.contribution_correct(
            original=ledger.entry_a, recorded_by=ledger.user_a, reason="typo", price_per_gpu_hour=Decimal("0")
        )
    assert "price_per_gpu_hour" in caught.value.message_dict
    assert ComputeContribution.objects.count() == count


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_simultaneous_corrections_of_one_entry_let_exactly_one_through(world) -> None:
    """Two requests correcting the same entry at once: one succeeds, the other is told it was corrected."""
    if connection.vendor != "postgresql":
        require_service("postgresql", "row locks need PostgreSQL (SQLite serialises writers)")
    import threading

    from django.core.exceptions import ValidationError
    from django.db import connections

    entry = f.ComputeContributionFactory(lab=world.lab_a, consortium=world.consortium, recorded_by=world.user_a)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def correct(delivered: str) -> None:
        try:
            barrier.wait()
            services.contribution_correct(
                original=entry, recorded_by=world.user_a, reason="race", gpu_hours_delivered=Decimal(delivered)
            )
            outcomes.append("ok")
        except ValidationError:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=correct, args=(value,)) for value in ("7000", "7500")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok", "refused"]
    assert ComputeContribution.objects.filter(reverses=entry).count() == 1
    assert ComputeContribution.objects.filter(replaces=entry).count() == 1


# Totals match the ledger

D = datetime.date
TOTALS_LEDGER = [
    # lab, period start, GPU type, pledged, delivered, price (US$/GPU-h)
    ("a", D(2026, 1, 1), "H100", "1000", "900", "2.40"),
    ("a", D(2026, 2, 1), "A100", "500", "500", "1.20"),
    ("a", D(2026, 4, 1), "H100", "2000", "1500", "2.40"),
    ("b", D(2026, 1, 15), "H100", "300", "250", "3.00"),
    ("b", D(2026, 7, 1), "H200", "100", "100", "3.50"),
]


@pytest.fixture
def totals_world(world):
    labs = {"a": world.lab_a, "b": world.lab_b}
    for lab, start, gpu, pledged, delivered, price in TOTALS_LEDGER:
        services.contribution_record(
            lab=labs[lab],
            consortium=world.consortium,
            recorded_by=world.user_a if lab == "a" else world.user_b,
            period_start=start,
            period_end=start + datetime.timedelta(days=27),
            gpu_type=gpu,
            gpu_hours_pledged=Decimal(pledged),
            gpu_hours_delivered=Decimal(delivered),
            price_per_gpu_hour=Decimal(price),
        )
    # An amendment: lab A's April entry delivered 1,800 GPU-hours, not 1,500.
    april = ComputeContribution.objects.get(lab=world.lab_a, period_start=D(2026, 4, 1))
    services.contribution_correct(
        original=april, recorded_by=world.user_a, reason="late invoice", gpu_hours_delivered=Decimal("1800")
    )
    # Lab D's entry in consortium D must never appear in C's totals.
    f.ComputeContributionFactory(lab=world.lab_d, consortium=world.other_consortium, recorded_by=world.user_d)
    return world


@pytest.mark.parametrize(
    ("group_by", "filters", "expected"),
    [
        # (group keys..., pledged, delivered, delivered value US$)
        (("lab",), {}, [("Lab A", "3500", "3200", "7080.00"), ("Lab B", "400", "350", "1100.00")]),
        (
            ("quarter",),
            {},
            [
                (D(2026, 1, 1), "1800", "1650", "3510.00"),
                (D(2026, 4, 1), "2000", "1800", "4320.00"),
                (D(2026, 7, 1), "100", "100", "350.00"),
            ],
        ),
        (
            ("gpu_type",),
            {},
            [("A100", "500", "500", "600.00"), ("H100", "3300", "2950", "7230.00"), ("H200", "100", "100", "350.00")],
        ),
        (
            ("lab", "quarter"),
            {"start": D(2026, 1, 1), "end": D(2026, 3, 31)},
            [("Lab A", D(2026, 1, 1), "1500", "1400", "2760.00"), ("Lab B", D(2026, 1, 1), "300", "250", "750.00")],
        ),
        ((), {}, [("3900", "3550", "8180.00")]),
        ((), {"start": D(2026, 6, 1)}, [("100", "100", "350.00")]),
    ],
    ids=["per lab", "per quarter", "per GPU type", "per lab and quarter in Q1", "grand total", "from June"],
)
def test_totals_are_the_sums_of_the_ledger(totals_world, group_by, filters, expected) -> None:
    """Totals per lab, quarter and GPU type equal hand-computed sums, amendments included."""
    rows = selectors.contribution_totals(consortium=totals_world.consortium, group_by=group_by, **filters)
    keys = {"lab": ("lab_name",), "quarter": ("quarter",), "gpu_type": ("gpu_type",)}
    columns = [key for name in group_by for key in keys[name]]
    got = [
        (*(row[c] for c in columns), row["gpu_hours_pledged"], row["gpu_hours_delivered"], row["delivered_value"])
        for row in rows
    ]
    assert got == [(*line[:-3], *(Decimal(amount) for amount in line[-3:])) for line in expected]


def test_totals_equal_a_plain_sum_over_every_entry(totals_world) -> None:
    """The grand total is exactly the sum over every row, reversals negative: nothing is double-counted."""
    entries = ComputeContribution.objects.filter(consortium=totals_world.consortium)
    (row,) = selectors.contribution_totals(consortium=totals_world.consortium, group_by=())
    assert row["gpu_hours_delivered"] == sum(e.gpu_hours_delivered for e in entries)
    assert row["delivered_value"] == sum(e.delivered_value for e in entries).quantize(Decimal("0.01"))
    assert row["entries"] == entries.count() == len(TOTALS_LEDGER) + 2


def test_api_totals_match_the_selector_and_carry_units(totals_world, client_as) -> None:
    """The API answers the selector's figures, as decimal strings with their units."""
    response = client_as("user_b").get(
        f"/api/v1/contributions/totals/?consortium={totals_world.consortium.pk}&group_by=lab,quarter"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["group_by"] == ["lab", "quarter"]
    assert body["units"]["delivered_value"] == "US$"
    assert body["units"]["gpu_hours_delivered"] == "GPU-hours"
    expected = selectors.contribution_totals(consortium=totals_world.consortium, group_by=("lab", "quarter"))
    assert [(r["lab_name"], r["quarter"], r["delivered_value"]) for r in body["results"]] == [
        (r["lab_name"], r["quarter"].isoformat(), str(r["delivered_value"])) for r in expected
    ]


def test_api_totals_only_sum_what_the_user_may_see(totals_world, client_as) -> None:
    """Without filters, D's coordinator gets D's totals only, and C's people never see D's."""
    for_d = client_as("other_coordinator").get("/api/v1/contributions/totals/").json()["results"]
    assert [row["lab_name"] for row in for_d] == ["Lab D"]
    for_c = client_as("user_a").get("/api/v1/contributions/totals/").json()["results"]
    assert [row["lab_name"] for row in for_c] == ["Lab A", "Lab B"]


# Performance


def test_contribution_list_query_count_does_not_grow_with_entries(
    ledger, client_as, django_assert_max_num_queries
) -> None:
    """Listing 30+ entries with their labs, consortia, recorders and corrections takes a fixed few queries."""
    for _ in range(15):
        f.ComputeContributionFactory(lab=ledger.lab_a, consortium=ledger.consortium, recorded_by=ledger.user_a)
        entry = f.ComputeContributionFactory(lab=ledger.lab_b, consortium=ledger.consortium, recorded_by=ledger.user_b)
        services.contribution_correct(original=entry, recorded_by=ledger.user_b, reason="typo", cash=Decimal("5"))
    client = client_as("user_a")
    with django_assert_max_num_queries(8):
        response = client.get("/api/v1/contributions/")
    assert response.status_code == 200
    assert response.json()["count"] >= 30


# Property: whatever sequence of entries and corrections, totals are the sums of the live entries

amounts = st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False, allow_infinity=False)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("record"), st.sampled_from(["a", "b"]), amounts, amounts),
        st.tuples(st.just("amend"), st.integers(min_value=0, max_value=50), amounts, amounts),
        st.tuples(st.just("reverse"), st.integers(min_value=0, max_value=50), st.none(), st.none()),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_totals_equal_the_live_entries_after_any_corrections(world, ops) -> None:
    """After any mix of entries, amendments and reversals, each lab's total is the sum of its entries
    that have not been corrected, and every entry ever written is still there."""
    consortium = f.ConsortiumFactory()
    labs = {"a": world.lab_a, "b": world.lab_b}
    for lab in labs.values():
        f.MembershipFactory(consortium=consortium, lab=lab)
    live: list[ComputeContribution] = []
    written = 0
    for kind, target, pledged, delivered in ops:
        if kind == "record":
            live.append(
                services.contribution_record(
                    lab=labs[target],
                    consortium=consortium,
                    recorded_by=world.user_a,
                    period_start=D(2026, 1, 1),
                    period_end=D(2026, 1, 31),
                    gpu_type="H100",
                    gpu_hours_pledged=pledged,
                    gpu_hours_delivered=delivered,
                    price_per_gpu_hour=Decimal("2.00"),
                    # Arbitrary amounts: any delivery above the pledge is confirmed.
                    over_pledge_confirmed=True,
                )
            )
            written += 1
        elif live:
            original = live.pop(target % len(live))
            # An amendment must change something: the service refuses one that repeats the original.
            amended = {"gpu_hours_pledged": original.gpu_hours_pledged + 1, "gpu_hours_delivered": delivered}
            amended["over_pledge_confirmed"] = True
            new = {} if kind == "reverse" else amended
            _, replacement = services.contribution_correct(
                original=original, recorded_by=world.user_a, reason="fix", **new
            )
            written += 2 if replacement else 1
            if replacement:
                live.append(replacement)
    rows = {row["lab_name"]: row for row in selectors.contribution_totals(consortium=consortium)}
    for name, lab in (("Lab A", world.lab_a), ("Lab B", world.lab_b)):
        mine = [entry for entry in live if entry.lab == lab]
        expected = sum((entry.gpu_hours_delivered for entry in mine), Decimal("0"))
        got = rows[name]["gpu_hours_delivered"] if name in rows else Decimal("0")
        assert got == expected
        if name in rows:
            assert rows[name]["delivered_value"] == expected * 2
    assert ComputeContribution.objects.filter(consortium=consortium).count() == written
