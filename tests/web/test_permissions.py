"""Pages obey the same rules as the API: nobody reaches an edit page that isn't theirs (403) or sees its controls.

What a user cannot see answers 404 like what does not exist, edit pages included; 403 is only for
what the user sees but may not change.
"""

import re

import pytest
from django.urls import reverse

from tests import factories as f

pytestmark = pytest.mark.django_db


def _without_csrf(body: bytes) -> bytes:
    """A page's body minus its CSRF tokens, which Django masks afresh on every response."""
    return re.sub(rb'(csrfmiddlewaretoken" value="|"X-CSRFToken": ")[^"]+', rb"\1", body)


def lab_edit_urls(lab, entry):
    return [
        reverse("labs:edit", args=[lab.slug]),
        reverse("labs:contribution_new", args=[lab.slug]),
        reverse("labs:contribution_correct", args=[lab.slug, entry.pk]),
        reverse("labs:artifact_new", args=[lab.slug]),
        reverse("labs:reuse_new", args=[lab.slug]),
    ]


@pytest.mark.parametrize(("role", "expected"), [("user_b", 403), ("coordinator", 403), ("staff", 403), ("user_d", 404)])
@pytest.mark.parametrize("method", ["get", "post"])
def test_only_a_labs_own_users_reach_its_edit_pages(world, client, role, expected, method):
    """Those who read lab A get 403 on its edit pages; user_d, who cannot see it, gets 404."""
    entry = f.ComputeContributionFactory(lab=world.lab_a, consortium=world.consortium, recorded_by=world.user_a)
    client.force_login(getattr(world, role))
    for url in lab_edit_urls(world.lab_a, entry):
        response = getattr(client, method)(url, {})
        assert response.status_code == expected, url
    assert world.lab_a.contributions.count() == 1


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_hidden_lab_and_a_missing_lab_answer_the_same_404_on_every_lab_page(world, client, method):
    """Status and body are identical, so a slug cannot be probed for a lab's existence."""
    entry = f.ComputeContributionFactory(lab=world.lab_a, consortium=world.consortium, recorded_by=world.user_a)
    client.force_login(world.user_d)
    ghost = f.LabFactory.build(slug="no-such-lab")
    hidden_urls = [*lab_edit_urls(world.lab_a, entry), world.lab_a.get_absolute_url()]
    missing_urls = [url.replace("/lab-a/", "/no-such-lab/") for url in hidden_urls]
    assert ghost.slug not in "".join(hidden_urls)
    for hidden, missing in zip(hidden_urls, missing_urls, strict=True):
        seen = getattr(client, method)(hidden, {})
        absent = getattr(client, method)(missing, {})
        assert (seen.status_code, absent.status_code) == (404, 404), hidden
        assert _without_csrf(seen.content) == _without_csrf(absent.content), hidden
        assert b"Lab A" not in seen.content


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


@pytest.mark.parametrize(("role", "status"), [("user_a", 403), ("other_coordinator", 404), ("staff", 403)])
def test_non_coordinators_cannot_start_a_lever_study(world, client, role, status):
    client.force_login(getattr(world, role))
    response = client.post(reverse("simulations:lever_study_start", args=[world.scenario.pk]), {"target": "0.9"})
    assert response.status_code == status
    assert not world.scenario.lever_studies.exists()


@pytest.mark.parametrize(
    ("role", "status"), [("coordinator", 200), ("user_a", 200), ("user_b", 200), ("other_coordinator", 404)]
)
def test_a_lever_studys_progress_is_for_the_consortiums_people(world, client, role, status):
    from simulations.models import LeverStudy

    study = LeverStudy.objects.create(
        scenario=world.scenario, rule="shapley", target=0.9, draws=100, inputs={}, engine_version="x"
    )
    client.force_login(getattr(world, role))
    assert client.get(reverse("simulations:lever_study_progress", args=[study.pk])).status_code == status
    assert client.get(reverse("simulations:lever_study_progress", args=[999999])).status_code == 404


