"""The cost model: labs and parameters in, commons games out; parameters and their specs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given

from simulations.engine import (
    AREAS,
    LAB_SPECS,
    PARAMETER_SPECS,
    ExplicitGame,
    InvalidParameterError,
    LabInput,
    Params,
    allocate,
    build_game,
    outsider_share,
    yearly_games,
)
from simulations.engine._bits import masks_to_bool
from simulations.engine.model import LabArrays, discount_factors, knowledge_factors
from simulations.engine.rules.simple import costs_without_each, separable_costs

from .helpers import EVEN_AREAS, h100_lab, random_labs
from .strategies import SETTINGS, labs, params


@SETTINGS
@given(labs(min_n=1, max_n=7), params())
def test_the_game_and_its_explicit_table_give_the_same_answers(labs: list[LabInput], p: Params) -> None:
    """Stand-alone, grand and leave-one-out costs, and every rule that reads only c(S), agree
    between the commons game and its table of 2^n costs."""
    game = build_game(labs, p)
    explicit = game.to_explicit()
    scale = max(1.0, float(np.abs(explicit.costs).max()))
    np.testing.assert_allclose(game.standalone(), explicit.standalone(), rtol=1e-9, atol=1e-12 * scale)
    assert game.grand_cost() == pytest.approx(explicit.grand_cost(), rel=1e-9)
    np.testing.assert_allclose(costs_without_each(game), costs_without_each(explicit), rtol=1e-9, atol=1e-12 * scale)
    sc, _ = separable_costs(game)
    # SCRB reads only c(S) unless no member has a remaining benefit; then it shares by c({i}) - p_i,
    # and a table does not know the private costs p_i.
    reads_costs_only = bool((game.standalone() - sc > 0).any())
    for rule in ("shapley", "banzhaf", "scrb", "nucleolus"):
        if rule == "scrb" and not reads_costs_only:
            continue
        try:
            ours = allocate(game, rule).values
        except ValueError as exc:  # Banzhaf values summing to zero cannot be normalized
            with pytest.raises(type(exc)):
                allocate(explicit, rule)
            continue
        np.testing.assert_allclose(ours, allocate(explicit, rule).values, rtol=1e-7, atol=1e-7 * scale)


def test_going_alone_costs_final_run_plus_research() -> None:
    """c({i}) = p_i (F_i + R_i) with R_i = F_i rho / (1 - rho): 4x the final run at rho = 0.8."""
    game = build_game([LabInput("solo", 1_000_000.0, 0.8, 2.0, EVEN_AREAS)], Params())
    assert game.standalone()[0] == pytest.approx(2.0 * 5_000_000.0)
    assert allocate(game, "shapley").values[0] == pytest.approx(game.grand_cost())


def test_two_identical_open_labs_share_the_commons() -> None:
    """Two identical fully open labs: the commons does each area's shareable research once (times
    replication) at the pool price; each keeps its final run, unshared research and absorption
    (its private cost), and the overhead is G0 + 2 g0."""
    lab = LabInput("a", 1_000_000.0, 0.8, 3.0, EVEN_AREAS)
    params = Params(pool_price=3.0, coordination_fixed=100.0, coordination_per_member=10.0)
    game = build_game([lab, dataclasses.replace(lab, name="b")], params)
    research = 4_000_000.0
    own = 3.0 * (1_000_000.0 + 0.5 * research + 0.1 * 0.5 * research)
    commons = 3.0 * 1.2 * 0.5 * research
    assert game.grand_cost() == pytest.approx(2 * own + commons + 100.0 + 20.0)
    np.testing.assert_allclose(game.private_costs(), [own, own])
    assert game.joint_cost() == pytest.approx(commons + 120.0)
    np.testing.assert_allclose(game.standalone(), [3.0 * 5_000_000.0] * 2)
    np.testing.assert_allclose(allocate(game, "shapley").values, [game.grand_cost() / 2] * 2)


def test_closed_members_keep_their_unpublished_research() -> None:
    """Openness 0: nothing goes to the commons and the lab pays all its research itself."""
    closed = LabInput("c", 1e6, 0.8, 3.0, EVEN_AREAS, openness=0.0)
    game = build_game([closed, dataclasses.replace(closed, name="d")], Params())
    assert (game.demand == 0).all()
    np.testing.assert_allclose(game.private_costs(), game.alone)
    np.testing.assert_allclose(game.standalone(), game.alone)
    assert game.grand_cost() == pytest.approx(game.alone.sum())


def test_openness_scales_what_a_lab_brings_to_each_area() -> None:
    """d_ia = o_i s_a w_ia R_i in H100-equivalent hours."""
    lab = LabInput("x", 1e6, 0.75, 3.0, (0.5, 0.5, 0, 0, 0, 0), openness=0.4)
    game = build_game([lab], Params(shareable_fraction=(0.2, 0.6, 0.5, 0.5, 0.5, 0.5)))
    research = 3e6
    np.testing.assert_allclose(game.demand[:, 0], [0.4 * 0.2 * 0.5 * research, 0.4 * 0.6 * 0.5 * research, 0, 0, 0, 0])


def test_shared_base_model_trains_once_at_the_largest_scale() -> None:
    """With a shared base model the final run is one more term: demand = each lab's H100-equivalent
    final run, the commons pays the pool price per hour of the largest, members still fine-tune."""
    labs = random_labs(3, 1)
    params = Params(shared_base_model=True, finetune_fraction=0.1)
    game = build_game(labs, params)
    assert game.term_names == (*AREAS, "shared_base_model")
    np.testing.assert_allclose(game.demand[-1], LabArrays.from_labs(labs).final_run)
    assert game.spill[-1] == 0.0
    year = yearly_games(labs, params)[0]
    assert year.unit_cost[-1] == pytest.approx(params.pool_price)
    np.testing.assert_allclose(year.gain[-1], 0.9 * LabArrays.from_labs(labs).price)


@pytest.mark.parametrize(
    ("compounding", "depreciation", "growth", "expected"),
    [
        (0.0, 0.4, 3.0, [1.0, 1.0, 1.0]),
        (1.0, 0.4, 3.0, [1.0, 0.75, 1 / (1 + (0.6 / 3 + 0.75) / 3)]),
        (1.0, 1.0, 3.0, [1.0, 0.75, 1 / (1 + 0.75 / 3)]),
        (0.8, 0.0, 1.0, [1.0, 1 / 1.8, 1 / (1 + 0.8 * (1 + 1 / 1.8))]),
    ],
)
def test_knowledge_factors_follow_the_stock_recursion(
    compounding: float, depreciation: float, growth: float, expected: list[float]
) -> None:
    """k_0 = 0, r_t = 1 / (1 + theta k_t), k_{t+1} = ((1 - delta) k_t + r_t) / g; r = 1 without compounding."""
    p = Params(horizon_years=3, compounding=compounding, depreciation=depreciation, growth=growth)
    np.testing.assert_allclose(knowledge_factors(p), expected, rtol=1e-12)


def test_knowledge_cuts_the_commons_cost_and_the_absorption_of_later_years() -> None:
    """Year t's game: unit cost G_t r_t kappa pi per hour of level, gain G_t q_i (1 - alpha r_t)."""
    p = Params(horizon_years=3, compounding=1.0, growth=2.0)
    lab = h100_lab("x", 1e6)
    r = knowledge_factors(p)
    for t, game in enumerate(yearly_games([lab], p)):
        assert game.unit_cost[0] == pytest.approx(2.0**t * r[t] * 1.2 * p.pool_price)
        assert game.gain[0, 0] == pytest.approx(2.0**t * 3.12 * (1 - 0.1 * r[t]))
        assert game.alone[0] == pytest.approx(2.0**t * 3.12 * 5e6)


