"""Test-wide set-up: settings for tests, and the rule that CI never skips a service test."""

from __future__ import annotations

import os

import pytest

# Test settings (production-like, DEBUG off) live in tests/settings.py: pytest-django imports the
# settings module before this file runs, so environment defaults set here would come too late.


def require_service(name: str, reason: str) -> None:
    """Skip a test whose service is missing on a laptop; fail it when CI is set."""
    if os.environ.get("CI"):
        pytest.fail(f"{name} is required in CI but unavailable: {reason}")
    pytest.skip(f"{name} unavailable: {reason}")


# Shared fixtures: a small world of roles that every app's tests reuse.
# Imports of Django models happen inside the fixtures, after pytest-django has set Django up.


@pytest.fixture
def world(db):
    """A small consortium world with one user per role.

    Attributes of the returned namespace:
    - `consortium` (C) with `coordinator`; `other_consortium` (D) with `other_coordinator`.
    - `lab_a`, `lab_b`: current members of C; `user_a` (lab A admin), `user_b` (lab B member).
    - `lab_d`: a current member of D only (invisible to C's people), with `user_d`.
    - `staff`: a staff user (is_staff, not superuser).
    - `token_user`: another user of lab A, who talks to the API with `token` (a DRF Token key).
    - `scenario`: a scenario of C with labs A and B and default parameters.
    - `password`: the password of every user above.
    """
    from types import SimpleNamespace

    from rest_framework.authtoken.models import Token

    from tests import factories as f

    coordinator = f.UserFactory(username="coordinator")
    other_coordinator = f.UserFactory(username="other_coordinator")
    consortium = f.ConsortiumFactory(name="Consortium C", slug="c", coordinators=[coordinator])
    other_consortium = f.ConsortiumFactory(name="Consortium D", slug="d", coordinators=[other_coordinator])
    lab_a = f.LabFactory(name="Lab A", slug="lab-a", final_run_gpu_hours=2_000_000)
    lab_b = f.LabFactory(name="Lab B", slug="lab-b", final_run_gpu_hours=1_000_000)
    lab_d = f.LabFactory(name="Lab D", slug="lab-d")
    user_a = f.UserFactory(username="user_a")
    user_b = f.UserFactory(username="user_b")
    user_d = f.UserFactory(username="user_d")
    token_user = f.UserFactory(username="token_user")
    f.LabMemberFactory(lab=lab_a, user=user_a, role="admin")
    f.LabMemberFactory(lab=lab_a, user=token_user)
    f.LabMemberFactory(lab=lab_b, user=user_b)
    f.LabMemberFactory(lab=lab_d, user=user_d)
    f.MembershipFactory(consortium=consortium, lab=lab_a)
    f.MembershipFactory(consortium=consortium, lab=lab_b)
    f.MembershipFactory(consortium=other_consortium, lab=lab_d)
    staff = f.UserFactory(username="staff", is_staff=True)
    scenario = f.ScenarioFactory(consortium=consortium, name="All in", labs=[lab_a, lab_b])
    return SimpleNamespace(
        consortium=consortium,
        coordinator=coordinator,
        other_consortium=other_consortium,
        other_coordinator=other_coordinator,
        lab_a=lab_a,
        lab_b=lab_b,
        lab_d=lab_d,
        user_a=user_a,
        user_b=user_b,
        user_d=user_d,
        staff=staff,
        token_user=token_user,
        token=Token.objects.create(user=token_user).key,
        scenario=scenario,
        password=f.PASSWORD,
    )


@pytest.fixture
def api_client():
    """An anonymous DRF APIClient (JSON by default)."""
    from rest_framework.test import APIClient

    return APIClient()


ROLES = ("anonymous", "user_a", "user_b", "coordinator", "other_coordinator", "token", "staff")


@pytest.fixture
def client_as(world):
    """`client_as(role)` returns an APIClient for one of ROLES.

    Session roles log in with `force_login`; "token" sends `Authorization: Token <key>` for
    `world.token_user` (a lab A user); "anonymous" sends no credentials.
    """
    from rest_framework.test import APIClient

    def make(role: str) -> APIClient:
        client = APIClient()
        if role == "token":
            client.credentials(HTTP_AUTHORIZATION=f"Token {world.token}")
        elif role != "anonymous":
            client.force_login(getattr(world, role))
        return client

    return make


@pytest.fixture
def ledger(world):
    """`world` plus ledger data, returned as the same namespace with more attributes.

    - `entry_a`, `entry_b`: original entries of labs A and B in C (10,000 GPU-h pledged, 8,000
      delivered at US$2.40); `entry_d`: lab D's entry in D.
    - `artifact_a` (reused by lab B: `reuse_b`), `artifact_a_spare` (never reused), `artifact_b`,
      `artifact_d`.
    - `spell_a`, `spell_b`: the current membership spells of labs A and B in C.
    """
    from tests import factories as f

    world.entry_a = f.ComputeContributionFactory(lab=world.lab_a, consortium=world.consortium, recorded_by=world.user_a)
    world.entry_b = f.ComputeContributionFactory(lab=world.lab_b, consortium=world.consortium, recorded_by=world.user_b)
    world.entry_d = f.ComputeContributionFactory(
        lab=world.lab_d, consortium=world.other_consortium, recorded_by=world.user_d
    )
    world.artifact_a = f.ArtifactFactory(lab=world.lab_a, title="Lab A web corpus")
    world.artifact_a_spare = f.ArtifactFactory(lab=world.lab_a, title="Lab A eval harness", kind="evaluation")
    world.artifact_b = f.ArtifactFactory(lab=world.lab_b, title="Lab B RL recipe", kind="recipe")
    world.artifact_d = f.ArtifactFactory(lab=world.lab_d, title="Lab D kernels", kind="code")
    world.reuse_b = f.ArtifactReuseFactory(artifact=world.artifact_a, reusing_lab=world.lab_b, recorded_by=world.user_b)
    world.spell_a = world.consortium.memberships.get(lab=world.lab_a)
    world.spell_b = world.consortium.memberships.get(lab=world.lab_b)
    return world


@pytest.fixture
def plain_static(settings):
    """Serve static URLs without a collectstatic manifest (tests run with DEBUG off, like production)."""
    settings.STORAGES = settings.STORAGES | {
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    }
