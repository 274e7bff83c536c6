"""Permission matrix of the ledger resources: every role against every endpoint and method.

Roles (conftest `world`): anonymous; user_a (lab A, in consortium C); user_b (lab B, in C);
coordinator (of C); other_coordinator (of D, which has lab D only); token (a lab A user calling with
an API token); staff. Outcomes: 401 without credentials; 404 for what a role cannot see; 403 for
what it sees but may not change; 405 for what nobody may do over the API (ledger entries and
membership spells are never changed or deleted, labs and consortia never deleted).
A refused write leaves the database exactly as it was.

The matrix adds objects to `ledger`: `invitation_a`, D's open invitation to lab A, which lab
A's users (user_a, token) answer, D's coordinator sees but may not answer, and which shows lab A
to nobody in D; `archived_scenario`, an archived scenario of C, still read by C's people and
refused a new run (409) even to its coordinator; `custom_game`, a custom game of C; `lab_listed`
(Lab L), in no consortium but listed in the directory, which any coordinator may invite; `lab_hidden`
(Lab H), in D only, which C's coordinator may not pick;
`application_d`, lab D's pending application to C (D is listed in the directory), which C's
coordinator answers; `lab_invitation_a`, user_a's (lab A's admin) invitation of a colleague to lab
A; `lab_invitation_b_for_a`, lab B's invitation of user_a's email address.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps

from conftest import ROLES

LAB_PAYLOAD = {
    "name": "Lab New",
    "slug": "lab-new",
    "kind": "academic",
    "final_run_gpu_hours": 500000,
    "rd_share": 0.8,
}
ENTRY_PAYLOAD = {
    "period_start": "2026-04-01",
    "period_end": "2026-06-30",
    "gpu_type": "H100",
    "gpu_hours_pledged": "5000",
    "gpu_hours_delivered": "4000",
    "price_per_gpu_hour": "2.40",
}
ARTIFACT_PAYLOAD = {
    "kind": "dataset",
    "title": "New corpus",
    "research_area": "pretraining_data",
    "reproduction_gpu_hours": "1000",
    "release_date": "2026-05-01",
}
LAB_PUT = {**LAB_PAYLOAD, "name": "Lab A renamed", "slug": "lab-a"}
ARTIFACT_PUT = {**ARTIFACT_PAYLOAD, "title": "Lab A corpus v2"}
REUSE_PUT = {"reused_on": "2026-04-01", "gpu_hours_saved": "123", "note": "updated"}
CONSORTIUM_PUT = {"name": "Consortium C", "slug": "c", "charter": "Amended", "currency": "USD"}


def every(code: int, **overrides: int) -> dict[str, int]:
    """`code` for every signed-in role, 401 for anonymous, except the roles overridden."""
    return {role: 401 if role == "anonymous" else code for role in ROLES} | overrides


# Who may see an object of consortium C (or of labs A and B): everyone but D's coordinator.
SEE_C = every(200, other_coordinator=404)
# Lab A's own users change lab A's data; others in C see it (403); D's coordinator does not (404).
LAB_A_WRITE = every(403, user_a=200, token=200, other_coordinator=404)
# Coordinators of C change C's data.
COORDINATOR_WRITE = every(403, coordinator=200, other_coordinator=404)
IMMUTABLE = every(405)


@pytest.fixture
def ledger(ledger):
    from django.utils import timezone

    from consortium.models import Membership
    from tests import factories as f

    ledger.invitation_a = Membership.objects.create(
        consortium=ledger.other_consortium, lab=ledger.lab_a, status="invited", joined_on="2026-01-01"
    )
    ledger.archived_scenario = f.ScenarioFactory(
        consortium=ledger.consortium, name="Retired", labs=[ledger.lab_a, ledger.lab_b], archived_at=timezone.now()
    )
    ledger.custom_game = f.ScenarioFactory(
        consortium=ledger.consortium,
        name="Negotiated table",
        labs=[],
        kind="table",
        rules=["shapley"],
        game={"players": ["A", "B"], "coalitions": {"A": 1.0, "B": 1.0, "A+B": 1.5}},
    )

    ledger.lab_listed = f.LabFactory(name="Lab L", slug="lab-l", listed_in_directory=True)
    # In D only, never applied to C and not listed: hidden from C's coordinator.
    ledger.lab_hidden = f.LabFactory(name="Lab H", slug="lab-h")
    f.MembershipFactory(consortium=ledger.other_consortium, lab=ledger.lab_hidden)
    from consortium.models import Application
    from labs.models import LabInvitation

    ledger.other_consortium.listed = True
    ledger.other_consortium.save(update_fields=["listed"])
    ledger.application_d = Application.objects.create(
        consortium=ledger.consortium, lab=ledger.lab_d, note="We bring kernels."
    )
    in_a_week = timezone.now() + timezone.timedelta(days=7)
    ledger.lab_invitation_a = LabInvitation.objects.create(
        lab=ledger.lab_a, email="colleague@example.org", invited_by=ledger.user_a, expires_at=in_a_week
    )
    ledger.lab_invitation_b_for_a = LabInvitation.objects.create(
        lab=ledger.lab_b, email=ledger.user_a.email, invited_by=ledger.user_b, expires_at=in_a_week
    )
    from simulations.models import LeverStudy

    ledger.lever_study = LeverStudy.objects.create(
        scenario=ledger.scenario, rule="shapley", target=0.9, draws=100, inputs={}, engine_version="2.1.0"
    )
    return ledger


GAME_TABLE = "coalition,cost\nLab A,6\nLab B,6\nLab A+Lab B,9\n"

# Lab A's users answer D's invitation; D's coordinator and staff see it (403); others do not (404).
ANSWER_INVITATION_A = every(404, other_coordinator=403, staff=403)

# The docs page links static files; tests have no collectstatic manifest (test_schema_api builds one).
pytestmark = pytest.mark.usefixtures("plain_static")


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    url: Callable[[Any], str]
    expected: dict[str, int]
    payload: Callable[[Any], dict[str, Any]] = field(default=lambda w: {})
    # Models whose row count must not change when the request is refused.
    watched: tuple[str, ...] = ()


CASES = [
    # Labs
    Case("labs list", "get", lambda w: "/api/v1/labs/", every(200)),
    Case("lab A", "get", lambda w: f"/api/v1/labs/{w.lab_a.pk}/", SEE_C),
    Case("lab D", "get", lambda w: f"/api/v1/labs/{w.lab_d.pk}/", every(404, other_coordinator=200, staff=200)),
    Case("create lab", "post", lambda w: "/api/v1/labs/", every(201), lambda w: LAB_PAYLOAD, ("labs.Lab",)),
    Case("patch lab A", "patch", lambda w: f"/api/v1/labs/{w.lab_a.pk}/", LAB_A_WRITE, lambda w: {"country": "Peru"}),
    Case("put lab A", "put", lambda w: f"/api/v1/labs/{w.lab_a.pk}/", LAB_A_WRITE, lambda w: LAB_PUT),
    Case("delete lab A", "delete", lambda w: f"/api/v1/labs/{w.lab_a.pk}/", IMMUTABLE, watched=("labs.Lab",)),
    # Compute ledger
    Case("contributions list", "get", lambda w: "/api/v1/contributions/", every(200)),
    Case("entry of lab A", "get", lambda w: f"/api/v1/contributions/{w.entry_a.pk}/", SEE_C),
    Case(
        "log entry for lab A in C",
        "post",
        lambda w: "/api/v1/contributions/",
        every(403, user_a=201, token=201, other_coordinator=400),
        lambda w: {**ENTRY_PAYLOAD, "lab": w.lab_a.pk, "consortium": w.consortium.pk},
        ("labs.ComputeContribution",),
    ),
    Case(
        "put entry",
        "put",
        lambda w: f"/api/v1/contributions/{w.entry_a.pk}/",
        IMMUTABLE,
        lambda w: {**ENTRY_PAYLOAD, "lab": w.lab_a.pk, "consortium": w.consortium.pk},
        ("labs.ComputeContribution",),
    ),
    Case(
        "patch entry",
        "patch",
        lambda w: f"/api/v1/contributions/{w.entry_a.pk}/",
        IMMUTABLE,
        lambda w: {"gpu_hours_delivered": "1"},
        ("labs.ComputeContribution",),
    ),
    Case(
        "delete entry",
        "delete",
        lambda w: f"/api/v1/contributions/{w.entry_a.pk}/",
        IMMUTABLE,
        watched=("labs.ComputeContribution",),
    ),
    Case(
        "correct entry of lab A",
        "post",
        lambda w: f"/api/v1/contributions/{w.entry_a.pk}/correct/",
        every(403, user_a=201, token=201, other_coordinator=404),
        lambda w: {"reason": "Delivered figure was a typo", "gpu_hours_delivered": "9000"},
        ("labs.ComputeContribution",),
    ),
    Case("ledger totals", "get", lambda w: "/api/v1/contributions/totals/", every(200)),
    # Artifacts
    Case("artifacts list", "get", lambda w: "/api/v1/artifacts/", every(200)),
    Case("artifact of lab A", "get", lambda w: f"/api/v1/artifacts/{w.artifact_a.pk}/", SEE_C),
    Case(
        "publish artifact of lab A",
        "post",
        lambda w: "/api/v1/artifacts/",
        every(403, user_a=201, token=201, other_coordinator=400),
        lambda w: {**ARTIFACT_PAYLOAD, "lab": w.lab_a.pk},
        ("labs.Artifact",),
    ),
    Case(
        "patch artifact of lab A",
        "patch",
        lambda w: f"/api/v1/artifacts/{w.artifact_a.pk}/",
        LAB_A_WRITE,
        lambda w: {"licence": "CC-BY-4.0"},
    ),
    Case(
        "put artifact of lab A",
        "put",
        lambda w: f"/api/v1/artifacts/{w.artifact_a.pk}/",
        LAB_A_WRITE,
        lambda w: ARTIFACT_PUT,
    ),
    Case(
        "delete unreused artifact of lab A",
        "delete",
        lambda w: f"/api/v1/artifacts/{w.artifact_a_spare.pk}/",
        every(403, user_a=204, token=204, other_coordinator=404),
        watched=("labs.Artifact",),
    ),
    # Artifact reuse (reuse_b: lab B reused lab A's artifact; lab B's users change it)
    Case("reuses list", "get", lambda w: "/api/v1/reuses/", every(200)),
    Case("reuse by lab B", "get", lambda w: f"/api/v1/reuses/{w.reuse_b.pk}/", SEE_C),
    Case(
        "log reuse by lab A of lab B's artifact",
        "post",
        lambda w: "/api/v1/reuses/",
        every(403, user_a=201, token=201, other_coordinator=400),
        lambda w: {
            "artifact": w.artifact_b.pk,
            "reusing_lab": w.lab_a.pk,
            "reused_on": "2026-04-01",
            "gpu_hours_saved": "500",
        },
        ("labs.ArtifactReuse",),
    ),
    Case(
        "patch reuse by lab B",
        "patch",
        lambda w: f"/api/v1/reuses/{w.reuse_b.pk}/",
        every(403, user_b=200, other_coordinator=404),
        lambda w: {"note": "saved a full ablation sweep"},
    ),
    Case(
        "put reuse by lab B",
        "put",
        lambda w: f"/api/v1/reuses/{w.reuse_b.pk}/",
        every(403, user_b=200, other_coordinator=404),
        lambda w: REUSE_PUT,
    ),
    Case(
        "delete reuse by lab B",
        "delete",
        lambda w: f"/api/v1/reuses/{w.reuse_b.pk}/",
        every(403, user_b=204, other_coordinator=404),
        watched=("labs.ArtifactReuse",),
    ),
    # Consortia
    Case("consortia list", "get", lambda w: "/api/v1/consortia/", every(200)),
    Case("consortium C", "get", lambda w: f"/api/v1/consortia/{w.consortium.pk}/", SEE_C),
    Case("consortium directory", "get", lambda w: "/api/v1/consortia/directory/", every(200)),
    Case(
        "found consortium",
        "post",
        lambda w: "/api/v1/consortia/",
        every(201),
        lambda w: {"name": "Consortium E", "slug": "e"},
        ("consortium.Consortium",),
    ),
    Case(
        "patch consortium C",
        "patch",
        lambda w: f"/api/v1/consortia/{w.consortium.pk}/",
        COORDINATOR_WRITE,
        lambda w: {"charter": "Pool and share."},
    ),
    Case(
        "put consortium C",
        "put",
        lambda w: f"/api/v1/consortia/{w.consortium.pk}/",
        COORDINATOR_WRITE,
        lambda w: CONSORTIUM_PUT,
    ),
    Case(
        "delete consortium C",
        "delete",
        lambda w: f"/api/v1/consortia/{w.consortium.pk}/",
        IMMUTABLE,
        watched=("consortium.Consortium",),
    ),
    # Membership history
    Case("memberships list", "get", lambda w: "/api/v1/memberships/", every(200)),
    Case("spell of lab A in C", "get", lambda w: f"/api/v1/memberships/{w.spell_a.pk}/", SEE_C),
    # C's coordinator may invite a lab listed in the directory; a hidden lab (D, unlisted, never in
    # C) and a lab that does not exist get the same 400 on `lab`.
    Case(
        "listed lab L joins C as candidate",
        "post",
        lambda w: "/api/v1/memberships/",
        every(403, coordinator=201, other_coordinator=400),
        lambda w: {"consortium": w.consortium.pk, "lab": w.lab_listed.pk, "status": "candidate"},
        ("consortium.Membership",),
    ),
    Case(
        "hidden lab H joins C as candidate",
        "post",
        lambda w: "/api/v1/memberships/",
        every(403, coordinator=400, other_coordinator=400),
        lambda w: {
            "consortium": w.consortium.pk,
            "lab": w.lab_hidden.pk,
            "status": "candidate",
            "joined_on": "2026-06-01",
        },
        ("consortium.Membership",),
    ),
    Case(
        "lab D, which applied to C, joins C as candidate",
        "post",
        lambda w: "/api/v1/memberships/",
        every(403, coordinator=201, other_coordinator=400),
        lambda w: {"consortium": w.consortium.pk, "lab": w.lab_d.pk, "status": "candidate", "joined_on": "2026-06-01"},
        ("consortium.Membership",),
    ),
    Case(
        "missing lab joins C as candidate",
        "post",
        lambda w: "/api/v1/memberships/",
        every(403, coordinator=400, other_coordinator=400),
        lambda w: {"consortium": w.consortium.pk, "lab": 987654321, "status": "candidate"},
        ("consortium.Membership",),
    ),
    Case(
        "lab A becomes candidate",
        "post",
        lambda w: f"/api/v1/memberships/{w.spell_a.pk}/change/",
        every(403, coordinator=201, other_coordinator=404),
        lambda w: {"status": "candidate", "on_date": "2026-06-01"},
        ("consortium.Membership",),
    ),
    Case(
        "lab A leaves",
        "post",
        lambda w: f"/api/v1/memberships/{w.spell_a.pk}/end/",
        COORDINATOR_WRITE,
        lambda w: {"on_date": "2026-06-01"},
    ),
    Case(
        "lab A accepts D's invitation",
        "post",
        lambda w: f"/api/v1/memberships/{w.invitation_a.pk}/accept/",
        ANSWER_INVITATION_A | {"user_a": 201, "token": 201},
        watched=("consortium.Membership",),
    ),
    Case(
        "lab A declines D's invitation",
        "post",
        lambda w: f"/api/v1/memberships/{w.invitation_a.pk}/decline/",
        ANSWER_INVITATION_A | {"user_a": 200, "token": 200},
        watched=("consortium.Membership",),
    ),
    Case(
        "put spell",
        "put",
        lambda w: f"/api/v1/memberships/{w.spell_a.pk}/",
        IMMUTABLE,
        lambda w: {"status": "observer"},
        ("consortium.Membership",),
    ),
    Case(
        "patch spell",
        "patch",
        lambda w: f"/api/v1/memberships/{w.spell_a.pk}/",
        IMMUTABLE,
        lambda w: {"status": "observer"},
        ("consortium.Membership",),
    ),
    Case(
        "delete spell",
        "delete",
        lambda w: f"/api/v1/memberships/{w.spell_a.pk}/",
        IMMUTABLE,
        watched=("consortium.Membership",),
    ),
    # Scenarios
    Case("scenarios list", "get", lambda w: "/api/v1/scenarios/", every(200)),
    Case("scenario of C", "get", lambda w: f"/api/v1/scenarios/{w.scenario.pk}/", SEE_C),
    Case(
        "create scenario in C",
        "post",
        lambda w: "/api/v1/scenarios/",
        every(403, coordinator=201, other_coordinator=400),
        lambda w: {"consortium": w.consortium.pk, "name": "Candidates too", "labs": [w.lab_a.pk, w.lab_b.pk]},
        ("consortium.Scenario",),
    ),
    Case(
        "patch scenario of C",
        "patch",
        lambda w: f"/api/v1/scenarios/{w.scenario.pk}/",
        COORDINATOR_WRITE,
        lambda w: {"description": "Both labs, default parameters"},
    ),
    Case(
        "put scenario of C",
        "put",
        lambda w: f"/api/v1/scenarios/{w.scenario.pk}/",
        COORDINATOR_WRITE,
        lambda w: {"name": "All in (v2)", "labs": [w.lab_a.pk, w.lab_b.pk], "rules": ["shapley"]},
    ),
    Case(
        "delete scenario of C",
        "delete",
        lambda w: f"/api/v1/scenarios/{w.scenario.pk}/",
        every(403, coordinator=204, other_coordinator=404),
        watched=("consortium.Scenario",),
    ),
    Case("scenarios list with archived ones", "get", lambda w: "/api/v1/scenarios/?archived=true", every(200)),
    Case("archived scenario of C", "get", lambda w: f"/api/v1/scenarios/{w.archived_scenario.pk}/", SEE_C),
    Case(
        "duplicate scenario of C",
        "post",
        lambda w: f"/api/v1/scenarios/{w.scenario.pk}/duplicate/",
        every(403, coordinator=201, other_coordinator=404),
        watched=("consortium.Scenario",),
    ),
    Case("archive scenario of C", "post", lambda w: f"/api/v1/scenarios/{w.scenario.pk}/archive/", COORDINATOR_WRITE),
    Case(
        "unarchive scenario of C",
        "post",
        lambda w: f"/api/v1/scenarios/{w.archived_scenario.pk}/unarchive/",
        COORDINATOR_WRITE,
    ),
    Case(
        "start a run of the archived scenario",
        "post",
        lambda w: f"/api/v1/scenarios/{w.archived_scenario.pk}/runs/",
        every(403, coordinator=409, other_coordinator=404),
        watched=("simulations.SimulationRun",),
    ),
    # Lever studies (simulations.api.levers)
    Case("lever studies of C's scenario", "get", lambda w: f"/api/v1/scenarios/{w.scenario.pk}/levers/", SEE_C),
    Case(
        "start a lever study of C's scenario",
        "post",
        lambda w: f"/api/v1/scenarios/{w.scenario.pk}/levers/",
        every(403, coordinator=202, other_coordinator=404),
        lambda w: {"target": 0.8},
        ("simulations.LeverStudy",),
    ),
    Case(
        "start a lever study of the archived scenario",
        "post",
        lambda w: f"/api/v1/scenarios/{w.archived_scenario.pk}/levers/",
        every(403, coordinator=409, other_coordinator=404),
        watched=("simulations.LeverStudy",),
    ),
    Case("lever study of C", "get", lambda w: f"/api/v1/levers/{w.lever_study.pk}/", SEE_C),
    # Membership advisor (simulations.api.advisor): coordinators only, custom games refused
    Case(
        "advisor of C's scenario",
        "get",
        lambda w: f"/api/v1/scenarios/{w.scenario.pk}/advisor/",
        every(403, coordinator=200, other_coordinator=404),
    ),
    Case(
        "advisor of C's custom game",
        "get",
        lambda w: f"/api/v1/scenarios/{w.custom_game.pk}/advisor/",
        every(403, coordinator=409, other_coordinator=404),
    ),
    # Custom games
    Case(
        "create custom game in C",
        "post",
        lambda w: "/api/v1/games/",
        every(403, coordinator=201, other_coordinator=400),
        lambda w: {
            "consortium": w.consortium.pk,
            "name": "Deal",
            "kind": "table",
            "game": GAME_TABLE,
            "rules": ["nucleolus"],
        },
        ("consortium.Scenario",),
    ),
    Case(
        "replace custom game of C",
        "put",
        lambda w: f"/api/v1/games/{w.custom_game.pk}/",
        COORDINATOR_WRITE,
        lambda w: {"name": "Negotiated table", "game": GAME_TABLE, "rules": ["shapley"]},
    ),
    Case("custom game of C as a scenario", "get", lambda w: f"/api/v1/scenarios/{w.custom_game.pk}/", SEE_C),
    # Applications to join a consortium
    Case("applications list", "get", lambda w: "/api/v1/applications/", every(200)),
    Case(
        "application of lab D to C",
        "get",
        lambda w: f"/api/v1/applications/{w.application_d.pk}/",
        every(404, coordinator=200, staff=200),
    ),
    Case(
        "lab B applies to D",
        "post",
        lambda w: "/api/v1/applications/",
        every(403, user_b=201, other_coordinator=400),
        lambda w: {"consortium": w.other_consortium.pk, "lab": w.lab_b.pk, "note": "We bring an RL recipe."},
        ("consortium.Application",),
    ),
    Case(
        "accept application of lab D",
        "post",
        lambda w: f"/api/v1/applications/{w.application_d.pk}/accept/",
        every(404, coordinator=200, staff=403),
        lambda w: {"status": "candidate"},
        ("consortium.Membership",),
    ),
    Case(
        "decline application of lab D",
        "post",
        lambda w: f"/api/v1/applications/{w.application_d.pk}/decline/",
        every(404, coordinator=200, staff=403),
    ),
    # Lab invitations
    Case("lab invitations list", "get", lambda w: "/api/v1/lab-invitations/", every(200)),
    Case(
        "invitation to lab A",
        "get",
        lambda w: f"/api/v1/lab-invitations/{w.lab_invitation_a.pk}/",
        every(404, user_a=200, token=200, staff=200),
    ),
    Case(
        "invite a colleague to lab A",
        "post",
        lambda w: "/api/v1/lab-invitations/",
        every(403, user_a=201, other_coordinator=400),
        lambda w: {"lab": w.lab_a.pk, "email": "new.colleague@example.org", "role": "member"},
        ("labs.LabInvitation",),
    ),
    Case(
        "withdraw invitation to lab A",
        "post",
        lambda w: f"/api/v1/lab-invitations/{w.lab_invitation_a.pk}/revoke/",
        every(404, user_a=200, token=403, staff=403),
    ),
    Case(
        "accept lab B's invitation of user_a's email",
        "post",
        lambda w: "/api/v1/lab-invitations/accept/",
        every(400, user_a=201),
        lambda w: {"token": _token(w.lab_invitation_b_for_a)},
        ("labs.LabMember",),
    ),
    # Schema and interactive docs
    Case("OpenAPI schema", "get", lambda w: "/api/schema/", every(200)),
    Case("API docs", "get", lambda w: "/api/docs/", every(200)),
]


def _token(invitation: Any) -> str:
    from labs.team import invitation_token

    return invitation_token(invitation)


def _counts(models: tuple[str, ...]) -> dict[str, int]:
    return {label: apps.get_model(label).objects.count() for label in models}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_role_gets_exactly_the_expected_status(case: Case, role: str, ledger, client_as) -> None:
    """Each role gets exactly the status the matrix states, and a refused write changes nothing."""
    client = client_as(role)
    before = _counts(case.watched)
    kwargs = {"data": case.payload(ledger), "format": "json"} if case.method in ("post", "put", "patch") else {}
    response = getattr(client, case.method)(case.url(ledger), **kwargs)
    expected = case.expected[role]
    assert response.status_code == expected, (case.name, role, response.content[:500])
    if expected >= 400:
        assert _counts(case.watched) == before
        if response.get("Content-Type", "").startswith("application/json"):
            assert response.json()["error"]["status"] == expected
    if expected == 401:
        assert response["WWW-Authenticate"].startswith("Token")


def test_matrix_covers_every_route_and_method_of_the_ledger_resources() -> None:
    """No ledger endpoint or method escapes the matrix: adding one without a case fails here."""
    from consortium.api.urls import urlpatterns as consortium_patterns
    from labs.api.urls import urlpatterns as lab_patterns

    routes = {
        (method, _normalise(str(pattern.pattern)))
        for pattern in [*lab_patterns, *consortium_patterns]
        if "format" not in str(pattern.pattern)
        for method in _methods(pattern.callback)
        # DRF answers HEAD like GET (and adds it to `actions` once a request has been served).
        if method != "head"
    }
    covered = {(case.method, case.url(_AnyObject()).removeprefix("/api/v1/")) for case in CASES}
    assert routes <= covered, sorted(routes - covered)


def test_matrix_covers_the_advisor() -> None:
    from simulations.api.urls import urlpatterns

    routes = {
        (method, _normalise(str(pattern.pattern)))
        for pattern in urlpatterns
        if "advisor" in pattern.name
        for method in _methods(pattern.callback)
    }
    covered = {(case.method, case.url(_AnyObject()).removeprefix("/api/v1/")) for case in CASES}
    assert len(routes) == 1 and routes <= covered, sorted(routes - covered)


def test_matrix_covers_every_route_and_method_of_the_lever_studies() -> None:
    from simulations.api.urls import urlpatterns

    routes = {
        (method, _normalise(str(pattern.pattern)))
        for pattern in urlpatterns
        if "lever" in pattern.name
        for method in _methods(pattern.callback)
    }
    covered = {(case.method, case.url(_AnyObject()).removeprefix("/api/v1/")) for case in CASES}
    assert len(routes) == 3 and routes <= covered, sorted(routes - covered)


def _methods(callback: Any) -> list[str]:
    """A viewset's routed actions, or the HTTP methods a plain APIView implements."""
    if hasattr(callback, "actions"):
        return list(callback.actions)
    view = callback.view_class
    return [m for m in view.http_method_names if m not in ("options", "head") and hasattr(view, m)]


class _AnyObject:
    """Stands for the world: every attribute is an object whose pk is the route placeholder."""

    def __getattr__(self, name: str) -> SimpleNamespace:
        return SimpleNamespace(pk="{pk}")


def _normalise(route: str) -> str:
    route = re.sub(r"\(\?P<pk>[^)]*\)", "{pk}", route).replace("<int:pk>", "{pk}")
    return route.removeprefix("^").removesuffix("$")
