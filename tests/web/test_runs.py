"""Starting and cancelling runs from the pages (the queue is faked; the browser tests use a real worker)."""

import pytest
from django.urls import reverse

from simulations.models import SimulationRun

pytestmark = pytest.mark.django_db(transaction=True)


def test_coordinator_starts_a_run_and_lands_on_its_live_progress_bar(world, client, fake_broker):
    client.force_login(world.coordinator)
    response = client.post(reverse("simulations:run_start", args=[world.scenario.pk]), follow=True)
    run = SimulationRun.objects.get()
    assert response.redirect_chain[-1][0] == run.get_absolute_url()
    assert run.created_by == world.coordinator
    assert fake_broker.sent
    page = response.content.decode()
    assert 'hx-trigger="every 1s"' in page
    assert "Queued: waiting for a worker" in page


def test_with_the_queue_down_the_run_waits_and_says_so(world, client, fake_broker):
    fake_broker.down = True
    client.force_login(world.coordinator)
    page = client.post(reverse("simulations:run_start", args=[world.scenario.pk]), follow=True).content.decode()
    assert SimulationRun.objects.get().status == "queued"
    assert "The job queue is unreachable" in page


def test_a_scenario_without_labs_cannot_run_and_the_page_says_why(world, client, fake_broker):
    world.scenario.labs.clear()
    client.force_login(world.coordinator)
    page = client.post(reverse("simulations:run_start", args=[world.scenario.pk]), follow=True).content.decode()
    assert not SimulationRun.objects.exists()
    assert "no labs" in page


def test_coordinator_cancels_a_queued_run(world, client, fake_broker):
    client.force_login(world.coordinator)
    client.post(reverse("simulations:run_start", args=[world.scenario.pk]))
    run = SimulationRun.objects.get()
    client.force_login(world.user_a)
    assert client.post(reverse("simulations:run_cancel", args=[run.pk])).status_code == 403
    client.force_login(world.coordinator)
    client.post(reverse("simulations:run_cancel", args=[run.pk]))
    run.refresh_from_db()
    assert run.status == "cancelled"
    assert "hx-trigger" not in client.get(reverse("simulations:run_progress", args=[run.pk])).content.decode()


def test_scenario_page_shows_the_progress_of_a_run_in_flight(world, client, fake_broker):
    client.force_login(world.coordinator)
    client.post(reverse("simulations:run_start", args=[world.scenario.pk]))
    page = client.get(world.scenario.get_absolute_url()).content.decode()
    assert "Run in progress" in page
    assert 'id="run-progress"' in page
