"""Report ETags follow edits, not only additions: an edited reuse record or a renamed lab gives a
client that sends its old ETag the new report (200), never a stale 304."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

BASE = "/api/v1/consortia/c/reports"


def fetch_again(client, url, params, first):
    return client.get(url, params, HTTP_IF_NONE_MATCH=first["ETag"])


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_reuse_report_changes_after_a_reuse_record_is_edited(ledger, client_as, fmt):
    client = client_as("user_b")
    url, params = f"{BASE}/reuse/", {"format": fmt}
    first = client.get(url, params)
    assert first.status_code == 200
    assert fetch_again(client, url, params, first).status_code == 304
    patched = client.patch(f"/api/v1/reuses/{ledger.reuse_b.pk}/", {"gpu_hours_saved": "4321.00"}, format="json")
    assert patched.status_code == 200, patched.content
    again = fetch_again(client, url, params, first)
    assert again.status_code == 200
    assert again["ETag"] != first["ETag"]
    assert b"4321" in again.content


@pytest.mark.parametrize(
    ("report", "params"),
    [("reuse", {"by": "reusing_lab"}), ("reuse", {"by": "owning_lab"}), ("contributions", {"group_by": "lab"})],
)
def test_reports_naming_labs_change_after_a_lab_is_renamed(ledger, client_as, report, params):
    client = client_as("coordinator")
    url = f"{BASE}/{report}/"
    first = client.get(url, params)
    assert first.status_code == 200
    assert fetch_again(client, url, params, first).status_code == 304
    renamed = ledger.lab_b if params.get("by") != "owning_lab" else ledger.lab_a
    renamed.name = "Renamed Lab"
    renamed.save()
    again = fetch_again(client, url, params, first)
    assert again.status_code == 200
    assert "Renamed Lab" in {row["lab_name"] for row in again.json()["results"]}
