"""The scenario page's levers card: start a study, follow its progress, read the findings as sentences."""

from __future__ import annotations

import pytest
from django.urls import reverse

from simulations import tasks
from simulations.models import LeverStudy

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def few_draws(settings):
    settings.LEVER_STUDY_DRAWS = 30


def test_coordinator_finds_the_levers_and_reads_them_as_sentences_naming_labs(
    world, client, fake_broker, django_capture_on_commit_callbacks
):
    client.force_login(world.coordinator)
    start = reverse("simulations:lever_study_start", args=[world.scenario.pk])
    with django_capture_on_commit_callbacks(execute=True):
        card = client.post(start, {"target": "0.85"}, **HTMX)
    assert card.status_code == 200
    study = LeverStudy.objects.get()
    assert fake_broker.sent == [("run_lever_study", (study.pk,))]
    body = card.content.decode()
    assert 'id="lever-study"' in body and "Queued: waiting for a worker" in body
    assert reverse("simulations:lever_study_progress", args=[study.pk]) in body  # polls itself
    assert "Find the levers" not in body  # no second start while one runs

    tasks.run_lever_study.run(study.pk)
    done = client.get(reverse("simulations:lever_study_progress", args=[study.pk])).content.decode()
    study.refresh_from_db()
    assert 'hx-trigger="every 1s"' not in done
    assert 'in at least <span class="nowrap">85 %</span> of 30 draws' in done
    for sentence in study.sentences:
        assert sentence.replace("'", "&#x27;") in done
    assert "Lab A and Lab B" in done and "Find the levers again" in done
    page = client.get(world.scenario.get_absolute_url()).content.decode()
    assert study.sentences[0].replace("'", "&#x27;") in page


@pytest.mark.parametrize(("target", "message"), [("0.3", "greater than or equal to 0.5"), ("abc", "Enter a number")])
def test_a_target_out_of_range_shows_beside_the_field_and_starts_nothing(world, client, fake_broker, target, message):
    client.force_login(world.coordinator)
    card = client.post(reverse("simulations:lever_study_start", args=[world.scenario.pk]), {"target": target}, **HTMX)
    assert card.status_code == 200
    body = card.content.decode()
    assert message in body and 'id="id_target_error"' in body
    assert not LeverStudy.objects.exists()


def test_without_htmx_the_start_redirects_to_the_card_with_a_message(world, client, fake_broker, settings):
    settings.CONSORTIUM_MAX_ACTIVE_RUNS = 1
    client.force_login(world.coordinator)
    url = reverse("simulations:lever_study_start", args=[world.scenario.pk])
    first = client.post(url, {"target": "0.9"})
    assert first.status_code == 302 and first["Location"].endswith("#levers")
    refused = client.post(url, {"target": "0.9"}, follow=True)
    assert "1 lever studies queued or running" in refused.content.decode()
    assert LeverStudy.objects.count() == 1


def test_a_failed_study_shows_its_reason_and_the_form_again(world, client):
    LeverStudy.objects.create(
        scenario=world.scenario,
        rule="shapley",
        target=0.9,
        draws=100,
        inputs={},
        engine_version="x",
        status="failed",
        error="The lever study failed: RuntimeError: disk full",
    )
    client.force_login(world.coordinator)
    page = client.get(world.scenario.get_absolute_url()).content.decode()
    assert "RuntimeError: disk full" in page and "Find the levers again" in page


def test_an_archived_scenario_offers_no_lever_search_and_says_why(world, client):
    world.scenario.archived_at = world.scenario.created_at
    world.scenario.save()
    client.force_login(world.coordinator)
    page = client.get(world.scenario.get_absolute_url()).content.decode()
    assert "unarchive it to search for its levers" in page
    assert reverse("simulations:lever_study_start", args=[world.scenario.pk]) not in page
