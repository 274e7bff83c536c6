"""No input, however odd, makes a form page fail: it answers 400 with errors, or saves a valid row."""

import re

import pytest
from django.urls import reverse

from tests import factories as f

pytestmark = pytest.mark.django_db

JUNK = ["", "x" * 500, "-1", "1e400", "NaN", "inf", "99999999999999999999", "<script>alert(1)</script>", "0x10", "½"]


def field_names(html: str) -> list[str]:
    names = re.findall(r'<(?:input|select|textarea)[^>]*name="([^"]+)"', html)
    return sorted({name for name in names if name != "csrfmiddlewaretoken"})


@pytest.mark.parametrize("junk", JUNK)
def test_lab_forms_never_fail_on_junk(world, client, junk):
    entry = f.ComputeContributionFactory(lab=world.lab_a, consortium=world.consortium, recorded_by=world.user_a)
    client.force_login(world.user_a)
    for name in ("edit", "contribution_new", "artifact_new", "reuse_new", "contribution_correct"):
        args = ["lab-a", entry.pk] if name == "contribution_correct" else ["lab-a"]
        url = reverse(f"labs:{name}", args=args)
        fields = field_names(client.get(url).content.decode())
        response = client.post(url, dict.fromkeys(fields, junk))
        assert response.status_code in (302, 400), (name, junk, response.status_code)
        assert "<script>alert(1)</script>" not in response.content.decode()


@pytest.mark.parametrize("junk", JUNK)
def test_coordinator_forms_never_fail_on_junk(world, client, junk):
    client.force_login(world.coordinator)
    for url in (
        reverse("simulations:scenario_new", args=["c"]),
        reverse("simulations:scenario_edit", args=[world.scenario.pk]),
        reverse("consortium:membership_change", args=["c"]),
    ):
        fields = field_names(client.get(url).content.decode())
        response = client.post(url, dict.fromkeys(fields, junk))
        assert response.status_code in (302, 400), (url, junk, response.status_code)


@pytest.mark.parametrize("junk", JUNK)
def test_read_pages_never_fail_on_junk_query_strings(world, client, junk):
    from tests.browser.seed import seed_results

    run = seed_results(world.scenario)
    client.force_login(world.user_a)
    for url in (
        run.get_absolute_url() + "?rule=",
        reverse("simulations:compare", args=["c"]) + "?scenarios=",
        reverse("simulations:compare_csv", args=["c"]) + "?scenarios=",
        reverse("simulations:compare", args=["c"]) + "?runs=",
        reverse("simulations:compare_csv", args=["c"]) + "?runs=",
    ):
        response = client.get(url + junk)
        assert response.status_code in (200, 400), (url, junk, response.status_code)


@pytest.mark.parametrize(
    "url",
    [
        "/simulations/runs/99999999999999999999/",
        "/simulations/scenarios/99999999999999999999/",
        "/simulations/runs/1/report/99999999999999999999/",
        "/labs/lab-a/contributions/99999999999999999999/correct/",
        "/simulations/runs/999999999999999999/",
    ],
)
def test_huge_ids_in_urls_are_not_found(world, client, url):
    client.force_login(world.user_a)
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("junk", JUNK)
def test_the_what_if_panel_never_fails_on_junk(world, client, junk):
    """A target of each kind with a junk value, and a junk target: a message, never a 500, nothing saved."""
    from consortium.models import Scenario

    client.force_login(world.coordinator)
    url = reverse("simulations:whatif", args=[world.scenario.pk])
    save = reverse("simulations:whatif_save", args=[world.scenario.pk])
    kinds = ["replication", "horizon_years", "shared_base_model", "shareable_fraction"]
    fields = ["final_run_gpu_hours", "price_per_gpu_hour", "gpu_type", "throughput_factor"]
    targets = [f"p.{name}" for name in kinds] + [f"o.{world.lab_b.pk}.{name}" for name in fields] + [junk]
    for target in targets:
        for headers in ({"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "whatif-results"}, {}):
            response = client.get(url, {"target": target, "value": junk}, **headers)
            assert response.status_code in (200, 400), (target, junk, response.status_code)
            assert "<script>alert(1)</script>" not in response.content.decode()
        assert client.post(save, {"target": target, "value": junk}).status_code in (302, 400), (target, junk)
    assert Scenario.objects.filter(consortium=world.consortium).count() == 1