def test_run_button_and_edit_link_are_for_coordinators_only(world, client):
    url = world.scenario.get_absolute_url()
    client.force_login(world.user_a)
    member_view = client.get(url).content.decode()
    client.force_login(world.coordinator)
    coordinator_view = client.get(url).content.decode()
    run_url = reverse("simulations:run_start", args=[world.scenario.pk])
    assert run_url in coordinator_view
    assert run_url not in member_view
    lever_url = reverse("simulations:lever_study_start", args=[world.scenario.pk])
    assert lever_url in coordinator_view and "Find the levers" in coordinator_view
    assert lever_url not in member_view and "No levers searched yet." in member_view
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
        (
            reverse("simulations:lever_study_start", args=[world.scenario.pk]),
            reverse("simulations:lever_study_start", args=[999999]),
        ),
        (reverse("simulations:run_cancel", args=[run.pk]), reverse("simulations:run_cancel", args=[999999])),
        (reverse("consortium:membership_change", args=["c"]), reverse("consortium:membership_change", args=["nope"])),
    ):
        if method == "get" and url.endswith(("/run/", "/cancel/", "/levers/")):
            continue
        assert getattr(client, method)(url).status_code == 404, url
        assert getattr(client, method)(missing).status_code == 404, missing


def coordinator_page_urls(world):
    return [
        reverse("consortium:charter_edit", args=["c"]),
        reverse("consortium:coordinators", args=["c"]),
        reverse("consortium:api_keys", args=["c"]),
    ]


@pytest.mark.parametrize(
    ("role", "status"),
    [("coordinator", 200), ("user_a", 403), ("user_b", 403), ("staff", 403), ("other_coordinator", 404)],
)
def test_only_coordinators_reach_the_charter_coordinators_and_api_key_pages(world, client, role, status):
    client.force_login(getattr(world, role))
    for url in coordinator_page_urls(world):
        assert client.get(url).status_code == status, url