def test_present_value_game_keeps_one_arrangement_over_the_horizon() -> None:
    """The present-value game's coefficients are the discounted sums of the years'; each coalition's
    cost is the discounted sum of its yearly costs under the arrangement it keeps for the horizon;
    without spillover that is never below re-choosing the arrangement every year."""
    labs = random_labs(4, 3)
    params = Params(horizon_years=3, discount_rate=0.1)
    pv = build_game(labs, params)
    years = yearly_games(labs, params)
    beta = discount_factors(params)
    np.testing.assert_allclose(beta, [1.0, 1 / 1.1, 1 / 1.21])
    for attr in ("alone", "gain", "unit_cost"):
        np.testing.assert_allclose(
            getattr(pv, attr), sum(b * getattr(g, attr) for b, g in zip(beta, years, strict=True))
        )
    closed_world = build_game(labs, params, spillover=False)
    closed_years = yearly_games(labs, params, spillover=False)
    for row in masks_to_bool(np.arange(1, 16, dtype=np.int64), 4):
        kept = pv.arrangement(row)
        by_year = [g.cost_at(row, kept) for g in years]
        assert float(beta @ by_year) == pytest.approx(pv.costs_of(row[None, :])[0], rel=1e-9)
        cost = closed_world.costs_of(row[None, :])[0]
        assert cost >= float(beta @ [g.costs_of(row[None, :])[0] for g in closed_years]) * (1 - 1e-12)


