"""Per-consortium caps on run starts: runs queued or running at once (429) and draws x labs per run
(400), on the API and on the scenario page, and race-safe when many starts arrive together."""

from __future__ import annotations

import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.urls import reverse

from conftest import require_service
from consortium.models import Scenario
from simulations import services
from simulations.models import SimulationRun
from tests import factories as f


def _start(client, scenario, **body):
    return client.post(f"/api/v1/scenarios/{scenario.pk}/runs/", body, format="json")


def test_a_start_beyond_the_active_runs_cap_is_a_429_naming_the_limit(world, client_as, settings, fake_broker) -> None:
    settings.CONSORTIUM_MAX_ACTIVE_RUNS = 2
    client = client_as("coordinator")
    assert _start(client, world.scenario).status_code == 202
    assert _start(client, world.scenario, draws=10).status_code == 202
    started = time.perf_counter()
    response = _start(client, world.scenario)
    assert time.perf_counter() - started < 1.0
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["status"] == 429
    assert error["code"] == "too_many_active_runs"
    assert "already has 2 runs queued or running" in error["message"]
    assert "CONSORTIUM_MAX_ACTIVE_RUNS" in error["message"]
    assert SimulationRun.objects.count() == 2


def test_finished_runs_and_other_consortia_do_not_count_against_the_cap(
    world, client_as, settings, fake_broker
) -> None:
    settings.CONSORTIUM_MAX_ACTIVE_RUNS = 1
    client = client_as("coordinator")
    first = _start(client, world.scenario).json()
    assert _start(client, world.scenario).status_code == 429
    # Another consortium's active runs are its own business.
    other = f.ScenarioFactory(consortium=world.other_consortium, name="Theirs", labs=[world.lab_d])
    SimulationRun.objects.create(scenario=other, inputs={}, seed=1, draws=10, chunks_total=1)
    assert client.post(f"/api/v1/runs/{first['id']}/cancel/").status_code == 200
    assert _start(client, world.scenario).status_code == 202
    SimulationRun.objects.filter(status="queued").update(status="succeeded")
    assert _start(client, world.scenario).status_code == 202


def test_draws_times_labs_over_the_cap_is_a_400_naming_the_limit(world, client_as, settings, fake_broker) -> None:
    settings.RUN_MAX_DRAW_LABS = 1000
    Scenario.objects.filter(pk=world.scenario.pk).update(draws=1000)
    client = client_as("coordinator")
    response = _start(client, world.scenario, draws=501)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["fields"]["draws"] == [
        "501 draws x 2 labs = 1002 is more than one run may compute, 1000 (RUN_MAX_DRAW_LABS); "
        "use at most 500 draws for 2 labs."
    ]
    assert _start(client, world.scenario, draws=500).status_code == 202
    # Without an override the scenario's own draws (1000 x 2 labs) count.
    assert "draws" in _start(client, world.scenario).json()["error"]["fields"]
    assert SimulationRun.objects.count() == 1


def test_the_scenario_page_says_why_a_start_beyond_the_caps_was_refused(
    world, client, settings, fake_broker, plain_static
) -> None:
    settings.CONSORTIUM_MAX_ACTIVE_RUNS = 1
    client.force_login(world.coordinator)
    url = reverse("simulations:run_start", args=[world.scenario.pk])
    client.post(url)
    response = client.post(url, follow=True)
    assert response.redirect_chain[-1][0] == world.scenario.get_absolute_url()
    assert "already has 1 runs queued or running" in response.content.decode()
    assert SimulationRun.objects.count() == 1
    settings.CONSORTIUM_MAX_ACTIVE_RUNS = 5
    settings.RUN_MAX_DRAW_LABS = 100
    page = client.post(url, follow=True).content.decode()
    assert "200 draws x 2 labs = 400 is more than one run may compute, 100 (RUN_MAX_DRAW_LABS)" in page
    assert SimulationRun.objects.count() == 1


def test_the_defaults_are_documented_values() -> None:
    from django.conf import settings

    assert settings.CONSORTIUM_MAX_ACTIVE_RUNS == 5
    assert settings.RUN_MAX_DRAW_LABS == 500_000
    with pytest.raises(ValidationError):
        services._check_run_size(draws=25_001, labs=20)
    services._check_run_size(draws=25_000, labs=20)
    services._check_run_size(draws=100_000, labs=5)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_starts_accept_exactly_the_cap(settings, fake_broker) -> None:
    """The consortium's row lock makes each start count the runs committed before it."""
    if connection.vendor != "postgresql":
        require_service("postgresql", "row locks need PostgreSQL (set DATABASE_URL)")
    settings.CONSORTIUM_MAX_ACTIVE_RUNS = 5
    coordinator = f.UserFactory(username="racer")
    consortium = f.ConsortiumFactory(name="Race", slug="race", coordinators=[coordinator])
    labs = [f.LabFactory(name=f"Racing {i}", slug=f"racing-{i}") for i in range(2)]
    for lab in labs:
        f.MembershipFactory(consortium=consortium, lab=lab)
    scenario = f.ScenarioFactory(consortium=consortium, name="Race", labs=labs, draws=100)
    barrier = threading.Barrier(20)
    outcomes: list[str] = []

    def start() -> None:
        try:
            barrier.wait()
            services.run_create(scenario=scenario, started_by=coordinator)
            outcomes.append("accepted")
        except services.ActiveRunLimitError:
            outcomes.append("refused")
        except Exception as exc:
            outcomes.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=start) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["accepted"] * 5 + ["refused"] * 15
    assert SimulationRun.objects.filter(scenario=scenario).count() == 5
