"""Openness from the ledger on the pages: the lab page, the scenario page and editor, the results page."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from consortium.models import Scenario
from simulations import services
from simulations.tests.conftest import execute_in_process
from tests import factories as f
from tests.web.test_forms import field_error, scenario_data

pytestmark = pytest.mark.django_db

RECENT = datetime.date.today() - datetime.timedelta(days=20)


def artifacts(lab, *pairs):
    return [
        f.ArtifactFactory(lab=lab, openness=kind, reproduction_gpu_hours=Decimal(hours), release_date=RECENT)
        for kind, hours in pairs
    ]


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_lab_page_shows_assumed_beside_measured_openness_and_reuse_in_gpu_hours(world, client):
    world.lab_a.openness = 0.9
    world.lab_a.save()
    (mine,) = artifacts(world.lab_a, ("open", 3000))
    artifacts(world.lab_a, ("internal_fork", 1000))
    f.ArtifactReuseFactory(artifact=mine, reusing_lab=world.lab_b, reused_on=RECENT, gpu_hours_saved=1500)
    client.force_login(world.user_b)
    page = text(client.get(world.lab_a.get_absolute_url()).content.decode())

    assert "Openness, assumed 90 %" in page
    assert "Openness, measured 75 % from 2 artifacts ( 4,000 GPU-h to reproduce)" in page
    assert "Reuse of its work 1,500 GPU-h" in page
    assert "weights: open 1, partially open 0.5, internal fork 0" in page


def test_lab_page_says_no_evidence_not_zero_without_artifacts(world, client):
    client.force_login(world.user_a)
    page = text(client.get(world.lab_a.get_absolute_url()).content.decode())
    assert "Openness, measured no evidence no artifact released in the last 24 months" in page
    assert "Measured openness no evidence" in page
    assert "Measured openness 0 %" not in page


def test_lab_page_counts_only_reuse_by_labs_the_reader_sees(world, client):
    (mine,) = artifacts(world.lab_a, ("open", 3000))
    f.ArtifactReuseFactory(artifact=mine, reusing_lab=world.lab_d, reused_on=RECENT, gpu_hours_saved=700)
    client.force_login(world.user_b)
    assert "Reuse of its work 0 GPU-h" in text(client.get(world.lab_a.get_absolute_url()).content.decode())
    client.force_login(world.user_a)
    assert "Reuse of its work 700 GPU-h" in text(client.get(world.lab_a.get_absolute_url()).content.decode())


def test_lab_page_queries_do_not_grow_with_artifacts_and_reuse(world, client):
    client.force_login(world.user_b)
    url = world.lab_a.get_absolute_url()
    (first,) = artifacts(world.lab_a, ("open", 10))
    f.ArtifactReuseFactory(artifact=first, reusing_lab=world.lab_b, reused_on=RECENT)
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for _ in range(6):
        (more,) = artifacts(world.lab_a, ("partial", 10))
        f.ArtifactReuseFactory(artifact=more, reusing_lab=world.lab_b, reused_on=RECENT)
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(many) == len(few)


def test_scenario_page_shows_both_openness_figures_per_lab(world, client):
    artifacts(world.lab_a, ("partial", 100))
    world.scenario.openness_source = "ledger"
    world.scenario.save()
    client.force_login(world.user_b)
    page = text(client.get(world.scenario.get_absolute_url()).content.decode())

    assert "Openness: assumed and measured" in page
    assert f"Lab A {world.lab_a.openness:.0%}".replace("%", " %") in page
    assert "Lab A" in page and "50 % from the ledger" in page
    assert "no evidence from the ledger" in page  # Lab B: asked for the ledger, has none
    assert "assumed (no evidence in the ledger)" in page


def test_scenario_page_openness_queries_do_not_grow_with_labs(world, client):
    client.force_login(world.coordinator)
    url = world.scenario.get_absolute_url()
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    more = [f.LabFactory() for _ in range(4)]
    for lab in more:
        f.MembershipFactory(consortium=world.consortium, lab=lab)
        artifacts(lab, ("open", 10))
    world.scenario.labs.add(*more)
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    openness = [q["sql"] for q in many.captured_queries if "labs_artifact" in q["sql"]]
    assert len(openness) == len([q for q in few.captured_queries if "labs_artifact" in q["sql"]])


def test_editor_saves_the_openness_source_per_lab(world, client):
    client.force_login(world.coordinator)
    data = scenario_data(world, openness_source="ledger", evidence_months="6", **{f"s_{world.lab_b.pk}": "assumed"})
    response = client.post(reverse("simulations:scenario_edit", args=[world.scenario.pk]), data)

    assert response.status_code == 302, response.content.decode()[:2000]
    scenario = Scenario.objects.get(pk=world.scenario.pk)
    assert (scenario.openness_source, scenario.openness_by_lab, scenario.evidence_months) == (
        "ledger",
        {str(world.lab_b.pk): "assumed"},
        6,
    )
    page = client.get(reverse("simulations:scenario_edit", args=[world.scenario.pk])).content.decode()
    assert re.search(r'<option value="assumed" selected>[^<]*</option>', page.split(f'name="s_{world.lab_b.pk}"')[1])


@pytest.mark.parametrize(
    ("changes", "field_id", "message"),
    [
        ({"openness_source": "guess"}, "id_openness_source", "Select a valid choice"),
        ({"evidence_months": "0"}, "id_evidence_months", "greater than or equal to 1"),
        ({"evidence_months": "121"}, "id_evidence_months", "less than or equal to 120"),
        ({"s_LAB": "sometimes"}, "id_s_LAB", "Select a valid choice"),
    ],
)
def test_editor_refuses_bad_openness_input_beside_the_field_and_saves_nothing(
    world, client, changes, field_id, message
):
    client.force_login(world.coordinator)
    changes = {name.replace("LAB", str(world.lab_a.pk)): value for name, value in changes.items()}
    response = client.post(
        reverse("simulations:scenario_edit", args=[world.scenario.pk]), scenario_data(world, **changes)
    )
    assert response.status_code == 400
    html = response.content.decode()
    if field_id == "id_openness_source":  # a radio group: the error sits under the group
        assert (
            'id="id_openness_source_0" aria-invalid="true"' in html
            or 'aria-invalid="true" id="id_openness_source_0"' in html
        )
        error = re.search(r'<p class="error" id="id_openness_source_error"[^>]*>(.*?)</p>', html, re.S).group(1)
    else:
        error = field_error(html, field_id.replace("LAB", str(world.lab_a.pk)))
    assert message in error
    scenario = Scenario.objects.get(pk=world.scenario.pk)
    assert (scenario.openness_source, scenario.evidence_months, scenario.name) == ("assumed", 24, world.scenario.name)


def test_editor_refuses_a_source_for_a_lab_not_in_the_scenario(world, client):
    third = f.LabFactory(name="Lab E")
    f.MembershipFactory(consortium=world.consortium, lab=third)
    client.force_login(world.coordinator)
    response = client.post(
        reverse("simulations:scenario_edit", args=[world.scenario.pk]),
        scenario_data(world, **{f"s_{third.pk}": "ledger"}),
    )
    assert response.status_code == 400
    assert "Lab E is not in this scenario" in field_error(response.content.decode(), f"id_s_{third.pk}")
    assert Scenario.objects.get(pk=world.scenario.pk).openness_by_lab == {}


def test_editor_refuses_ledger_for_a_lab_whose_openness_is_overridden(world, client):
    client.force_login(world.coordinator)
    response = client.post(
        reverse("simulations:scenario_edit", args=[world.scenario.pk]),
        scenario_data(world, **{f"s_{world.lab_a.pk}": "ledger", f"o_{world.lab_a.pk}_openness": "0.3"}),
    )
    assert response.status_code == 400
    assert "its openness is overridden (0.3)" in response.content.decode()
    scenario = Scenario.objects.get(pk=world.scenario.pk)
    assert scenario.overrides == {} and scenario.openness_by_lab == {}


@pytest.fixture
def evidence_run(world, fake_broker):
    (theirs,) = artifacts(world.lab_b, ("open", 50000))
    f.ArtifactReuseFactory(artifact=theirs, reusing_lab=world.lab_a, reused_on=RECENT, gpu_hours_saved=365)
    run = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=20, seed=5)
    execute_in_process(run)
    return run


def test_results_page_shows_ledger_reuse_beside_the_model(world, client, evidence_run):
    client.force_login(world.user_a)
    page = client.get(evidence_run.get_absolute_url()).content.decode()
    plain = text(page)

    assert "Ledger reuse against the model" in plain
    assert re.search(r"Lab A\s*<span class=\"badge warn\">model ahead of evidence</span>", page)
    assert "365 GPU-h" in plain
    assert "the model runs ahead of the evidence" in plain
    assert "Openness this run used" in plain
    assert 'data-label="Model: commons saves it"' in page  # stacks on a phone


@pytest.mark.parametrize(("role", "status"), [("user_a", 200), ("user_b", 200), ("coordinator", 200), ("user_d", 404)])
def test_evidence_csv_follows_the_runs_readers(world, client, evidence_run, role, status):
    client.force_login(getattr(world, role))
    response = client.get(reverse("simulations:run_csv", args=[evidence_run.pk, "evidence"]))
    assert response.status_code == status
    if status == 200:
        lines = response.content.decode().splitlines()
        assert lines[0].startswith("lab,window_start,window_end,ledger_reuse_gpu_hours")
        assert lines[1].startswith("Lab A,") and ",365.0," in lines[1]


def test_evidence_csv_is_not_found_for_another_consortium_as_for_a_missing_run(world, client, evidence_run):
    client.force_login(world.other_coordinator)
    hidden = client.get(reverse("simulations:run_csv", args=[evidence_run.pk, "evidence"]))
    missing = client.get(reverse("simulations:run_csv", args=[evidence_run.pk + 1000, "evidence"]))
    assert (hidden.status_code, missing.status_code) == (404, 404)
    assert b"Lab A" not in hidden.content and b"ledger_reuse" not in hidden.content
