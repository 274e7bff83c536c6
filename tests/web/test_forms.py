"""Forms show errors beside the field (aria-invalid, aria-describedby), answer 400 and save nothing."""

import re

import pytest
from django.urls import reverse

from consortium.models import Membership, Scenario
from labs.models import Artifact, ArtifactReuse, ComputeContribution
from tests import factories as f

pytestmark = pytest.mark.django_db

VALID_CONTRIBUTION = {
    "period_start": "2026-01-01",
    "period_end": "2026-03-31",
    "gpu_type": "H100",
    "gpu_hours_pledged": "10000",
    "gpu_hours_delivered": "8000",
    "price_per_gpu_hour": "2.40",
    "cash": "0",
    "evidence_url": "",
    "evidence_note": "",
}


def field_error(html: str, field_id: str) -> str:
    """The error beside input `field_id` (or checkbox group `<id>_group`), marked invalid and pointing at it."""
    tag = re.search(rf'<[^>]+id="{field_id}"[^>]*>', html)
    assert tag, f"no input {field_id}"
    assert 'aria-invalid="true"' in tag.group(0)
    base = field_id.removesuffix("_group")
    assert f"{base}_error" in tag.group(0)
    error = re.search(rf'<p class="error" id="{base}_error"[^>]*>(.*?)</p>', html, re.S)
    assert error, f"no error beside {field_id}"
    return error.group(1)


@pytest.mark.parametrize(
    ("changes", "field_id", "message"),
    [
        ({"period_end": "2025-12-01"}, "id_period_end", "end on or after"),
        ({"gpu_hours_delivered": "-5"}, "id_gpu_hours_delivered", "cannot be negative"),
        ({"price_per_gpu_hour": ""}, "id_price_per_gpu_hour", "required"),
        ({"price_per_gpu_hour": "0"}, "id_price_per_gpu_hour", "above $0"),
        ({"period_start": "not a date"}, "id_period_start", "valid date"),
        ({"evidence_url": "not a link"}, "id_evidence_url", "valid URL"),
    ],
)
def test_bad_contribution_shows_the_error_beside_the_field_and_saves_nothing(world, client, changes, field_id, message):
    client.force_login(world.user_a)
    data = VALID_CONTRIBUTION | {"consortium": world.consortium.pk} | changes
    response = client.post(reverse("labs:contribution_new", args=["lab-a"]), data)
    assert response.status_code == 400
    assert message in field_error(response.content.decode(), field_id)
    assert not ComputeContribution.objects.exists()


def test_a_lab_cannot_log_compute_to_a_consortium_it_is_not_in(world, client):
    client.force_login(world.user_a)
    data = VALID_CONTRIBUTION | {"consortium": world.other_consortium.pk}
    response = client.post(reverse("labs:contribution_new", args=["lab-a"]), data)
    assert response.status_code == 400
    assert "valid choice" in field_error(response.content.decode(), "id_consortium")
    assert not ComputeContribution.objects.exists()


def test_logging_then_correcting_keeps_both_entries_in_the_ledger(world, client):
    client.force_login(world.user_a)
    response = client.post(
        reverse("labs:contribution_new", args=["lab-a"]), VALID_CONTRIBUTION | {"consortium": world.consortium.pk}
    )
    assert response.status_code == 302
    original = ComputeContribution.objects.get()
    assert original.recorded_by == world.user_a

    correction = VALID_CONTRIBUTION | {"gpu_hours_delivered": "9500", "reason": "Late invoice"}
    response = client.post(reverse("labs:contribution_correct", args=["lab-a", original.pk]), correction)
    assert response.status_code == 302
    assert ComputeContribution.objects.count() == 3

    page = client.get(world.lab_a.get_absolute_url()).content.decode()
    assert f"Reversal of #{original.pk}" in page
    assert f"Replaces #{original.pk}" in page
    assert "Late invoice" in page
    assert "9,500 GPU-h" in page
    # The original and its reversal net out; the total is the replacement alone.
    assert re.search(r"Totals.*?10,000 GPU-h.*?9,500 GPU-h", page, re.S)


def test_reverse_only_cancels_an_entry_without_a_replacement(world, client):
    entry = f.ComputeContributionFactory(lab=world.lab_a, consortium=world.consortium, recorded_by=world.user_a)
    client.force_login(world.user_a)
    response = client.post(
        reverse("labs:contribution_correct", args=["lab-a", entry.pk]), {"reason": "Duplicate", "reverse_only": "on"}
    )
    assert response.status_code == 302
    assert list(ComputeContribution.objects.values_list("entry_type", flat=True).order_by("id")) == [
        "original",
        "reversal",
    ]


