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