@pytest.mark.parametrize(
    ("spillover_share", "embargo_months", "expected"),
    [
        (0.5, 6.0, 0.25),
        (1.0, 0.0, 1.0),
        (0.3, 3.0, 0.225),
        (0.5, 12.0, 0.0),
        (1.0, 24.0, 0.0),
        (0.0, 0.0, 0.0),
    ],
)
def test_outsider_share_is_the_spillover_for_what_is_left_of_the_year(
    spillover_share: float, embargo_months: float, expected: float
) -> None:
    """u = spillover_share * max(0, 1 - embargo / 12)."""
    p = Params(spillover_share=spillover_share, embargo_months=embargo_months)
    assert outsider_share(p) == pytest.approx(expected)


def test_spillover_reaches_research_areas_only_and_can_be_switched_off() -> None:
    p = Params(shared_base_model=True)
    labs = random_labs(3, 2)
    np.testing.assert_allclose(build_game(labs, p).spill, [outsider_share(p)] * len(AREAS) + [0.0])
    assert not build_game(labs, p, spillover=False).spill.any()


def test_without_spillover_a_lab_alone_pays_its_own_way() -> None:
    """The world without the consortium: a lab alone pays a_i whatever the others do (at default
    prices no lab would buy its research from the pool on its own)."""
    labs = [h100_lab(f"l{i}", f) for i, f in enumerate((1e6, 3e6, 5e5))]
    game = build_game(labs, Params(), spillover=False)
    np.testing.assert_allclose(game.standalone(), game.alone)
    with_spill = build_game(labs, Params())
    assert (with_spill.standalone() < game.standalone()).all()


