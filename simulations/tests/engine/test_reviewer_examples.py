"""The cost-model review's examples, kept as regression tests (one per reported case)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from simulations.engine import GPU_TYPES, RULES, LabInput, Params, ScenarioSpec, allocate, build_game, run_scenario
from simulations.engine.model import LabArrays

from .helpers import EVEN_AREAS, h100_lab


def savings(game) -> float:
    return float(game.standalone().sum() - game.grand_cost())


@pytest.mark.parametrize(
    ("h200_hours", "spillover"),
    [
        (1e5, True),
        (1e6, True),
        (1e7, True),
        (1e8, True),
        (1e5, False),
        (1e6, False),
        (1e7, False),
        (1e8, False),
    ],
)
def test_a_one_gpu_hour_lab_next_to_an_h200_lab_is_never_paid(h200_hours: float, spillover: bool) -> None:
    """A lab with a 1 GPU-hour final run joining an H200 lab pays at least its outside option and
    its private cost under Shapley and the nucleolus."""
    tiny = h100_lab("tiny", 1.0)
    h200 = h100_lab("h200", h200_hours, gpu_type="H200", price_per_gpu_hour=round(3.50 * 1.3, 2))
    game = build_game([tiny, h200], Params(), spillover=spillover)
    floor = max(float(game.standalone()[0]), float(game.private_costs()[0]))
    for rule in ("shapley", "nucleolus"):
        assert allocate(game, rule).values[0] >= floor - 1e-9 * game.grand_cost(), rule


@pytest.mark.parametrize("spillover", [True, False])
def test_the_largest_lab_forking_raises_neither_the_groups_savings_nor_its_own(spillover: bool) -> None:
    """Four H100 labs with final runs of 4M, 1M, 1M and 1M GPU-hours: the largest cutting its
    openness from 1 to 0.25 raises neither sum c({i}) - c(N) nor its own Shapley savings."""
    labs = [h100_lab(f"lab{i}", f) for i, f in enumerate((4e6, 1e6, 1e6, 1e6))]
    forked = [dataclasses.replace(labs[0], openness=0.25), *labs[1:]]
    open_game = build_game(labs, Params(), spillover=spillover)
    forked_game = build_game(forked, Params(), spillover=spillover)
    tol = 1e-9 * open_game.grand_cost()
    assert savings(forked_game) <= savings(open_game) + tol
    own = open_game.standalone()[0] - allocate(open_game, "shapley").values[0]
    own_forked = forked_game.standalone()[0] - allocate(forked_game, "shapley").values[0]
    assert own_forked <= own + tol


@pytest.mark.parametrize("compounding", [0.5, 1.0])
def test_a_consortium_of_closed_labs_saves_nothing_over_five_years(compounding: float) -> None:
    """Every lab at openness 0, five years: no coalition saves, and every member's savings are zero
    under every rule."""
    labs = tuple(h100_lab(f"lab{i}", f, openness=0.0) for i, f in enumerate((4e6, 1e6, 1e6, 1e6)))
    params = Params(horizon_years=5, compounding=compounding)
    for spillover in (True, False):
        game = build_game(labs, params, spillover=spillover)
        assert game.grand_cost() == pytest.approx(game.standalone().sum(), rel=1e-12)
    result = run_scenario(ScenarioSpec(labs=labs, params=params, rules=RULES, draws=0))
    for rule, rr in result.rules.items():
        for m in rr.members:
            assert m.savings_central == pytest.approx(0.0, abs=1e-6 * m.standalone_cost), (rule, m.name)
            assert m.savings_vs_no_consortium == pytest.approx(0.0, abs=1e-6 * m.standalone_cost), (rule, m.name)


def test_a_bloom_like_a100_lab_enters_in_h100_equivalent_hours() -> None:
    """BigScience's 1.08M A100-hours enter as 1.08M x 312 / 989 H100-equivalent hours; money stays
    hours of the lab's own type times its own price."""
    bloom = LabInput("bloom", 1_080_000.0, 0.8, 1.56, EVEN_AREAS, gpu_type="A100")
    arrays = LabArrays.from_labs([bloom])
    assert GPU_TYPES["A100"].h100_factor == pytest.approx(312 / 989)
    assert arrays.final_run[0] == pytest.approx(1_080_000.0 * 312 / 989, rel=1e-12)
    assert arrays.price[0] == pytest.approx(1.56 * 989 / 312, rel=1e-12)
    game = build_game([bloom], Params(shared_base_model=True))
    assert game.demand[-1, 0] == pytest.approx(1_080_000.0 * 312 / 989, rel=1e-12)
    assert game.standalone()[0] == pytest.approx(1.56 * 1_080_000.0 / (1 - 0.8), rel=1e-12)
    np.testing.assert_allclose(game.demand[:6, 0].sum(), 0.5 * 4 * 1_080_000.0 * 312 / 989, rtol=1e-12)