@pytest.mark.parametrize(("role", "status"), [("user_a", 403), ("staff", 403), ("other_coordinator", 404)])
def test_non_coordinators_cannot_post_to_the_coordinator_pages(world, client, role, status):
    from reports.models import ApiKey

    key = ApiKey.new(consortium=world.consortium, name="dashboard")[0]
    key.save()
    client.force_login(getattr(world, role))
    posts = [
        (reverse("consortium:charter_edit", args=["c"]), {"name": "Taken over", "charter": "x"}),
        (reverse("consortium:coordinators", args=["c"]), {"user": getattr(world, role).username}),
        (reverse("consortium:coordinator_remove", args=["c", world.coordinator.pk]), {}),
        (reverse("consortium:api_keys", args=["c"]), {"name": "mine"}),
        (reverse("consortium:api_key_revoke", args=["c", key.pk]), {}),
        (reverse("simulations:scenario_duplicate", args=[world.scenario.pk]), {}),
        (reverse("simulations:scenario_archive", args=[world.scenario.pk]), {}),
        (reverse("simulations:scenario_unarchive", args=[world.scenario.pk]), {}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == status, url
    world.consortium.refresh_from_db()
    key.refresh_from_db()
    world.scenario.refresh_from_db()
    assert world.consortium.name == "Consortium C"
    assert list(world.consortium.coordinators.all()) == [world.coordinator]
    assert ApiKey.objects.filter(consortium=world.consortium).count() == 1
    assert key.revoked_at is None
    assert world.consortium.scenarios.count() == 1
    assert world.scenario.archived_at is None


def test_anyone_signed_in_reaches_the_found_a_consortium_page(world, client):
    for role in ("user_a", "user_d", "staff", "coordinator"):
        client.force_login(getattr(world, role))
        assert client.get(reverse("consortium:new")).status_code == 200, role


def test_anonymous_visitors_are_sent_to_log_in_from_the_coordinator_pages(world, client):
    gets = [reverse("consortium:new"), *coordinator_page_urls(world)]
    posts = [
        reverse("consortium:new"),
        reverse("consortium:coordinator_remove", args=["c", world.coordinator.pk]),
        reverse("consortium:api_key_revoke", args=["c", 1]),
        reverse("simulations:scenario_duplicate", args=[world.scenario.pk]),
        reverse("simulations:scenario_archive", args=[world.scenario.pk]),
        reverse("simulations:scenario_unarchive", args=[world.scenario.pk]),
    ]
    for method, urls in (("get", gets), ("post", posts)):
        for url in urls:
            response = getattr(client, method)(url)
            assert response.status_code == 302, url
            assert response["Location"].startswith(reverse("login")), url
    assert world.consortium.scenarios.count() == 1


@pytest.mark.parametrize(
    "url_name", ["coordinator_remove", "api_key_revoke", "scenario_duplicate", "scenario_archive", "scenario_unarchive"]
)
def test_the_new_actions_take_post_only(world, client, url_name):
    client.force_login(world.coordinator)
    if url_name.startswith("scenario"):
        url = reverse(f"simulations:{url_name}", args=[world.scenario.pk])
    elif url_name == "api_key_revoke":
        url = reverse(f"consortium:{url_name}", args=["c", 1])
    else:
        url = reverse(f"consortium:{url_name}", args=["c", world.coordinator.pk])
    assert client.get(url).status_code == 405


def test_coordinator_pages_of_an_unseen_consortium_answer_404_like_a_missing_one(world, client):
    client.force_login(world.user_d)
    for name in ("charter_edit", "coordinators", "api_keys"):
        assert client.get(reverse(f"consortium:{name}", args=["c"])).status_code == 404
        assert client.get(reverse(f"consortium:{name}", args=["nope"])).status_code == 404


def test_coordinator_links_show_for_coordinators_only(world, client):
    client.force_login(world.user_a)
    member_view = client.get(world.consortium.get_absolute_url()).content.decode()
    scenario_view = client.get(world.scenario.get_absolute_url()).content.decode()
    client.force_login(world.coordinator)
    coordinator_view = client.get(world.consortium.get_absolute_url()).content.decode()
    coordinator_scenario = client.get(world.scenario.get_absolute_url()).content.decode()
    for url in coordinator_page_urls(world):
        assert url in coordinator_view
        assert url not in member_view
    for name in ("scenario_duplicate", "scenario_archive"):
        url = reverse(f"simulations:{name}", args=[world.scenario.pk])
        assert url in coordinator_scenario
        assert url not in scenario_view


@pytest.mark.parametrize(
    ("lab_name", "status"),
    [("Lab A", 302), ("Lab D", 400), ("Lab Listed", 302), ("missing", 400)],
)
def test_the_membership_form_takes_only_labs_the_coordinator_may_pick(world, client, lab_name, status):
    """Labs of the consortium and listed labs are taken; hidden and missing labs get the same 400."""
    labs = {"Lab A": world.lab_a, "Lab D": world.lab_d, "Lab Listed": f.LabFactory(listed_in_directory=True)}
    lab_id = labs[lab_name].pk if lab_name in labs else 987654321
    client.force_login(world.coordinator)
    response = client.post(
        reverse("consortium:membership_change", args=["c"]),
        {"lab": lab_id, "status": "observer", "on_date": "2026-05-01"},
    )
    assert response.status_code == status


@pytest.mark.parametrize(
    ("path", "status"),
    [("/accounts/login/", 429), ("/admin/login/", 429)],
)
def test_a_locked_out_account_is_refused_on_both_log_in_pages_with_429(world, client, path, status):
    for _ in range(5):
        client.post("/accounts/login/", {"username": "user_a", "password": "wrong"})
    response = client.post(path, {"username": "user_a", "password": world.password})
    assert response.status_code == status
    assert "_auth_user_id" not in client.session


def test_a_locked_out_account_keeps_its_api_token_and_its_open_sessions(world, client, client_as):
    """A lockout stops password log-ins only: tokens and sessions already open go on working."""
    signed_in = client_as("user_a")
    for _ in range(5):
        client.post("/accounts/login/", {"username": "token_user", "password": "wrong"})
        client.post("/accounts/login/", {"username": "user_a", "password": "wrong"})
    assert client_as("token").get(f"/api/v1/labs/{world.lab_a.pk}/").status_code == 200
    assert signed_in.get(f"/api/v1/labs/{world.lab_a.pk}/").status_code == 200


@pytest.mark.parametrize(
    ("role", "status", "shown"),
    [
        ("user_b", 200, {"Consortium C", "Consortium D"}),
        ("user_a", 200, {"Consortium C"}),
        ("coordinator", 200, {"Consortium C"}),
        ("user_d", 200, {"Consortium D"}),
        ("other_coordinator", 200, {"Consortium D"}),
        ("staff", 200, {"Consortium C", "Consortium D"}),
    ],
)
def test_a_lab_page_lists_only_the_consortia_the_viewer_may_see(world, client, role, status, shown):
    """Lab B is in C and D: a viewer who reads it through one consortium learns nothing of the other."""
    f.MembershipFactory(consortium=world.other_consortium, lab=world.lab_b)
    client.force_login(getattr(world, role))
    response = client.get(world.lab_b.get_absolute_url())
    assert response.status_code == status
    page = response.content.decode()
    for consortium in (world.consortium, world.other_consortium):
        listed = consortium.get_absolute_url() in page or consortium.name in page
        assert listed == (consortium.name in shown), (role, consortium.name)


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