def test_custom_tables_have_no_private_costs() -> None:
    """A plain table of c(S) keeps nothing private: joint-cost rules split all of c(N)."""
    game = ExplicitGame(("a", "b"), np.array([0.0, 1.0, 2.0, 2.5]))
    np.testing.assert_allclose(allocate(game, "equal").values, [1.25, 1.25])


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("replication", 0.5, "replication = 0.5 is outside"),
        ("absorption", float("nan"), "absorption must be finite"),
        ("horizon_years", 2.5, "horizon_years must be a whole number"),
        ("horizon_years", 21, "horizon_years = 21 is outside its allowed range \\[1, 20\\]"),
        ("shared_base_model", 1, "shared_base_model must be true or false"),
        ("shareable_fraction", (0.5,) * 5, "one value per research area"),
        ("discount_rate", float("inf"), "discount_rate must be finite"),
        ("embargo_months", 25.0, "embargo_months = 25.0 is outside its allowed range \\[0.0, 24.0\\] months"),
        ("spillover_share", 1.5, "spillover_share = 1.5 is outside"),
        ("spillover_share", "half", "spillover_share must be a number, got 'half'"),
        ("horizon_years", 10**400, "horizon_years = a number of about 401 digits is outside"),
        ("shareable_fraction", (10**5000,) + (0.5,) * 5, r"shareable_fraction\[pretraining_data\] = a number"),
        ("coordination_fixed", -(10**400), "coordination_fixed = a number of about 401 digits is outside"),
    ],
)
def test_bad_parameters_name_the_problem(field: str, value: object, message: str) -> None:
    """Each invalid parameter raises InvalidParameterError naming the parameter."""
    with pytest.raises(InvalidParameterError, match=message):
        Params(**{field: value})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"area_weights": (0.5, 0.5, 0.5, 0, 0, 0)}, "sum to 1.5"),
        ({"area_weights": (1.0,)}, "area_weights needs 6"),
        ({"area_weights": (-0.5, 1.5, 0, 0, 0, 0)}, "area weight -0.5 is negative"),
        ({"rd_share": 1.0}, "rd_share = 1.0 is outside"),
        ({"final_run_gpu_hours": -1.0}, "final_run_gpu_hours = -1.0 is outside"),
        ({"openness": 1.5}, "openness = 1.5 is outside"),
        ({"name": ""}, "non-empty name"),
        ({"name": "a+b"}, "must not contain"),
        ({"gpu_type": "TPUv5"}, "lab 'x': unknown GPU type 'TPUv5'"),
        ({"throughput_factor": 0.0}, "lab 'x': throughput factor = 0.0 is outside"),
    ],
)
def test_bad_labs_name_the_problem(changes: dict[str, object], message: str) -> None:
    base = {
        "name": "x",
        "final_run_gpu_hours": 1e6,
        "rd_share": 0.8,
        "price_per_gpu_hour": 3.0,
        "area_weights": EVEN_AREAS,
    }
    with pytest.raises(InvalidParameterError, match=message):
        LabInput(**{**base, **changes})


def test_duplicated_lab_names_are_refused() -> None:
    with pytest.raises(InvalidParameterError, match="duplicated lab name\\(s\\): a"):
        build_game([h100_lab("a", 1e6), h100_lab("a", 2e6)], Params())


def test_parameter_specs_cover_every_parameter_with_consistent_ranges() -> None:
    """One spec per Params field; defaults equal the dataclass defaults and lie in both ranges."""
    defaults = Params()
    assert set(PARAMETER_SPECS) == {f.name for f in dataclasses.fields(Params)}
    for name, spec in {**PARAMETER_SPECS, **LAB_SPECS}.items():
        assert spec.label and spec.unit is not None and spec.source
        assert spec.low <= spec.plausible_low <= spec.plausible_high <= spec.high, name
        if name in PARAMETER_SPECS:
            assert getattr(defaults, name) == spec.default, name
        values = spec.default if isinstance(spec.default, tuple) else (spec.default,)
        assert all(spec.low <= float(v) <= spec.high for v in values), name
        assert spec.to_dict()["name"] == name


def test_params_and_labs_round_trip_through_dicts() -> None:
    params = Params(horizon_years=5, shared_base_model=True, shareable_fraction=(0.4,) * 6, embargo_months=3.0)
    assert Params.from_dict(params.to_dict()) == params
    lab = LabInput("x", 1e6, 0.8, 1.56, EVEN_AREAS, gpu_type="other", throughput_factor=0.5)
    assert LabInput.from_dict(lab.to_dict()) == lab
    with pytest.raises(InvalidParameterError, match="unknown scenario parameter"):
        Params.from_dict({"nonsense": 1})
