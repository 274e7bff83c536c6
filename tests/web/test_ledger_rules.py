"""Entries that can be true: the ledger refuses the impossible and asks about the unlikely, on the
web and over the API alike, before anything is written.

One line per case: the values sent, the field the refusal names and words of its message (or None
when the entry is accepted).
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from labs.models import Artifact, ArtifactReuse, ComputeContribution
from tests import factories as f

pytestmark = pytest.mark.django_db

ENTRIES = "/api/v1/contributions/"
TODAY = timezone.localdate()
NEXT_MONTH = TODAY.replace(day=1) + datetime.timedelta(days=32)
NEXT_PERIOD = {
    "period_start": NEXT_MONTH.replace(day=1).isoformat(),
    "period_end": NEXT_MONTH.replace(day=28).isoformat(),
}
ENTRY = {
    "period_start": "2026-01-01",
    "period_end": "2026-03-31",
    "gpu_type": "H100",
    "gpu_hours_pledged": "1000",
    "gpu_hours_delivered": "800",
    "price_per_gpu_hour": "2.40",
    "cash": "0",
    "evidence_url": "",
    "evidence_note": "",
}

CONTRIBUTION_CASES = [
    pytest.param(NEXT_PERIOD, "gpu_hours_delivered", "enter 0 GPU-hours delivered", id="delivered-before-the-period"),
    pytest.param(NEXT_PERIOD | {"gpu_hours_delivered": "0"}, None, None, id="pledge-for-a-coming-period"),
    pytest.param({"gpu_hours_delivered": "1500.01"}, "over_pledge_confirmed", "more than 1.5 times", id="above-1.5x"),
    pytest.param({"gpu_hours_delivered": "1500"}, None, None, id="exactly-1.5x"),
    pytest.param(
        {"gpu_hours_pledged": "0", "gpu_hours_delivered": "1"}, "over_pledge_confirmed", "pledged (0)", id="no-pledge"
    ),
]


def _field_error(html: str, name: str) -> str:
    error = re.search(rf'<p class="error" id="id_{name}_error"[^>]*>(.*?)</p>', html, re.S)
    assert error, f"no error beside {name}"
    return unescape(error.group(1))


@pytest.mark.parametrize(("changes", "field", "message"), CONTRIBUTION_CASES)
def test_contribution_rules_on_the_web(world, client, changes, field, message):
    client.force_login(world.user_a)
    data = ENTRY | {"consortium": world.consortium.pk} | changes
    response = client.post(reverse("labs:contribution_new", args=["lab-a"]), data)
    if field is None:
        assert response.status_code == 302
        assert ComputeContribution.objects.get().over_pledge_confirmed is False
    else:
        assert response.status_code == 400
        assert message in _field_error(response.content.decode(), field)
        assert not ComputeContribution.objects.exists()


@pytest.mark.parametrize(("changes", "field", "message"), CONTRIBUTION_CASES)
def test_contribution_rules_over_the_api(world, client_as, changes, field, message):
    data = ENTRY | {"lab": world.lab_a.pk, "consortium": world.consortium.pk} | changes
    response = client_as("user_a").post(ENTRIES, data, format="json")
    if field is None:
        assert response.status_code == 201, response.json()
        assert response.json()["over_pledge_confirmed"] is False
    else:
        assert response.status_code == 400
        error = response.json()["error"]
        assert list(error["fields"]) == [field]
        assert message in error["fields"][field][0]
        assert field in error["message"]
        assert not ComputeContribution.objects.exists()


def test_a_confirmed_delivery_above_the_pledge_is_recorded_with_the_entry_on_the_web(world, client):
    client.force_login(world.user_a)
    data = ENTRY | {"consortium": world.consortium.pk, "gpu_hours_delivered": "2000", "over_pledge_confirmed": "on"}
    response = client.post(reverse("labs:contribution_new", args=["lab-a"]), data)
    assert response.status_code == 302
    entry = ComputeContribution.objects.get()
    assert (entry.gpu_hours_delivered, entry.over_pledge_confirmed) == (Decimal("2000"), True)
    page = client.get(reverse("labs:detail", args=["lab-a"])).content.decode()
    assert "Above pledge, confirmed" in page
    ledger = client.get(reverse("labs:ledger_csv", args=["lab-a"])).content.decode().splitlines()
    assert "over_pledge_confirmed" in ledger[0].split(",")
    header = ledger[0].split(",")
    assert ledger[1].split(",")[header.index("over_pledge_confirmed")] == "true"


def test_a_confirmed_delivery_above_the_pledge_is_recorded_with_the_entry_over_the_api(world, client_as):
    data = ENTRY | {"lab": world.lab_a.pk, "consortium": world.consortium.pk}
    data |= {"gpu_hours_delivered": "2000", "over_pledge_confirmed": True}
    response = client_as("user_a").post(ENTRIES, data, format="json")
    assert response.status_code == 201
    assert response.json()["over_pledge_confirmed"] is True
    assert ComputeContribution.objects.get().over_pledge_confirmed is True


def test_the_multiple_of_the_pledge_is_a_setting(world, client_as, settings):
    settings.LEDGER_DELIVERED_OVER_PLEDGED_RATIO = Decimal("2")
    data = ENTRY | {"lab": world.lab_a.pk, "consortium": world.consortium.pk, "gpu_hours_delivered": "2000"}
    assert client_as("user_a").post(ENTRIES, data, format="json").status_code == 201
    refused = client_as("user_a").post(ENTRIES, data | {"gpu_hours_delivered": "2000.5"}, format="json")
    assert refused.status_code == 400
    assert "more than 2 times" in refused.json()["error"]["fields"]["over_pledge_confirmed"][0]


def test_a_correction_follows_the_same_rules_and_writes_nothing_when_refused(ledger, client_as):
    """A replacement is a new entry: delivering more than 1.5x its pledge needs the confirmation too."""
    url = f"{ENTRIES}{ledger.entry_a.pk}/correct/"
    refused = client_as("user_a").post(url, {"reason": "late invoice", "gpu_hours_delivered": "20000"}, format="json")
    assert refused.status_code == 400
    assert list(refused.json()["error"]["fields"]) == ["over_pledge_confirmed"]
    assert ComputeContribution.objects.count() == 3
    confirmed = {"reason": "late invoice", "gpu_hours_delivered": "20000", "over_pledge_confirmed": True}
    accepted = client_as("user_a").post(url, confirmed, format="json")
    assert accepted.status_code == 201
    assert accepted.json()["replacement"]["over_pledge_confirmed"] is True


def test_a_correction_on_the_web_shows_the_rule_beside_the_field(ledger, client):
    client.force_login(ledger.user_a)
    entry = ledger.entry_a
    data = ENTRY | {"reason": "moved", "gpu_hours_pledged": "10000", "gpu_hours_delivered": "8000"} | NEXT_PERIOD
    response = client.post(reverse("labs:contribution_correct", args=["lab-a", entry.pk]), data)
    assert response.status_code == 400
    assert "nothing can have been delivered" in _field_error(response.content.decode(), "gpu_hours_delivered")
    assert ComputeContribution.objects.count() == 3


def test_entries_recorded_before_the_rules_stay_in_the_ledger(ledger, client):
    """An entry that breaks a rule (written before it existed) is still shown and summed; it can be reversed."""
    old = f.ComputeContributionFactory(
        lab=ledger.lab_a, consortium=ledger.consortium, recorded_by=ledger.user_a, gpu_hours_pledged=Decimal("10")
    )
    client.force_login(ledger.user_a)
    page = client.get(reverse("labs:detail", args=["lab-a"])).content.decode()
    assert f'id="entry-{old.pk}"' in page
    response = client.post(
        reverse("labs:contribution_correct", args=["lab-a", old.pk]), {"reason": "typo", "reverse_only": "on"}
    )
    assert response.status_code == 302
    assert ComputeContribution.objects.filter(reverses=old).exists()


# Reuse: the reused artifact (lab B's) takes 50,000 GPU-hours to reproduce (the factory's figure).
REUSE_CASES = [
    pytest.param({"gpu_hours_saved": "50000"}, None, id="saving-equal-to-the-cost"),
    pytest.param({"gpu_hours_saved": "50000.01"}, "gpu_hours_saved", id="saving-above-the-cost"),
    pytest.param(
        {"gpu_hours_saved": "80000", "saving_exceeds_reason": "also saved the evaluation runs"}, None, id="with-reason"
    ),
    pytest.param({"gpu_hours_saved": "80000", "saving_exceeds_reason": "   "}, "gpu_hours_saved", id="blank-reason"),
]


@pytest.fixture
def artifact_b(world):
    return f.ArtifactFactory(lab=world.lab_b, title="Lab B recipe", release_date=datetime.date(2026, 1, 1))


@pytest.mark.parametrize(("changes", "field"), REUSE_CASES)
def test_reuse_rules_on_the_web(world, client, artifact_b, changes, field):
    client.force_login(world.user_a)
    data = {"artifact": artifact_b.pk, "reused_on": "2026-02-01", "note": "", "saving_exceeds_reason": ""} | changes
    response = client.post(reverse("labs:reuse_new", args=["lab-a"]), data)
    if field is None:
        assert response.status_code == 302
        assert ArtifactReuse.objects.get().saving_exceeds_reason == changes.get("saving_exceeds_reason", "")
        if changes.get("saving_exceeds_reason"):
            page = client.get(reverse("labs:detail", args=["lab-a"])).content.decode()
            assert "Above the reproduction cost: also saved the evaluation runs" in page
    else:
        assert response.status_code == 400
        message = _field_error(response.content.decode(), field)
        assert "50,000 GPU-hours Lab B states “Lab B recipe” would take to reproduce" in message
        assert "Enter at most 50,000, or give the reason" in message
        assert not ArtifactReuse.objects.exists()


@pytest.mark.parametrize(("changes", "field"), REUSE_CASES)
def test_reuse_rules_over_the_api(world, client_as, artifact_b, changes, field):
    data = {"artifact": artifact_b.pk, "reusing_lab": world.lab_a.pk, "reused_on": "2026-02-01"} | changes
    response = client_as("user_a").post("/api/v1/reuses/", data, format="json")
    if field is None:
        assert response.status_code == 201, response.json()
        assert response.json()["saving_exceeds_reason"] == changes.get("saving_exceeds_reason", "")
    else:
        assert response.status_code == 400
        assert list(response.json()["error"]["fields"]) == [field]
        assert "saving_exceeds_reason" in response.json()["error"]["fields"][field][0]
        assert not ArtifactReuse.objects.exists()


def test_changing_a_reuse_estimate_follows_the_rule_but_an_old_record_keeps_its_estimate(world, client_as, artifact_b):
    old = f.ArtifactReuseFactory(artifact=artifact_b, reusing_lab=world.lab_a, gpu_hours_saved=Decimal("90000"))
    url = f"/api/v1/reuses/{old.pk}/"
    api = client_as("user_a")
    assert api.patch(url, {"note": "kept as logged"}, format="json").status_code == 200
    raised = api.patch(url, {"gpu_hours_saved": "95000"}, format="json")
    assert raised.status_code == 400
    assert list(raised.json()["error"]["fields"]) == ["gpu_hours_saved"]
    old.refresh_from_db()
    assert (old.gpu_hours_saved, old.note) == (Decimal("90000"), "kept as logged")
    lowered = api.patch(url, {"gpu_hours_saved": "40000"}, format="json")
    assert lowered.status_code == 200


ARTIFACT = {
    "title": "Open corpus",
    "kind": "dataset",
    "research_area": "pretraining_data",
    "url": "",
    "licence": "CC-BY-4.0",
    "openness": "open",
    "reproduction_gpu_hours": "1000",
}
ARTIFACT_CASES = [
    pytest.param(TODAY.isoformat(), None, id="today"),
    pytest.param((TODAY + datetime.timedelta(days=1)).isoformat(), "is in the future", id="tomorrow"),
    pytest.param("2000-01-01", None, id="first-day-of-2000"),
    pytest.param("1999-12-31", "enter a date from 2000-01-01 on", id="before-2000"),
]


@pytest.mark.parametrize(("release_date", "message"), ARTIFACT_CASES)
def test_artifact_release_date_on_the_web(world, client, release_date, message):
    client.force_login(world.user_a)
    response = client.post(reverse("labs:artifact_new", args=["lab-a"]), ARTIFACT | {"release_date": release_date})
    if message is None:
        assert response.status_code == 302
        assert Artifact.objects.get().release_date.isoformat() == release_date
    else:
        assert response.status_code == 400
        assert message in _field_error(response.content.decode(), "release_date")
        assert not Artifact.objects.exists()


@pytest.mark.parametrize(("release_date", "message"), ARTIFACT_CASES)
def test_artifact_release_date_over_the_api(world, client_as, release_date, message):
    data = ARTIFACT | {"lab": world.lab_a.pk, "release_date": release_date}
    response = client_as("user_a").post("/api/v1/artifacts/", data, format="json")
    if message is None:
        assert response.status_code == 201
    else:
        assert response.status_code == 400
        assert list(response.json()["error"]["fields"]) == ["release_date"]
        assert message in response.json()["error"]["fields"]["release_date"][0]
        assert not Artifact.objects.exists()


def test_an_artifact_with_an_old_impossible_date_keeps_it_until_the_date_is_changed(world, client_as):
    artifact = f.ArtifactFactory(lab=world.lab_a, release_date=datetime.date(1990, 1, 1))
    api = client_as("user_a")
    url = f"/api/v1/artifacts/{artifact.pk}/"
    assert api.patch(url, {"title": "Renamed"}, format="json").status_code == 200
    moved = api.patch(url, {"release_date": "1995-01-01"}, format="json")
    assert moved.status_code == 400
    artifact.refresh_from_db()
    assert (artifact.title, artifact.release_date) == ("Renamed", datetime.date(1990, 1, 1))


def _ledger_with_a_correction(ledger):
    from labs import services

    reversal, replacement = services.contribution_correct(
        original=ledger.entry_a, recorded_by=ledger.user_a, reason="invoice", gpu_hours_delivered=Decimal("9000")
    )
    return reversal, replacement


def test_the_lab_page_can_hide_corrected_entries(ledger, client):
    reversal, replacement = _ledger_with_a_correction(ledger)
    client.force_login(ledger.user_a)
    url = reverse("labs:detail", args=["lab-a"])
    everything = client.get(url).content.decode()
    for entry in (ledger.entry_a, reversal, replacement):
        assert f'id="entry-{entry.pk}"' in everything
    assert 'href="?corrected=hide#ledger"' in everything
    current = client.get(url, {"corrected": "hide"}).content.decode()
    assert f'id="entry-{replacement.pk}"' in current
    assert f'id="entry-{ledger.entry_a.pk}"' not in current
    assert f'id="entry-{reversal.pk}"' not in current
    assert "1 corrected entry and its reversal hidden" in current
    # The totals are the ledger's, whichever rows are shown.
    total = re.search(r"Totals \(corrections net out\).*?</tr>", current, re.S).group(0)
    assert "9,000" in total


def test_the_api_lists_only_entries_that_stand_on_request(ledger, client_as):
    reversal, replacement = _ledger_with_a_correction(ledger)
    api = client_as("user_a")
    standing = {row["id"] for row in api.get(ENTRIES, {"lab": ledger.lab_a.pk, "current": "true"}).json()["results"]}
    superseded = {row["id"] for row in api.get(ENTRIES, {"lab": ledger.lab_a.pk, "current": "false"}).json()["results"]}
    assert standing == {replacement.pk}
    assert superseded == {ledger.entry_a.pk, reversal.pk}
    assert api.get(ENTRIES, {"current": "maybe"}).status_code == 400