@pytest.mark.parametrize(
    ("changes", "field_id", "message"),
    [
        ({"reason": ""}, "id_reason", "required"),
        ({"gpu_hours_pledged": "-1"}, "id_gpu_hours_pledged", "cannot be negative"),
    ],
)
def test_a_bad_correction_shows_the_error_and_records_nothing(world, client, changes, field_id, message):
    entry = f.ComputeContributionFactory(lab=world.lab_a, consortium=world.consortium, recorded_by=world.user_a)
    client.force_login(world.user_a)
    data = VALID_CONTRIBUTION | {"gpu_hours_delivered": "9000", "reason": "Fix"} | changes
    response = client.post(reverse("labs:contribution_correct", args=["lab-a", entry.pk]), data)
    assert response.status_code == 400
    assert message in field_error(response.content.decode(), field_id)
    assert ComputeContribution.objects.count() == 1


def test_a_correction_that_changes_nothing_is_refused(world, client):
    entry = f.ComputeContributionFactory(
        lab=world.lab_a,
        consortium=world.consortium,
        recorded_by=world.user_a,
        gpu_hours_pledged=10000,
        gpu_hours_delivered=8000,
    )
    client.force_login(world.user_a)
    response = client.post(
        reverse("labs:contribution_correct", args=["lab-a", entry.pk]), VALID_CONTRIBUTION | {"reason": "Same"}
    )
    assert response.status_code == 400
    assert "Nothing changed" in response.content.decode()
    assert ComputeContribution.objects.count() == 1


def test_an_entry_already_corrected_offers_no_second_correction(world, client):
    entry = f.ComputeContributionFactory(lab=world.lab_a, consortium=world.consortium, recorded_by=world.user_a)
    f.ComputeContributionFactory(
        lab=world.lab_a,
        consortium=world.consortium,
        recorded_by=world.user_a,
        entry_type="reversal",
        reverses=entry,
        gpu_hours_pledged=-10000,
        gpu_hours_delivered=-8000,
    )
    client.force_login(world.user_a)
    response = client.get(reverse("labs:contribution_correct", args=["lab-a", entry.pk]))
    assert response.status_code == 302
    assert ComputeContribution.objects.count() == 2


def weights(**overrides):
    base = {
        "weight_pretraining_data": "0.3",
        "weight_architecture_scaling": "0.2",
        "weight_post_training_rl": "0.2",
        "weight_evaluation": "0.1",
        "weight_infrastructure_kernels": "0.1",
        "weight_safety": "0.1",
    }
    return base | overrides


PROFILE = {
    "name": "Lab A",
    "kind": "open_weight",
    "country": "France",
    "website": "https://lab-a.example.org",
    "description": "",
    "gpu_type": "H100",
    "price_per_gpu_hour": "2.40",
    "final_run_gpu_hours": "2000000",
    "rd_share": "0.8",
    "openness": "0.9",
}


@pytest.mark.parametrize(
    ("changes", "field_id", "message"),
    [
        (weights(weight_safety="0.5"), "id_weight_pretraining_data", "must sum to 1"),
        ({"rd_share": "1.5"}, "id_rd_share", "strictly between 0 and 1"),
        ({"openness": "2"}, "id_openness", "less than or equal to 1"),
        ({"final_run_gpu_hours": "0"}, "id_final_run_gpu_hours", "greater than or equal to 1"),
    ],
)
def test_bad_profile_shows_the_error_and_keeps_the_lab(world, client, changes, field_id, message):
    client.force_login(world.user_a)
    response = client.post(reverse("labs:edit", args=["lab-a"]), PROFILE | weights() | changes)
    assert response.status_code == 400
    assert message in field_error(response.content.decode(), field_id)
    world.lab_a.refresh_from_db()
    assert world.lab_a.openness == 1.0


def test_profile_saves_with_weights_summing_to_one(world, client):
    client.force_login(world.user_a)
    response = client.post(reverse("labs:edit", args=["lab-a"]), PROFILE | weights())
    assert response.status_code == 302
    world.lab_a.refresh_from_db()
    assert world.lab_a.openness == 0.9
    assert world.lab_a.area_weights["pretraining_data"] == 0.3
    assert abs(sum(world.lab_a.area_weights.values()) - 1) < 1e-9


