"""The scenario editor's overrides of lab inputs, and the "overridden" marks on the pages that show them."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from consortium.models import Scenario
from simulations.engine.params import AREAS
from tests import factories as f
from tests.web.test_forms import field_error, scenario_data


def o(lab, name: str) -> str:
    return f"o_{lab.pk}_{name}"


def test_editor_offers_one_collapsed_group_per_lab_with_the_labs_own_values_as_placeholders(world, client):
    client.force_login(world.coordinator)
    page = client.get(reverse("simulations:scenario_new", args=["c"])).content.decode()

    group = rf'<details class="override-lab" id="overrides-{world.lab_a.pk}">\s*<summary>Lab A</summary>'
    assert re.search(group, page)
    assert re.search(rf'name="{o(world.lab_a, "final_run_gpu_hours")}"[^>]*placeholder="2000000"', page)
    assert f'name="{o(world.lab_b, "gpu_type")}"' in page and "Lab&#x27;s own (H100)" in page


def test_editor_saves_overrides_of_the_chosen_labs_and_shows_them_again(world, client):
    client.force_login(world.coordinator)
    areas = {o(world.lab_b, f"area_{area}"): "0" for area in AREAS} | {o(world.lab_b, "area_evaluation"): "1"}
    data = scenario_data(
        world,
        **{o(world.lab_a, "rd_share"): "0.6", o(world.lab_a, "price_per_gpu_hour"): "2.10", **areas},
        **{o(world.lab_b, "gpu_type"): "A100", o(world.lab_b, "openness"): "0.25"},
    )
    response = client.post(reverse("simulations:scenario_new", args=["c"]), data)

    assert response.status_code == 302, response.content.decode()[:3000]
    scenario = Scenario.objects.get(name="Bigger pool")
    assert scenario.overrides == {
        str(world.lab_a.pk): {"rd_share": 0.6, "price_per_gpu_hour": 2.1},
        str(world.lab_b.pk): {
            "gpu_type": "A100",
            "openness": 0.25,
            "area_weights": dict.fromkeys(AREAS, 0.0) | {"evaluation": 1.0},
        },
    }
    world.lab_a.refresh_from_db()
    assert world.lab_a.rd_share == 0.8
    page = client.get(reverse("simulations:scenario_edit", args=[scenario.pk])).content.decode()
    assert re.search(rf'<details class="override-lab" id="overrides-{world.lab_a.pk}" open>', page)
    assert re.search(rf'name="{o(world.lab_a, "rd_share")}" value="0.6"', page)
    assert '<span class="badge overridden">3 overridden</span>' in page


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("rd_share", "1", "The R&amp;D share must be strictly between 0 and 1"),
        ("openness", "1.5", "Ensure this value is less than or equal to 1.0."),
        ("final_run_gpu_hours", "0", "Ensure this value is greater than or equal to 1."),
        ("price_per_gpu_hour", "2.345", "Ensure that there are no more than 2 decimal places."),
        ("throughput_factor", "500", "Ensure this value is less than or equal to 100.0."),
        ("gpu_type", "other", "GPU type “other” has no datasheet factor"),
        ("openness", "lots", "Enter a number."),
    ],
)
def test_a_bad_override_shows_the_error_beside_its_input_and_saves_nothing(world, client, name, value, message):
    client.force_login(world.coordinator)
    response = client.post(
        reverse("simulations:scenario_edit", args=[world.scenario.pk]),
        scenario_data(world, name="All in", **{o(world.lab_a, name): value}),
    )

    assert response.status_code == 400
    target = o(world.lab_a, "throughput_factor" if name == "gpu_type" else name)
    assert message in field_error(response.content.decode(), f"id_{target}")
    world.scenario.refresh_from_db()
    assert world.scenario.overrides == {} and world.scenario.draws != 300


def test_incomplete_or_bad_area_weights_are_refused_beside_the_areas(world, client):
    client.force_login(world.coordinator)
    url = reverse("simulations:scenario_edit", args=[world.scenario.pk])
    some = scenario_data(world, name="All in", **{o(world.lab_a, "area_evaluation"): "1"})
    page = client.post(url, some).content.decode()
    assert "Give a weight for every research area (they sum to 1), or leave them all blank." in page
    bad = scenario_data(world, name="All in", **{o(world.lab_a, f"area_{area}"): "0.5" for area in AREAS})
    response = client.post(url, bad)
    assert response.status_code == 400
    assert "Research-area weights must sum to 1, they sum to 3.0000." in response.content.decode()
    world.scenario.refresh_from_db()
    assert world.scenario.overrides == {}


def test_overrides_for_a_lab_left_out_of_the_scenario_are_refused(world, client):
    lab_c = f.LabFactory(name="Lab C")
    f.MembershipFactory(consortium=world.consortium, lab=lab_c)
    client.force_login(world.coordinator)
    response = client.post(
        reverse("simulations:scenario_new", args=["c"]), scenario_data(world, **{o(lab_c, "openness"): "0.5"})
    )
    assert response.status_code == 400
    assert "Lab C is not in this scenario but has overrides: tick it above or clear its overrides." in (
        response.content.decode()
    )
    assert not Scenario.objects.filter(name="Bigger pool").exists()


def test_scenario_page_marks_the_overridden_inputs(world, client):
    world.scenario.overrides = {str(world.lab_b.pk): {"openness": 0.2, "final_run_gpu_hours": 400_000}}
    world.scenario.save()
    client.force_login(world.user_b)
    page = client.get(world.scenario.get_absolute_url()).content.decode()

    assert "Overrides of lab inputs" in page
    assert re.search(
        r'Lab B</th>\s*<td data-label="Input">Final run \(GPU-hours per year\)</td>\s*'
        r'<td class="num" data-label="Lab.s own">1,000,000 GPU-h</td>\s*'
        r'<td class="num" data-label="Used here"><strong>400,000 GPU-h</strong> <span class="badge overridden">',
        page,
    )
    assert page.count('<span class="badge overridden">overridden</span>') == 2
    assert page.count("inputs overridden</a>") == 1


def test_a_scenario_without_overrides_shows_no_overrides_section(world, client):
    client.force_login(world.user_b)
    page = client.get(world.scenario.get_absolute_url()).content.decode()
    assert "Overrides of lab inputs" not in page and "badge overridden" not in page


def test_results_and_member_report_mark_the_runs_overridden_inputs(world, client, fake_broker):
    from simulations import services
    from simulations.tests.conftest import execute_in_process

    world.scenario.overrides = {str(world.lab_a.pk): {"rd_share": 0.5}}
    world.scenario.save()
    run = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=30, seed=1)
    execute_in_process(run)
    # A later edit of the scenario does not change what the run shows.
    world.scenario.overrides = {}
    world.scenario.save()
    client.force_login(world.user_b)

    page = client.get(run.get_absolute_url()).content.decode()
    assert re.search(r'Lab A <a class="badge overridden" href="#overrides">inputs overridden</a>', page)
    assert re.search(r"R&amp;D share</td>\s*<td[^>]*>0.8</td>\s*<td[^>]*><strong>0.5</strong>", page)
    assert not re.search(r'Lab B <a class="badge overridden"', page)
    report_a = client.get(reverse("simulations:member_report", args=[run.pk, world.lab_a.pk])).content.decode()
    assert "inputs overridden</a></h1>" in report_a and "<strong>0.5</strong>" in report_a
    report_b = client.get(reverse("simulations:member_report", args=[run.pk, world.lab_b.pk])).content.decode()
    assert "badge overridden" not in report_b
