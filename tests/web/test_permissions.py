"""Pages obey the same rules as the API: nobody reaches an edit page that isn't theirs (403) or sees its controls.

What a user cannot see answers 404 like what does not exist, edit pages included; 403 is only for
what the user sees but may not change.
"""

import pytest
from django.urls import reverse

from tests import factories as f

pytestmark = pytest.mark.django_db


def lab_edit_urls(lab, entry):
    return [
        reverse("labs:edit", args=[lab.slug]),
        reverse("labs:contribution_new", args=[lab.slug]),
        reverse("labs:contribution_correct", args=[lab.slug, entry.pk]),
        reverse("labs:artifact_new", args=[lab.slug]),
        reverse("labs:reuse_new", args=[lab.slug]),
    ]


@pytest.mark.parametrize("role", ["user_b", "coordinator", "staff", "user_d"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_only_a_labs_own_users_reach_its_edit_pages(world, client, role, method):
    entry = f.ComputeContributionFactory(lab=world.lab_a, consortium=world.consortium, recorded_by=world.user_a)
    client.force_login(getattr(world, role))
    for url in lab_edit_urls(world.lab_a, entry):
        response = getattr(client, method)(url, {})
        assert response.status_code == 403, url
    assert world.lab_a.contributions.count() == 1


def test_anonymous_visitors_are_sent_to_log_in(world, client):
    entry = f.ComputeContributionFactory(lab=world.lab_a, consortium=world.consortium, recorded_by=world.user_a)
    for url in [*lab_edit_urls(world.lab_a, entry), reverse("dashboard"), world.lab_a.get_absolute_url()]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_lab_user_reaches_own_edit_pages(world, client):
    entry = f.ComputeContributionFactory(lab=world.lab_a, consortium=world.consortium, recorded_by=world.user_a)
    client.force_login(world.user_a)
    for url in lab_edit_urls(world.lab_a, entry):
        assert client.get(url).status_code == 200, url


def test_edit_controls_show_only_on_the_users_own_lab(world, client):
    client.force_login(world.user_a)
    own = client.get(world.lab_a.get_absolute_url()).content.decode()
    other = client.get(world.lab_b.get_absolute_url()).content.decode()
    for url in (reverse("labs:edit", args=["lab-a"]), reverse("labs:contribution_new", args=["lab-a"])):
        assert url in own
    for url in (reverse("labs:edit", args=["lab-b"]), reverse("labs:contribution_new", args=["lab-b"])):
        assert url not in other
    assert "Edit profile" not in other


@pytest.mark.parametrize(
    ("role", "status"),
    [("coordinator", 200), ("user_a", 403), ("other_coordinator", 404), ("staff", 403)],
)
def test_only_coordinators_reach_the_scenario_editor(world, client, role, status):
    client.force_login(getattr(world, role))
    assert client.get(reverse("simulations:scenario_new", args=["c"])).status_code == status
    assert client.get(reverse("simulations:scenario_edit", args=[world.scenario.pk])).status_code == status


@pytest.mark.parametrize(("role", "status"), [("user_a", 403), ("other_coordinator", 404), ("staff", 403)])
def test_non_coordinators_cannot_start_a_run(world, client, role, status):
    client.force_login(getattr(world, role))
    response = client.post(reverse("simulations:run_start", args=[world.scenario.pk]))
    assert response.status_code == status
    assert not world.scenario.runs.exists()


def test_run_button_and_edit_link_are_for_coordinators_only(world, client):
    url = world.scenario.get_absolute_url()
    client.force_login(world.user_a)
    member_view = client.get(url).content.decode()
    client.force_login(world.coordinator)
    coordinator_view = client.get(url).content.decode()
    run_url = reverse("simulations:run_start", args=[world.scenario.pk])
    assert run_url in coordinator_view
    assert run_url not in member_view
    assert reverse("simulations:scenario_edit", args=[world.scenario.pk]) not in member_view


@pytest.mark.parametrize(
    "url",
    [
        "/consortia/c/",
        "/consortia/c/contributions.csv",
        "/labs/lab-a/",
        "/labs/lab-a/ledger.csv",
        "/simulations/consortia/c/compare/",
    ],
)
def test_outsiders_do_not_see_another_consortiums_pages(world, client, url):
    client.force_login(world.user_d)
    assert client.get(url).status_code == 404


def test_outsiders_do_not_see_scenarios_or_runs(world, client):
    from tests.browser.seed import seed_results

    run = seed_results(world.scenario)
    client.force_login(world.user_d)
    for url in (
        world.scenario.get_absolute_url(),
        run.get_absolute_url(),
        reverse("simulations:run_progress", args=[run.pk]),
        reverse("simulations:run_csv", args=[run.pk, "members"]),
        reverse("simulations:member_report", args=[run.pk, world.lab_a.pk]),
    ):
        assert client.get(url).status_code == 404, url


def test_a_lab_user_cannot_correct_another_labs_entry_through_their_own_lab(world, client):
    other = f.ComputeContributionFactory(lab=world.lab_b, consortium=world.consortium, recorded_by=world.user_b)
    client.force_login(world.user_a)
    response = client.post(
        reverse("labs:contribution_correct", args=["lab-a", other.pk]), {"reason": "x", "reverse_only": "on"}
    )
    assert response.status_code == 404
    assert not other.is_corrected


@pytest.mark.parametrize(("role", "status"), [("coordinator", 200), ("user_a", 403), ("other_coordinator", 404)])
def test_only_coordinators_change_membership(world, client, role, status):
    client.force_login(getattr(world, role))
    url = reverse("consortium:membership_change", args=["c"])
    assert client.get(url).status_code == status
    if status != 200:
        response = client.post(url, {"lab": world.lab_d.pk, "status": "member", "on_date": "2026-05-01"})
        assert response.status_code == status
        assert not world.consortium.memberships.filter(lab=world.lab_d).exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_edit_pages_of_an_unseen_consortium_answer_404_like_a_missing_one(world, client, method):
    """An outsider cannot tell an existing consortium, scenario or run from a missing one."""
    from tests.browser.seed import seed_results

    run = seed_results(world.scenario)
    client.force_login(world.user_d)
    for url, missing in (
        (reverse("simulations:scenario_new", args=["c"]), reverse("simulations:scenario_new", args=["nope"])),
        (
            reverse("simulations:scenario_edit", args=[world.scenario.pk]),
            reverse("simulations:scenario_edit", args=[999999]),
        ),
        (reverse("simulations:run_start", args=[world.scenario.pk]), reverse("simulations:run_start", args=[999999])),
        (reverse("simulations:run_cancel", args=[run.pk]), reverse("simulations:run_cancel", args=[999999])),
        (reverse("consortium:membership_change", args=["c"]), reverse("consortium:membership_change", args=["nope"])),
    ):
        if method == "get" and url.endswith(("/run/", "/cancel/")):
            continue
        assert getattr(client, method)(url).status_code == 404, url
        assert getattr(client, method)(missing).status_code == 404, missing


# Accounts, lab people and applications: every new page against every role, with the exact status.
# The world adds: D listed in the directory; `application`, lab D's pending application to C;
# `invitation`, lab A's open invitation of a colleague; a POST that succeeds redirects (302).
WEB_ROLES = ("anonymous", "user_a", "token_user", "user_b", "coordinator", "other_coordinator", "user_d", "staff")


def _people_world(world):
    import datetime

    from django.utils import timezone

    from consortium.models import Application
    from labs.models import LabInvitation

    world.other_consortium.listed = True
    world.other_consortium.save(update_fields=["listed"])
    world.application = Application.objects.create(consortium=world.consortium, lab=world.lab_d, note="Kernels.")
    world.invitation = LabInvitation.objects.create(
        lab=world.lab_a, email="colleague@lab.example", expires_at=timezone.now() + datetime.timedelta(days=7)
    )
    world.member_a = world.lab_a.memberships.get(user=world.token_user)
    return world


def _login(client, world, role):
    if role != "anonymous":
        client.force_login(getattr(world, role))


def statuses(default: int, **overrides: int) -> dict[str, int]:
    """`default` for every signed-in role, a redirect to log in (302) for anonymous, except the overrides."""
    return {role: 302 if role == "anonymous" else default for role in WEB_ROLES} | overrides


LAB_A_PEOPLE_WRITE = statuses(403, user_a=302, other_coordinator=404, user_d=404)
ANSWER_APPLICATION = statuses(404, coordinator=302, user_d=403, staff=403)
PAGES = [
    ("sign-up", "get", lambda w: reverse("signup"), statuses(302, anonymous=200)),
    ("password change", "get", lambda w: reverse("password_change"), statuses(200)),
    ("password change done", "get", lambda w: reverse("password_change_done"), statuses(200)),
    ("password reset", "get", lambda w: reverse("password_reset"), statuses(200, anonymous=200)),
    ("password reset done", "get", lambda w: reverse("password_reset_done"), statuses(200, anonymous=200)),
    ("password reset complete", "get", lambda w: reverse("password_reset_complete"), statuses(200, anonymous=200)),
    ("register a lab", "get", lambda w: reverse("labs:new"), statuses(200)),
    (
        "people of lab A",
        "get",
        lambda w: reverse("labs:people", args=["lab-a"]),
        statuses(403, user_a=200, token_user=200, other_coordinator=404, user_d=404),
    ),
    ("invite to lab A", "post", lambda w: reverse("labs:invite", args=["lab-a"]), LAB_A_PEOPLE_WRITE),
    (
        "change a role in lab A",
        "post",
        lambda w: reverse("labs:member_role", args=["lab-a", w.member_a.pk]),
        LAB_A_PEOPLE_WRITE,
    ),
    (
        "remove a user of lab A",
        "post",
        lambda w: reverse("labs:member_remove", args=["lab-a", w.member_a.pk]),
        LAB_A_PEOPLE_WRITE,
    ),
    (
        "withdraw an invitation to lab A",
        "post",
        lambda w: reverse("labs:invitation_revoke", args=["lab-a", w.invitation.pk]),
        LAB_A_PEOPLE_WRITE,
    ),
    ("consortium directory", "get", lambda w: reverse("consortium:directory"), statuses(200)),
    ("apply to listed D", "get", lambda w: reverse("consortium:apply", args=["d"]), statuses(200)),
    ("apply to unlisted C", "get", lambda w: reverse("consortium:apply", args=["c"]), statuses(404)),
    (
        "accept lab D's application to C",
        "post",
        lambda w: reverse("consortium:application_accept", args=[w.application.pk]),
        ANSWER_APPLICATION,
    ),
    (
        "decline lab D's application to C",
        "post",
        lambda w: reverse("consortium:application_decline", args=[w.application.pk]),
        ANSWER_APPLICATION,
    ),
]
POST_DATA = {"email": "new.colleague@lab.example", "role": "admin", "status": "candidate"}


@pytest.mark.parametrize("role", WEB_ROLES)
@pytest.mark.parametrize(("name", "method", "url", "expected"), PAGES, ids=[page[0] for page in PAGES])
def test_new_pages_answer_each_role_exactly(world, client, role, name, method, url, expected):
    """Each role gets exactly the stated status; a refused POST changes nothing."""
    from consortium.models import Application, Membership
    from labs.models import LabInvitation, LabMember

    _people_world(world)
    _login(client, world, role)

    def counts():
        return (
            LabMember.objects.filter(role="admin").count(),
            LabMember.objects.count(),
            LabInvitation.objects.filter(revoked_at__isnull=True).count(),
            Application.objects.filter(status="pending").count(),
            Membership.objects.count(),
        )

    before = counts()
    response = getattr(client, method)(url(world), POST_DATA if method == "post" else None)
    assert response.status_code == expected[role], (name, role)
    if response.status_code == 302 and role == "anonymous" and name != "sign-up":
        assert response["Location"].startswith(reverse("login"))
    if method == "post" and expected[role] != 302:
        assert counts() == before


@pytest.mark.parametrize(
    ("role", "status"),
    [("anonymous", 200), ("user_b", 403), ("staff", 403), ("invited", 200)],
)
def test_an_invitation_link_answers_each_visitor(world, client, role, status):
    """Anyone holding the link sees the invitation; a signed-in account with another email gets 403."""
    from labs.team import invitation_token

    _people_world(world)
    if role == "invited":
        client.force_login(f.UserFactory(username="colleague", email="colleague@lab.example"))
    else:
        _login(client, world, role)
    assert client.get(reverse("labs:invitation", args=[invitation_token(world.invitation)])).status_code == status