def test_artifact_and_reuse_forms_save_through_the_services(world, client):
    client.force_login(world.user_b)
    response = client.post(
        reverse("labs:artifact_new", args=["lab-b"]),
        {
            "title": "Eval harness",
            "kind": "evaluation",
            "research_area": "evaluation",
            "url": "https://example.org/harness",
            "licence": "MIT",
            "openness": "open",
            "reproduction_gpu_hours": "1200",
            "release_date": "2026-02-02",
        },
    )
    assert response.status_code == 302
    artifact = Artifact.objects.get(title="Eval harness")
    assert artifact.created_by == world.user_b

    client.force_login(world.user_a)
    response = client.post(
        reverse("labs:reuse_new", args=["lab-a"]),
        {"artifact": artifact.pk, "reused_on": "2026-03-01", "gpu_hours_saved": "800", "note": ""},
    )
    assert response.status_code == 302
    assert ArtifactReuse.objects.get().reusing_lab == world.lab_a
    assert "800 GPU-h" in client.get(world.lab_b.get_absolute_url()).content.decode()


def test_a_lab_cannot_log_reuse_of_its_own_artifact(world, client):
    own = f.ArtifactFactory(lab=world.lab_a)
    client.force_login(world.user_a)
    response = client.post(
        reverse("labs:reuse_new", args=["lab-a"]),
        {"artifact": own.pk, "reused_on": "2026-03-01", "gpu_hours_saved": "800"},
    )
    assert response.status_code == 400
    assert "valid choice" in field_error(response.content.decode(), "id_artifact")
    assert not ArtifactReuse.objects.exists()


def scenario_data(world, **changes):
    from simulations.engine.params import AREAS, PARAMETER_SPECS

    data = {
        "name": "Bigger pool",
        "description": "",
        "labs": [world.lab_a.pk, world.lab_b.pk],
        "rules": ["shapley", "proportional"],
        "weight_basis": "delivered",
        "draws": "300",
        "seed": "11",
    }
    for name, spec in PARAMETER_SPECS.items():
        if spec.kind == "area":
            data[f"p_{name}"] = str(spec.default[0])
            for area in AREAS:
                data[f"p_{name}__{area}"] = str(spec.default[0])
        elif spec.kind == "bool":
            if spec.default:
                data[f"p_{name}"] = "on"
        else:
            data[f"p_{name}"] = str(spec.default)
    return data | changes


@pytest.mark.parametrize(
    ("changes", "field_id", "message"),
    [
        ({"p_replication": "9"}, "id_p_replication", "between 1 to 3"),
        ({"p_discount_rate": "-0.1"}, "id_p_discount_rate", "between 0 to 0.5"),
        ({"p_horizon_years": "2.5"}, "id_p_horizon_years", "whole number"),
        ({"p_shareable_fraction": ""}, "id_p_shareable_fraction", "applies to every research area"),
        (
            {"p_shareable_fraction__per_area": "on", "p_shareable_fraction__safety": "1.7"},
            "id_p_shareable_fraction__safety",
            "between 0 to 1",
        ),
        ({"labs": []}, "id_labs_group", "required"),
        ({"rules": []}, "id_rules_group", "required"),
        ({"draws": "0"}, "id_draws", "greater than or equal to 1"),
        ({"name": "All in"}, "id_name", "already"),
    ],
)
def test_bad_scenario_shows_the_error_beside_the_parameter_and_saves_nothing(world, client, changes, field_id, message):
    client.force_login(world.coordinator)
    response = client.post(reverse("simulations:scenario_new", args=["c"]), scenario_data(world, **changes))
    assert response.status_code == 400
    assert message in field_error(response.content.decode(), field_id)
    assert Scenario.objects.count() == 1


def test_scenario_editor_shows_default_range_and_source_of_each_parameter(world, client):
    from simulations.engine.params import PARAMETER_SPECS

    client.force_login(world.coordinator)
    page = client.get(reverse("simulations:scenario_new", args=["c"])).content.decode()
    for spec in PARAMETER_SPECS.values():
        block = page[page.index(f'id="param-{spec.name}"') :]
        block = block[: block.index('<div class="param"') if '<div class="param"' in block else len(block)]
        assert "Default" in block and "Allowed" in block
        assert spec.source.split(";")[0][:30].replace("&", "&amp;").replace("'", "&#x27;") in block


def test_scenario_saves_per_area_values_and_rules_in_order(world, client):
    client.force_login(world.coordinator)
    data = scenario_data(
        world,
        p_shareable_fraction__per_area="on",
        p_shareable_fraction__safety="0.9",
        rules=["proportional", "shapley"],
    )
    response = client.post(reverse("simulations:scenario_new", args=["c"]), data)
    assert response.status_code == 302
    scenario = Scenario.objects.get(name="Bigger pool")
    assert scenario.parameters["shareable_fraction"][-1] == 0.9
    assert set(scenario.rules) == {"proportional", "shapley"}
    assert set(scenario.labs.all()) == {world.lab_a, world.lab_b}
    assert scenario.created_by == world.coordinator


