"""Bad input to the ledger resources: each case answers 400 naming the field, and saves nothing.

One line per case: who sends it, where, what is wrong, and which field the error must name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.apps import apps

from labs.models import default_area_weights

WATCHED = (
    "labs.Lab",
    "labs.LabMember",
    "labs.ComputeContribution",
    "labs.Artifact",
    "labs.ArtifactReuse",
    "consortium.Consortium",
    "consortium.Membership",
    "consortium.Scenario",
)

LAB = {"name": "Lab New", "slug": "lab-new", "kind": "academic", "final_run_gpu_hours": 500000, "rd_share": 0.8}
ENTRY = {
    "period_start": "2026-04-01",
    "period_end": "2026-06-30",
    "gpu_type": "H100",
    "gpu_hours_pledged": "5000",
    "gpu_hours_delivered": "4000",
    "price_per_gpu_hour": "2.40",
}
ARTIFACT = {
    "kind": "dataset",
    "title": "New corpus",
    "research_area": "pretraining_data",
    "reproduction_gpu_hours": "1000",
    "release_date": "2026-05-01",
}


def uneven_weights() -> dict[str, float]:
    return dict.fromkeys(default_area_weights(), 0.5)


@dataclass(frozen=True)
class Bad:
    name: str
    role: str
    method: str
    url: Callable[[Any], str]
    payload: Callable[[Any], dict[str, Any]]
    field: str
    setup: Callable[[Any], None] = field(default=lambda w: None)


def entry(w: Any, **changes: Any) -> dict[str, Any]:
    return {**ENTRY, "lab": w.lab_a.pk, "consortium": w.consortium.pk, **changes}


def reuse(w: Any, **changes: Any) -> dict[str, Any]:
    return {
        "artifact": w.artifact_b.pk,
        "reusing_lab": w.lab_a.pk,
        "reused_on": "2026-04-01",
        "gpu_hours_saved": "500",
    } | changes


def scenario(w: Any, **changes: Any) -> dict[str, Any]:
    return {"consortium": w.consortium.pk, "name": "New", "labs": [w.lab_a.pk, w.lab_b.pk]} | changes


def observer_a(w: Any) -> None:
    from consortium.services import membership_change

    membership_change(
        consortium=w.consortium, lab=w.lab_a, status="observer", on_date=w.spell_a.joined_on, by=w.coordinator
    )


LABS = "/api/v1/labs/"
ENTRIES = "/api/v1/contributions/"
ARTIFACTS = "/api/v1/artifacts/"
REUSES = "/api/v1/reuses/"
SPELLS = "/api/v1/memberships/"
SCENARIOS = "/api/v1/scenarios/"

CASES = [
    # Labs
    Bad(
        "negative final run",
        "user_a",
        "post",
        lambda w: LABS,
        lambda w: LAB | {"final_run_gpu_hours": -5},
        "final_run_gpu_hours",
    ),
    Bad(
        "absurd final run",
        "user_a",
        "post",
        lambda w: LABS,
        lambda w: LAB | {"final_run_gpu_hours": 10**15},
        "final_run_gpu_hours",
    ),
    Bad("R&D share of 0", "user_a", "post", lambda w: LABS, lambda w: LAB | {"rd_share": 0}, "rd_share"),
    Bad("R&D share of 1", "user_a", "post", lambda w: LABS, lambda w: LAB | {"rd_share": 1}, "rd_share"),
    Bad("R&D share as text", "user_a", "post", lambda w: LABS, lambda w: LAB | {"rd_share": "most"}, "rd_share"),
    Bad(
        "weights not summing to 1",
        "user_a",
        "post",
        lambda w: LABS,
        lambda w: LAB | {"area_weights": uneven_weights()},
        "area_weights",
    ),
    Bad(
        "weights of an unknown area",
        "user_a",
        "post",
        lambda w: LABS,
        lambda w: LAB | {"area_weights": {"alchemy": 1}},
        "area_weights",
    ),
    Bad(
        "weights as a list", "user_a", "post", lambda w: LABS, lambda w: LAB | {"area_weights": [1, 0]}, "area_weights"
    ),
    Bad(
        "negative price",
        "user_a",
        "post",
        lambda w: LABS,
        lambda w: LAB | {"price_per_gpu_hour": "-1"},
        "price_per_gpu_hour",
    ),
    Bad("openness above 1", "user_a", "post", lambda w: LABS, lambda w: LAB | {"openness": 1.5}, "openness"),
    Bad("unknown lab kind", "user_a", "post", lambda w: LABS, lambda w: LAB | {"kind": "galaxy"}, "kind"),
    Bad(
        "lab without a name",
        "user_a",
        "post",
        lambda w: LABS,
        lambda w: {k: v for k, v in LAB.items() if k != "name"},
        "name",
    ),
    Bad("duplicate lab name", "user_a", "post", lambda w: LABS, lambda w: LAB | {"name": "Lab B"}, "name"),
    Bad(
        "R&D share of 1 on edit",
        "user_a",
        "patch",
        lambda w: f"{LABS}{w.lab_a.pk}/",
        lambda w: {"rd_share": 1.0},
        "rd_share",
    ),
    # Compute ledger
    Bad(
        "negative pledge",
        "user_a",
        "post",
        lambda w: ENTRIES,
        lambda w: entry(w, gpu_hours_pledged="-100"),
        "gpu_hours_pledged",
    ),
    Bad(
        "absurd delivery",
        "user_a",
        "post",
        lambda w: ENTRIES,
        lambda w: entry(w, gpu_hours_delivered="50000000000"),
        "gpu_hours_delivered",
    ),
    Bad(
        "delivery too long to store",
        "user_a",
        "post",
        lambda w: ENTRIES,
        lambda w: entry(w, gpu_hours_delivered="1e15"),
        "gpu_hours_delivered",
    ),
    Bad(
        "zero price",
        "user_a",
        "post",
        lambda w: ENTRIES,
        lambda w: entry(w, price_per_gpu_hour="0"),
        "price_per_gpu_hour",
    ),
    Bad(
        "absurd price",
        "user_a",
        "post",
        lambda w: ENTRIES,
        lambda w: entry(w, price_per_gpu_hour="5000"),
        "price_per_gpu_hour",
    ),
    Bad("negative cash", "user_a", "post", lambda w: ENTRIES, lambda w: entry(w, cash="-5"), "cash"),
    Bad(
        "period ends before it starts",
        "user_a",
        "post",
        lambda w: ENTRIES,
        lambda w: entry(w, period_end="2026-03-01"),
        "period_end",
    ),
    Bad(
        "period start as text",
        "user_a",
        "post",
        lambda w: ENTRIES,
        lambda w: entry(w, period_start="yesterday"),
        "period_start",
    ),
    Bad(
        "hours as text",
        "user_a",
        "post",
        lambda w: ENTRIES,
        lambda w: entry(w, gpu_hours_pledged="many"),
        "gpu_hours_pledged",
    ),
    Bad(
        "hours as a list",
        "user_a",
        "post",
        lambda w: ENTRIES,
        lambda w: entry(w, gpu_hours_pledged=[1]),
        "gpu_hours_pledged",
    ),
    Bad("unknown GPU type", "user_a", "post", lambda w: ENTRIES, lambda w: entry(w, gpu_type="TPU"), "gpu_type"),
    Bad(
        "evidence link not a URL",
        "user_a",
        "post",
        lambda w: ENTRIES,
        lambda w: entry(w, evidence_url="see email"),
        "evidence_url",
    ),
    Bad(
        "no period end",
        "user_a",
        "post",
        lambda w: ENTRIES,
        lambda w: {k: v for k, v in entry(w).items() if k != "period_end"},
        "period_end",
    ),
    Bad("unknown lab", "user_a", "post", lambda w: ENTRIES, lambda w: entry(w, lab=999999), "lab"),
    Bad("lab id as text", "user_a", "post", lambda w: ENTRIES, lambda w: entry(w, lab="lab-a"), "lab"),
    Bad("invisible lab", "user_a", "post", lambda w: ENTRIES, lambda w: entry(w, lab=w.lab_d.pk), "lab"),
    Bad(
        "invisible consortium",
        "user_a",
        "post",
        lambda w: ENTRIES,
        lambda w: entry(w, consortium=w.other_consortium.pk),
        "consortium",
    ),
    Bad(
        "lab only observes the consortium",
        "user_a",
        "post",
        lambda w: ENTRIES,
        lambda w: entry(w),
        "consortium",
        observer_a,
    ),
    # Corrections
    Bad(
        "correction without reason",
        "user_a",
        "post",
        lambda w: f"{ENTRIES}{w.entry_a.pk}/correct/",
        lambda w: {"gpu_hours_delivered": "1"},
        "reason",
    ),
    Bad(
        "correction to negative hours",
        "user_a",
        "post",
        lambda w: f"{ENTRIES}{w.entry_a.pk}/correct/",
        lambda w: {"reason": "typo", "gpu_hours_delivered": "-1"},
        "gpu_hours_delivered",
    ),
    Bad(
        "correction ending before start",
        "user_a",
        "post",
        lambda w: f"{ENTRIES}{w.entry_a.pk}/correct/",
        lambda w: {"reason": "typo", "period_end": "2025-01-01"},
        "period_end",
    ),
    Bad(
        "correction moving the entry to another lab",
        "user_a",
        "post",
        lambda w: f"{ENTRIES}{w.entry_a.pk}/correct/",
        lambda w: {"reason": "typo", "lab": w.lab_b.pk},
        "lab",
    ),
    Bad(
        "correction changing nothing",
        "user_a",
        "post",
        lambda w: f"{ENTRIES}{w.entry_a.pk}/correct/",
        lambda w: {"reason": "typo", "gpu_hours_delivered": "8000"},
        "non_field_errors",
    ),
    # Artifacts and reuse
    Bad(
        "negative reproduction cost",
        "user_a",
        "post",
        lambda w: ARTIFACTS,
        lambda w: ARTIFACT | {"lab": w.lab_a.pk, "reproduction_gpu_hours": "-1"},
        "reproduction_gpu_hours",
    ),
    Bad(
        "unknown research area",
        "user_a",
        "post",
        lambda w: ARTIFACTS,
        lambda w: ARTIFACT | {"lab": w.lab_a.pk, "research_area": "astrology"},
        "research_area",
    ),
    Bad(
        "release date as text",
        "user_a",
        "post",
        lambda w: ARTIFACTS,
        lambda w: ARTIFACT | {"lab": w.lab_a.pk, "release_date": "soon"},
        "release_date",
    ),
    Bad(
        "artifact of an unknown lab", "user_a", "post", lambda w: ARTIFACTS, lambda w: ARTIFACT | {"lab": 999999}, "lab"
    ),
    Bad(
        "reuse of one's own artifact",
        "user_a",
        "post",
        lambda w: REUSES,
        lambda w: reuse(w, artifact=w.artifact_a.pk),
        "artifact",
    ),
    Bad(
        "negative GPU-hours saved",
        "user_a",
        "post",
        lambda w: REUSES,
        lambda w: reuse(w, gpu_hours_saved="-3"),
        "gpu_hours_saved",
    ),
    Bad(
        "reuse before release",
        "user_a",
        "post",
        lambda w: REUSES,
        lambda w: reuse(w, reused_on="2025-01-01"),
        "reused_on",
    ),
    Bad(
        "reuse in the future",
        "user_a",
        "post",
        lambda w: REUSES,
        lambda w: reuse(w, reused_on="2999-01-01"),
        "reused_on",
    ),
    Bad(
        "reuse of an unknown artifact",
        "user_a",
        "post",
        lambda w: REUSES,
        lambda w: reuse(w, artifact=999999),
        "artifact",
    ),
    Bad(
        "reuse of an invisible artifact",
        "user_a",
        "post",
        lambda w: REUSES,
        lambda w: reuse(w, artifact=w.artifact_d.pk),
        "artifact",
    ),
    Bad(
        "edit reuse to before release",
        "user_b",
        "patch",
        lambda w: f"{REUSES}{w.reuse_b.pk}/",
        lambda w: {"reused_on": "2025-01-01"},
        "reused_on",
    ),
    # Consortia and membership history
    Bad(
        "unknown currency",
        "user_a",
        "post",
        lambda w: "/api/v1/consortia/",
        lambda w: {"name": "E", "slug": "e", "currency": "XYZ"},
        "currency",
    ),
    Bad(
        "slug with spaces",
        "user_a",
        "post",
        lambda w: "/api/v1/consortia/",
        lambda w: {"name": "E", "slug": "not a slug"},
        "slug",
    ),
    Bad(
        "unknown status",
        "coordinator",
        "post",
        lambda w: SPELLS,
        lambda w: {"consortium": w.consortium.pk, "lab": w.lab_d.pk, "status": "boss"},
        "status",
    ),
    Bad(
        "unknown lab joins",
        "coordinator",
        "post",
        lambda w: SPELLS,
        lambda w: {"consortium": w.consortium.pk, "lab": 999999, "status": "member"},
        "lab",
    ),
    Bad(
        "member joins as member again",
        "coordinator",
        "post",
        lambda w: SPELLS,
        lambda w: {"consortium": w.consortium.pk, "lab": w.lab_a.pk, "status": "member"},
        "status",
    ),
    Bad(
        "status change before the spell began",
        "coordinator",
        "post",
        lambda w: SPELLS,
        lambda w: {"consortium": w.consortium.pk, "lab": w.lab_a.pk, "status": "observer", "joined_on": "2020-01-01"},
        "joined_on",
    ),
    Bad(
        "change to the same status",
        "coordinator",
        "post",
        lambda w: f"{SPELLS}{w.spell_a.pk}/change/",
        lambda w: {"status": "member"},
        "status",
    ),
    Bad(
        "change dated as text",
        "coordinator",
        "post",
        lambda w: f"{SPELLS}{w.spell_a.pk}/change/",
        lambda w: {"status": "observer", "on_date": "June"},
        "on_date",
    ),
    Bad(
        "leaving before joining",
        "coordinator",
        "post",
        lambda w: f"{SPELLS}{w.spell_a.pk}/end/",
        lambda w: {"on_date": "2020-01-01"},
        "on_date",
    ),
    # Scenarios
    Bad(
        "scenario with a lab outside the consortium",
        "coordinator",
        "post",
        lambda w: SCENARIOS,
        lambda w: scenario(w, labs=[w.lab_a.pk, w.lab_d.pk]),
        "labs",
    ),
    Bad(
        "scenario with one lab",
        "coordinator",
        "post",
        lambda w: SCENARIOS,
        lambda w: scenario(w, labs=[w.lab_a.pk]),
        "labs",
    ),
    Bad(
        "scenario with an unknown lab",
        "coordinator",
        "post",
        lambda w: SCENARIOS,
        lambda w: scenario(w, labs=[w.lab_a.pk, 999999]),
        "labs",
    ),
    Bad(
        "replication below 1",
        "coordinator",
        "post",
        lambda w: SCENARIOS,
        lambda w: scenario(w, parameters={"replication": 0.5}),
        "parameters",
    ),
    Bad(
        "unknown parameter",
        "coordinator",
        "post",
        lambda w: SCENARIOS,
        lambda w: scenario(w, parameters={"warp_drive": 1}),
        "parameters",
    ),
    Bad(
        "parameters as text",
        "coordinator",
        "post",
        lambda w: SCENARIOS,
        lambda w: scenario(w, parameters="fast"),
        "parameters",
    ),
    Bad(
        "parameter of the wrong type",
        "coordinator",
        "post",
        lambda w: SCENARIOS,
        lambda w: scenario(w, parameters={"growth": "3x"}),
        "parameters",
    ),
    Bad(
        "parameter with 400 digits",
        "coordinator",
        "post",
        lambda w: SCENARIOS,
        lambda w: scenario(w, parameters={"horizon_years": 10**400}),
        "parameters",
    ),
    Bad(
        "per-area parameter with 400 digits",
        "coordinator",
        "post",
        lambda w: SCENARIOS,
        lambda w: scenario(w, parameters={"shareable_fraction": [10**400] + [0.5] * 5}),
        "parameters",
    ),
    Bad(
        "unknown rule", "coordinator", "post", lambda w: SCENARIOS, lambda w: scenario(w, rules=["coin_toss"]), "rules"
    ),
    Bad("no rules", "coordinator", "post", lambda w: SCENARIOS, lambda w: scenario(w, rules=[]), "rules"),
    Bad("zero draws", "coordinator", "post", lambda w: SCENARIOS, lambda w: scenario(w, draws=0), "draws"),
    Bad("absurd draws", "coordinator", "post", lambda w: SCENARIOS, lambda w: scenario(w, draws=10**9), "draws"),
    Bad("negative seed", "coordinator", "post", lambda w: SCENARIOS, lambda w: scenario(w, seed=-1), "seed"),
    Bad(
        "duplicate scenario name",
        "coordinator",
        "post",
        lambda w: SCENARIOS,
        lambda w: scenario(w, name="All in"),
        "name",
    ),
    Bad(
        "edit scenario to a foreign lab",
        "coordinator",
        "patch",
        lambda w: f"{SCENARIOS}{w.scenario.pk}/",
        lambda w: {"labs": [w.lab_a.pk, w.lab_d.pk]},
        "labs",
    ),
]


def _snapshot() -> dict[str, list[tuple]]:
    """Every row of every ledger model, so a refused request provably changed nothing."""
    return {label: sorted(apps.get_model(label).objects.values_list()) for label in WATCHED}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_bad_input_is_rejected_naming_the_field_and_saves_nothing(case: Bad, ledger, client_as) -> None:
    """Each bad request answers 400 with the field named in `fields` and in the message; no row changes."""
    case.setup(ledger)
    before = _snapshot()
    response = getattr(client_as(case.role), case.method)(case.url(ledger), case.payload(ledger), format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["status"] == 400
    assert case.field in error["fields"], error
    if case.field != "non_field_errors":
        assert case.field in error["message"]
    assert _snapshot() == before


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("group_by=planet", "group_by"),
        ("start=tomorrow", "start"),
        ("start=2026-06-01&end=2026-01-01", "end"),
        ("consortium=999999", "consortium"),
        ("lab=abc", "lab"),
    ],
)
def test_bad_totals_query_names_the_parameter(query: str, field: str, ledger, client_as) -> None:
    """A malformed totals query answers 400 naming the query parameter."""
    response = client_as("user_a").get(f"/api/v1/contributions/totals/?{query}")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_malformed_json_is_a_400_not_a_500(ledger, client_as) -> None:
    """A body that is not JSON at all answers 400 and saves nothing."""
    before = _snapshot()
    response = client_as("user_a").generic(
        "POST", "/api/v1/contributions/", '{"lab": 1, "gpu_hours_pledged": NaN', content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    assert _snapshot() == before


def test_correcting_a_reversal_is_refused(ledger, client_as) -> None:
    """A reversal cannot itself be corrected; the error says which entry to correct instead."""
    client = client_as("user_a")
    first = client.post(
        f"/api/v1/contributions/{ledger.entry_a.pk}/correct/", {"reason": "double-logged"}, format="json"
    )
    reversal_id = first.json()["reversal"]["id"]
    before = _snapshot()
    response = client.post(f"/api/v1/contributions/{reversal_id}/correct/", {"reason": "undo"}, format="json")
    assert response.status_code == 400
    assert "reversal cannot be corrected" in response.json()["error"]["message"]
    assert _snapshot() == before


def test_correcting_twice_is_refused(ledger, client_as) -> None:
    """An entry is corrected once; a second correction must target the replacement."""
    client = client_as("user_a")
    url = f"/api/v1/contributions/{ledger.entry_a.pk}/correct/"
    assert client.post(url, {"reason": "typo", "gpu_hours_delivered": "7000"}, format="json").status_code == 201
    before = _snapshot()
    response = client.post(url, {"reason": "typo again", "gpu_hours_delivered": "6000"}, format="json")
    assert response.status_code == 400
    assert "already been corrected" in response.json()["error"]["message"]
    assert _snapshot() == before


def test_ended_spell_cannot_be_changed(ledger, client_as) -> None:
    """Only a current spell changes status; an ended one is history."""
    client = client_as("coordinator")
    assert (
        client.post(
            f"/api/v1/memberships/{ledger.spell_a.pk}/end/", {"on_date": "2026-06-01"}, format="json"
        ).status_code
        == 200
    )
    before = _snapshot()
    response = client.post(f"/api/v1/memberships/{ledger.spell_a.pk}/change/", {"status": "member"}, format="json")
    assert response.status_code == 400
    assert "ended on 2026-06-01" in response.json()["error"]["message"]
    assert _snapshot() == before


def test_artifact_with_recorded_reuse_cannot_be_deleted(ledger, client_as) -> None:
    """Deleting an artifact other labs reused answers 400 (not a 500 from the protected relation)."""
    before = _snapshot()
    response = client_as("user_a").delete(f"/api/v1/artifacts/{ledger.artifact_a.pk}/")
    assert response.status_code == 400
    assert "reuse" in response.json()["error"]["message"]
    assert _snapshot() == before


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/contributions/?start=", "start"),
        ("/api/v1/contributions/?lab=0.5", "lab"),
        ("/api/v1/contributions/?entry_type=", "entry_type"),
        ("/api/v1/memberships/?current=2", "current"),
        ("/api/v1/contributions/totals/?lab=", "lab"),
    ],
)
def test_filters_reject_empty_or_malformed_values(url: str, field: str, ledger, client_as) -> None:
    """A filter given an empty or malformed value answers 400 naming it, rather than being ignored."""
    response = client_as("user_a").get(url)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_filter_on_an_id_beyond_any_row_gives_an_empty_list(ledger, client_as) -> None:
    """An id too large for any row is simply not found (and never reaches the database)."""
    response = client_as("user_a").get("/api/v1/reuses/?artifact=9223372036854775808")
    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_form_encoded_body_answers_415(ledger, client_as) -> None:
    """The ledger resources take JSON bodies only, as the schema says."""
    before = _snapshot()
    response = client_as("user_a").post("/api/v1/labs/", {"name": "Lab X"}, format="multipart")
    assert response.status_code == 415
    assert _snapshot() == before


def test_entry_cannot_be_posted_as_a_reversal(ledger, client_as) -> None:
    """New entries are originals: a body claiming to reverse an entry is refused, not silently logged."""
    before = _snapshot()
    payload = {**ENTRY, "lab": ledger.lab_a.pk, "consortium": ledger.consortium.pk}
    response = client_as("user_a").post(
        "/api/v1/contributions/", payload | {"entry_type": "reversal", "reverses": ledger.entry_a.pk}, format="json"
    )
    assert response.status_code == 400
    assert {"entry_type", "reverses"} <= set(response.json()["error"]["fields"])
    assert _snapshot() == before


@pytest.mark.parametrize("currency", ["EUR", "GBP", "CHF"])
def test_a_consortium_in_another_currency_is_refused_naming_currency(world, client_as, currency) -> None:
    """Every figure is in US dollars and nothing converts, so no other label is accepted."""
    client = client_as("coordinator")
    founded = client.post("/api/v1/consortia/", {"name": "E", "slug": "e", "currency": currency}, format="json")
    assert founded.status_code == 400
    assert "currency" in founded.json()["error"]["fields"]
    changed = client.patch(f"/api/v1/consortia/{world.consortium.pk}/", {"currency": currency}, format="json")
    assert changed.status_code == 400
    assert "currency" in changed.json()["error"]["fields"]
    world.consortium.refresh_from_db()
    assert world.consortium.currency == "USD"
