"""Pages for cost model v2's inputs: a lab's GPU throughput in H100-equivalents, the weighted rule's
weights in the scenario editor, and the embargo and spillover parameters."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from consortium.models import Scenario
from consortium.templatetags import ui
from labs.models import ComputeContribution
from simulations.engine import GPU_TYPES, PARAMETER_SPECS
from tests import factories as f
from tests.web.test_forms import PROFILE, VALID_CONTRIBUTION, field_error, scenario_data, weights

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("value", "shown"),
    [(2_800_000, "2.8M"), (883_316.5, "883k"), (999_999.6, "1M"), (1_080, "1.08k"), (312, "312"), (None, "\u2013")],
)
def test_compact_figures_keep_three_significant_digits(value, shown):
    assert ui.compact(value) == shown


# Labs ---------------------------------------------------------------------------------------------


def test_lab_page_shows_the_final_run_in_h100_equivalents_with_factor_and_source(world, client):
    world.lab_a.gpu_type, world.lab_a.final_run_gpu_hours = "A100", 2_800_000
    world.lab_a.save()
    client.force_login(world.user_b)
    page = client.get(world.lab_a.get_absolute_url()).content.decode()
    assert "2,800,000 GPU-h" in page
    assert "883k H100-equivalent GPU-hours" in page
    assert "counts as 0.315 H100-equivalent GPU-hours" in page
    assert GPU_TYPES["A100"].source in page


def test_lab_page_names_the_labs_own_factor_as_the_source(world, client):
    world.lab_a.gpu_type, world.lab_a.throughput_factor = "other", 1.4
    world.lab_a.save()
    client.force_login(world.user_a)
    page = client.get(world.lab_a.get_absolute_url()).content.decode()
    assert "2.8M H100-equivalent GPU-hours" in page  # 2,000,000 x 1.4
    assert "The lab&#x27;s own throughput factor." in page


def test_lab_page_totals_deliveries_in_h100_equivalents(world, client):
    f.ComputeContributionFactory(
        lab=world.lab_a, consortium=world.consortium, gpu_type="A100", gpu_hours_delivered=Decimal("9890")
    )
    client.force_login(world.user_a)
    page = client.get(world.lab_a.get_absolute_url()).content.decode()
    assert "3.12k H100-equivalent, worth $23,736" in page


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"gpu_type": "other"}, "give the lab&#x27;s throughput factor"),
        ({"gpu_type": "other", "throughput_factor": "0"}, "greater than or equal to 0.01"),
        ({"throughput_factor": "250"}, "less than or equal to 100"),
    ],
)
def test_profile_without_a_needed_or_with_an_implausible_factor_shows_the_error(world, client, changes, message):
    client.force_login(world.user_a)
    response = client.post(reverse("labs:edit", args=["lab-a"]), PROFILE | weights() | changes)
    assert response.status_code == 400
    assert message in field_error(response.content.decode(), "id_throughput_factor")
    world.lab_a.refresh_from_db()
    assert (world.lab_a.gpu_type, world.lab_a.throughput_factor) == ("H100", None)


def test_profile_saves_other_gpus_with_their_factor(world, client):
    client.force_login(world.user_a)
    response = client.post(
        reverse("labs:edit", args=["lab-a"]), PROFILE | weights() | {"gpu_type": "other", "throughput_factor": "0.6"}
    )
    assert response.status_code == 302
    world.lab_a.refresh_from_db()
    assert (world.lab_a.gpu_type, world.lab_a.throughput_factor) == ("other", 0.6)


def test_a_contribution_on_other_gpus_without_the_labs_factor_shows_the_error(world, client):
    client.force_login(world.user_a)
    data = VALID_CONTRIBUTION | {"consortium": world.consortium.pk, "gpu_type": "other"}
    response = client.post(reverse("labs:contribution_new", args=["lab-a"]), data)
    assert response.status_code == 400
    assert "set Lab A&#x27;s throughput factor" in field_error(response.content.decode(), "id_gpu_type")
    assert not ComputeContribution.objects.exists()


def test_api_refuses_other_gpus_without_a_factor_naming_the_field(world, client_as):
    client = client_as("user_a")
    url = f"/api/v1/labs/{world.lab_a.pk}/"
    response = client.patch(url, {"gpu_type": "other"}, format="json")
    assert response.status_code == 400
    assert "throughput_factor" in response.json()["error"]["fields"]
    response = client.patch(url, {"gpu_type": "other", "throughput_factor": 500}, format="json")
    assert response.status_code == 400
    assert "less than or equal to 100" in response.json()["error"]["fields"]["throughput_factor"][0]
    response = client.patch(url, {"gpu_type": "other", "throughput_factor": 0.5}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["throughput_factor"], body["h100_factor"], body["final_run_h100_gpu_hours"]) == (
        0.5,
        0.5,
        1_000_000,
    )


def test_api_registers_a_lab_with_its_factor_and_shows_delivered_h100_hours(world, client_as):
    client = client_as("user_a")
    body = {"name": "Lab N", "slug": "lab-n", "kind": "academic", "final_run_gpu_hours": 1000, "gpu_type": "other"}
    response = client.post("/api/v1/labs/", body, format="json")
    assert response.status_code == 400
    assert "throughput_factor" in response.json()["error"]["message"]
    response = client.post("/api/v1/labs/", body | {"throughput_factor": 2}, format="json")
    assert response.status_code == 201, response.content
    entry = f.ComputeContributionFactory(lab=world.lab_a, consortium=world.consortium, gpu_type="A100")
    shown = client.get(f"/api/v1/contributions/{entry.pk}/").json()
    assert shown["h100_gpu_hours_delivered"] == pytest.approx(8000 * 312 / 989)


# Scenario editor: weights -------------------------------------------------------------------------


def ids(world) -> tuple[str, str]:
    return f"w_{world.lab_a.pk}", f"w_{world.lab_b.pk}"


def test_editor_offers_a_basis_a_cap_and_one_input_per_lab_in_the_unit_of_the_basis(world, client):
    world.scenario.weight_basis = "shares"
    world.scenario.weight_values = {str(world.lab_a.pk): 70, str(world.lab_b.pk): 30}
    world.scenario.save()
    client.force_login(world.coordinator)
    page = client.get(reverse("simulations:scenario_edit", args=[world.scenario.pk])).content.decode()
    a, b = ids(world)
    assert re.search(rf'<label for="id_{a}"><span class="sr-only">Weight of </span>Lab A</label>', page)
    assert re.search(rf'name="{a}" value="70"', page) and re.search(rf'name="{b}" value="30"', page)
    assert f'<p class="hint" id="id_{a}_help">%</p>' in page
    assert '<select name="weight_basis"' in page and 'name="weight_cap"' in page
    world.scenario.weight_basis = "scale"
    world.scenario.save()
    page = client.get(reverse("simulations:scenario_edit", args=[world.scenario.pk])).content.decode()
    assert f'<p class="hint" id="id_{a}_help">number on the scale</p>' in page


def test_editor_saves_shares_of_the_chosen_labs_only(world, client):
    lab_c = f.LabFactory(name="Lab C")
    f.MembershipFactory(consortium=world.consortium, lab=lab_c)
    a, b = ids(world)
    client.force_login(world.coordinator)
    data = scenario_data(
        world, rules=["weighted", "shapley"], weight_basis="shares", **{a: "60", b: "40", f"w_{lab_c.pk}": "5"}
    )
    response = client.post(reverse("simulations:scenario_new", args=["c"]), data)
    assert response.status_code == 302
    scenario = Scenario.objects.get(name="Bigger pool")
    assert scenario.weight_basis == "shares"
    assert scenario.weight_values == {str(world.lab_a.pk): 60, str(world.lab_b.pk): 40}
    page = client.get(scenario.get_absolute_url()).content.decode()
    assert "Weighted rule: Fixed shares in percent (ITER-style), summing to 100." in page


def test_editor_saves_a_capped_scale(world, client):
    a, b = ids(world)
    client.force_login(world.coordinator)
    data = scenario_data(world, rules=["weighted"], weight_basis="scale", weight_cap="0.6", **{a: "9", b: "1"})
    assert client.post(reverse("simulations:scenario_new", args=["c"]), data).status_code == 302
    scenario = Scenario.objects.get(name="Bigger pool")
    assert (scenario.weight_values[str(world.lab_a.pk)], scenario.weight_cap) == (9, 0.6)


def test_delivered_compute_keeps_no_typed_numbers(world, client):
    a, b = ids(world)
    client.force_login(world.coordinator)
    data = scenario_data(world, rules=["weighted"], weight_basis="delivered", **{a: "9", b: "1"})
    assert client.post(reverse("simulations:scenario_new", args=["c"]), data).status_code == 302
    assert Scenario.objects.get(name="Bigger pool").weight_values == {}


def weights_error(html: str) -> str:
    error = re.search(r'<p class="error" id="id_weight_values_error"[^>]*>(.*?)</p>', html, re.S)
    assert error, "no error beside the weights"
    return error.group(1)


@pytest.mark.parametrize(
    ("basis", "a", "b", "message"),
    [
        ("shares", "60", "30", "Fixed shares must sum to 100%, they sum to 90%."),
        ("scale", "-2", "5", "Weight of Lab A: -2 is negative."),
        ("scale", "", "5", "missing: Lab A"),
        ("scale", "0", "0", "No member has a positive number on the scale"),
    ],
)
def test_bad_weights_show_the_error_beside_the_weights_and_save_nothing(world, client, basis, a, b, message):
    field_a, field_b = ids(world)
    client.force_login(world.coordinator)
    data = scenario_data(world, rules=["weighted"], weight_basis=basis, **{field_a: a, field_b: b})
    response = client.post(reverse("simulations:scenario_new", args=["c"]), data)
    assert response.status_code == 400
    assert message in weights_error(response.content.decode())
    assert not Scenario.objects.filter(name="Bigger pool").exists()


@pytest.mark.parametrize(
    ("changes", "field_id", "message"),
    [
        ({"weight_basis": "scale", "weight_cap": "0.3"}, "id_weight_cap", "raise it to at least 50%"),
        ({"weight_basis": "scale", "weight_cap": "1.5"}, "id_weight_cap", "above 0, at most 1"),
        ({"weight_basis": "delivered", "weight_cap": "0.5"}, "id_weight_cap", "A cap applies to a scale only."),
        ({"weight_basis": "gdp"}, "id_weight_basis", "valid choice"),
    ],
)
def test_a_bad_basis_or_cap_shows_the_error_beside_it(world, client, changes, field_id, message):
    a, b = ids(world)
    client.force_login(world.coordinator)
    data = scenario_data(world, rules=["weighted"], **{a: "1", b: "1"}) | changes
    response = client.post(reverse("simulations:scenario_new", args=["c"]), data)
    assert response.status_code == 400
    assert message in field_error(response.content.decode(), field_id)
    assert not Scenario.objects.filter(name="Bigger pool").exists()


def test_weights_are_not_checked_without_the_weighted_rule(world, client):
    a, b = ids(world)
    client.force_login(world.coordinator)
    data = scenario_data(world, weight_basis="shares", **{a: "10", b: "10"})
    assert client.post(reverse("simulations:scenario_new", args=["c"]), data).status_code == 302


def test_a_run_refused_for_its_weights_says_why_on_the_scenario_page(world, client, fake_broker):
    world.scenario.rules = ["weighted"]
    world.scenario.save()
    client.force_login(world.coordinator)
    response = client.post(reverse("simulations:run_start", args=[world.scenario.pk]), follow=True)
    assert "No member has delivered compute, so the weights cannot split the joint costs." in response.content.decode()


def test_api_refuses_a_weighted_run_without_deliveries_naming_the_basis(world, client_as, fake_broker):
    world.scenario.rules = ["weighted"]
    world.scenario.save()
    response = client_as("coordinator").post(f"/api/v1/scenarios/{world.scenario.pk}/runs/", {}, format="json")
    assert response.status_code == 400
    assert "No member has delivered compute" in response.json()["error"]["fields"]["weight_basis"][0]


# Scenario editor: the embargo and spillover parameters ---------------------------------------------


@pytest.mark.parametrize(
    ("name", "default", "allowed"),
    [("embargo_months", "6 months", "0 to 24 months"), ("spillover_share", "0.5 fraction", "0 to 1 fraction")],
)
def test_editor_shows_the_embargo_and_spillover_with_default_range_and_source(world, client, name, default, allowed):
    client.force_login(world.coordinator)
    page = client.get(reverse("simulations:scenario_new", args=["c"])).content.decode()
    block = page[page.index(f'id="param-{name}"') :]
    block = block[: block.index("</dl>")]
    spec = PARAMETER_SPECS[name]
    assert spec.label in block
    assert f"<dt>Default</dt><dd>{default}" in block
    assert f"<dt>Allowed</dt><dd>{allowed}</dd>" in block
    assert spec.source[:40].replace("'", "&#x27;") in block


def test_editor_saves_the_embargo_and_spillover(world, client):
    client.force_login(world.coordinator)
    data = scenario_data(world, p_embargo_months="12", p_spillover_share="0.2")
    assert client.post(reverse("simulations:scenario_new", args=["c"]), data).status_code == 302
    parameters = Scenario.objects.get(name="Bigger pool").parameters
    assert (parameters["embargo_months"], parameters["spillover_share"]) == (12, 0.2)
    response = client.post(reverse("simulations:scenario_new", args=["c"]), data | {"p_embargo_months": "30"})
    assert response.status_code == 400
    assert "between 0 to 24 months" in field_error(response.content.decode(), "id_p_embargo_months")