def test_editing_a_scenario_updates_it(world, client):
    client.force_login(world.coordinator)
    data = scenario_data(world, name="All in", p_replication="1.5", labs=[world.lab_a.pk, world.lab_b.pk])
    response = client.post(reverse("simulations:scenario_edit", args=[world.scenario.pk]), data)
    assert response.status_code == 302
    world.scenario.refresh_from_db()
    assert world.scenario.parameters["replication"] == 1.5


def test_coordinator_invites_a_lab_it_accepts_on_the_dashboard_and_records_a_departure(world, client):
    world.lab_d.listed_in_directory = True
    world.lab_d.save()
    client.force_login(world.coordinator)
    url = reverse("consortium:membership_change", args=["c"])
    response = client.post(url, {"lab": world.lab_d.pk, "status": "candidate", "on_date": "2026-05-01"})
    assert response.status_code == 302
    invitation = world.consortium.memberships.invitations().get(lab=world.lab_d)
    assert not world.consortium.memberships.current().filter(lab=world.lab_d).exists()
    # Lab D's user sees the invitation with a CSRF-protected form to accept it.
    client.force_login(world.user_d)
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert "Consortium C" in dashboard
    assert reverse("consortium:invitation_accept", args=[invitation.pk]) in dashboard
    assert "csrfmiddlewaretoken" in dashboard
    assert client.post(reverse("consortium:invitation_accept", args=[invitation.pk])).status_code == 302
    assert world.consortium.memberships.current().get(lab=world.lab_d).status == "candidate"
    client.force_login(world.coordinator)
    response = client.post(url, {"lab": world.lab_b.pk, "status": "left", "on_date": "2026-06-30"})
    assert response.status_code == 302
    assert not world.consortium.memberships.current().filter(lab=world.lab_b).exists()
    history = client.get(url).content.decode()
    assert "30 Jun 2026" in history


@pytest.mark.parametrize(
    ("data", "field_id", "message"),
    [
        ({"status": "member", "on_date": "2026-05-01"}, "id_status", "already a member"),
        ({"status": "candidate", "on_date": "2025-01-01"}, "id_on_date", "cannot come before"),
        ({"status": "candidate", "on_date": ""}, "id_on_date", "required"),
    ],
)
def test_a_bad_membership_change_shows_the_error_and_changes_nothing(world, client, data, field_id, message):
    client.force_login(world.coordinator)
    url = reverse("consortium:membership_change", args=["c"])
    response = client.post(url, {"lab": world.lab_a.pk} | data)
    assert response.status_code == 400
    assert message in field_error(response.content.decode(), field_id)
    assert world.consortium.memberships.get(lab=world.lab_a).status == "member"


@pytest.mark.parametrize(
    ("today", "start", "end"),
    [
        ("2026-01-01", "2026-01-01", "2026-03-31"),
        ("2026-05-17", "2026-04-01", "2026-06-30"),
        ("2026-09-30", "2026-07-01", "2026-09-30"),
        ("2026-12-31", "2026-10-01", "2026-12-31"),
    ],
)
def test_a_new_contribution_defaults_to_the_current_quarter(today, start, end):
    import datetime

    from labs.forms import _current_quarter

    day = datetime.date.fromisoformat(today)
    assert _current_quarter(day) == (datetime.date.fromisoformat(start), datetime.date.fromisoformat(end))


def test_a_lab_user_declines_an_invitation_on_the_dashboard(world, client):
    invitation = Membership.objects.create(
        consortium=world.consortium, lab=world.lab_d, status="invited", joined_on="2026-05-01"
    )
    client.force_login(world.user_d)
    assert client.post(reverse("consortium:invitation_decline", args=[invitation.pk])).status_code == 302
    invitation.refresh_from_db()
    assert invitation.left_on is not None
    assert not world.consortium.memberships.filter(lab=world.lab_d, left_on__isnull=True).exists()
    assert (
        reverse("consortium:invitation_accept", args=[invitation.pk])
        not in client.get(reverse("dashboard")).content.decode()
    )


@pytest.mark.parametrize(
    ("role", "status"), [("coordinator", 403), ("user_a", 403), ("other_coordinator", 404), ("staff", 403)]
)
def test_only_the_invited_labs_users_answer_an_invitation_on_the_web(world, client, role, status):
    invitation = Membership.objects.create(
        consortium=world.consortium, lab=world.lab_d, status="invited", joined_on="2026-05-01"
    )
    client.force_login(getattr(world, role))
    assert client.post(reverse("consortium:invitation_accept", args=[invitation.pk])).status_code == status
    invitation.refresh_from_db()
    assert invitation.left_on is None
