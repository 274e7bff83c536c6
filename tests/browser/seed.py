"""A small, realistic world for the browser tests and screenshots: labs, a consortium, ledger, artifacts, reuse.

Results rows are written directly for `seed_results` so pages can be shown without running the engine;
the end-to-end test runs a real simulation on a real worker instead.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from types import SimpleNamespace

from tests import factories as f

AREA_MIX = {
    "pretraining_data": 0.3,
    "architecture_scaling": 0.2,
    "post_training_rl": 0.2,
    "evaluation": 0.1,
    "infrastructure_kernels": 0.15,
    "safety": 0.05,
}


def seed_world() -> SimpleNamespace:
    coordinator = f.UserFactory(username="coord", first_name="Clara", last_name="Coordinator")
    consortium = f.ConsortiumFactory(
        name="Open Frontier Consortium",
        slug="open-frontier",
        charter="Pool research compute across open labs; share data, tools and recipes.",
        coordinators=[coordinator],
    )
    specs = [
        ("Aurora AI", "aurora", 2_788_000, "France"),
        ("Borealis Lab", "borealis", 1_200_000, "Germany"),
        ("Cirrus Research", "cirrus", 600_000, "Canada"),
    ]
    labs = []
    for name, slug, final, country in specs:
        lab = f.LabFactory(name=name, slug=slug, final_run_gpu_hours=final, country=country, area_weights=AREA_MIX)
        f.MembershipFactory(consortium=consortium, lab=lab)
        labs.append(lab)
    candidate = f.LabFactory(name="Delta Institute", slug="delta", final_run_gpu_hours=300_000, kind="academic")
    f.MembershipFactory(consortium=consortium, lab=candidate, status="candidate")
    outsider = f.LabFactory(name="Echo Systems", slug="echo", final_run_gpu_hours=900_000)
    alice = f.UserFactory(username="alice", first_name="Alice")
    bob = f.UserFactory(username="bob")
    f.LabMemberFactory(lab=labs[0], user=alice, role="admin")
    f.LabMemberFactory(lab=labs[1], user=bob)
    for quarter, (pledged, delivered) in enumerate([(40_000, 36_000), (45_000, 41_000), (50_000, 30_000)]):
        start = datetime.date(2026, 1 + 3 * quarter, 1)
        end = start + datetime.timedelta(days=89)
        for lab, scale in zip(labs, (1.0, 0.6, 0.3), strict=True):
            f.ComputeContributionFactory(
                lab=lab,
                consortium=consortium,
                period_start=start,
                period_end=end,
                gpu_hours_pledged=Decimal(int(pledged * scale)),
                gpu_hours_delivered=Decimal(int(delivered * scale)),
                recorded_by=coordinator,
            )
    dataset = f.ArtifactFactory(lab=labs[0], title="Aurora web corpus v2", kind="dataset")
    recipe = f.ArtifactFactory(
        lab=labs[1], title="RL post-training recipe", kind="recipe", research_area="post_training_rl"
    )
    f.ArtifactReuseFactory(artifact=dataset, reusing_lab=labs[1], gpu_hours_saved=Decimal("42000"))
    f.ArtifactReuseFactory(artifact=dataset, reusing_lab=labs[2], gpu_hours_saved=Decimal("18000"))
    f.ArtifactReuseFactory(artifact=recipe, reusing_lab=labs[0], gpu_hours_saved=Decimal("9500"))
    return SimpleNamespace(
        coordinator=coordinator,
        consortium=consortium,
        labs=labs,
        candidate=candidate,
        outsider=outsider,
        alice=alice,
        bob=bob,
        password=f.PASSWORD,
    )


def seed_results(scenario, *, savings_shift: float = 0.0):
    """A succeeded run of `scenario` with stored results, as the worker would write them."""
    from django.utils import timezone

    from simulations.models import MemberResult, SimulationRun, StabilityResult, YearResult

    now = timezone.now()
    run = SimulationRun.objects.create(
        scenario=scenario,
        status=SimulationRun.Status.SUCCEEDED,
        inputs={"spec": {"rules": list(scenario.rules)}},
        seed=scenario.seed,
        draws=scenario.draws,
        engine_version="1.0.0",
        chunks_total=2,
        chunks_done=2,
        started_at=now - datetime.timedelta(seconds=3),
        finished_at=now,
    )
    labs = list(scenario.labs.order_by("name"))
    for rule_index, rule in enumerate(scenario.rules):
        for index, lab in enumerate(labs):
            standalone = lab.final_run_gpu_hours * 5 * 3.12
            pct = 30.0 - 6 * index + 2 * rule_index + savings_shift
            savings = standalone * pct / 100
            delivered = 250_000.0 * (len(labs) - index)
            MemberResult.objects.create(
                run=run,
                lab=lab,
                lab_name=lab.name,
                rule=rule,
                standalone_cost=standalone,
                allocated_cost=standalone - savings,
                savings=savings,
                savings_pct=pct,
                savings_p10=savings * 0.6,
                savings_p50=savings,
                savings_p90=savings * 1.3,
                savings_pct_p10=pct * 0.6,
                savings_pct_p50=pct,
                savings_pct_p90=pct * 1.3,
                prob_saving=0.97 - 0.05 * index,
                delivered_value=delivered,
                settlement=standalone - savings - delivered,
            )
        StabilityResult.objects.create(
            run=run,
            rule=rule,
            in_core=rule_index == 0,
            individually_rational=True,
            blocking_coalition=None if rule_index == 0 else [labs[0].name, labs[1].name],
            max_excess=-1000.0 if rule_index == 0 else 1_250_000.0,
            least_core_epsilon=-1000.0 if rule_index == 0 else 1_250_000.0,
            exhaustive=True,
            method="all coalitions enumerated",
        )
    for index, lab in enumerate(labs):
        total = 0.0
        for year in range(1, 4):
            standalone = lab.final_run_gpu_hours * 5 * 3.12 * 3 ** (year - 1) / 1.08 ** (year - 1)
            consortium_cost = standalone * (0.7 + 0.05 * index)
            total += standalone - consortium_cost
            YearResult.objects.create(
                run=run,
                lab_name=lab.name,
                year=year,
                standalone_cost=standalone,
                consortium_cost=consortium_cost,
                cumulative_savings=total,
            )
    return run
