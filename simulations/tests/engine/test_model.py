"""The cost model: structure, closed forms against enumeration, parameters and their specs."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulations.engine import (
    AREAS,
    LAB_SPECS,
    PARAMETER_SPECS,
    InvalidParameterError,
    LabInput,
    Params,
    allocate,
    build_game,
    yearly_games,
)
from simulations.engine.model import compounding_factors
from simulations.engine.rules.simple import costs_without_each

from .helpers import random_labs

params_strategy = st.builds(
    Params,
    shareable_fraction=st.tuples(*[st.floats(0.0, 1.0)] * len(AREAS)),
    replication=st.floats(1.0, 3.0),
    absorption=st.floats(0.0, 1.0),
    coordination_fixed=st.floats(0.0, 1e8),
    coordination_per_member=st.floats(0.0, 1e7),
    coordination_exponent=st.floats(1.0, 2.0),
    pool_price=st.floats(0.5, 10.0),
    shared_base_model=st.booleans(),
    finetune_fraction=st.floats(0.0, 1.0),
    horizon_years=st.integers(1, 6),
    growth=st.floats(1.0, 5.0),
    depreciation=st.floats(0.0, 1.0),
    compounding=st.floats(0.0, 5.0),
    discount_rate=st.floats(0.0, 0.5),
)


@settings(max_examples=int(os.environ.get("ENGINE_HYPOTHESIS_EXAMPLES", "30")), deadline=None)
@given(st.integers(1, 7), st.integers(0, 2**32 - 1), params_strategy)
def test_closed_forms_equal_enumeration(n: int, seed: int, params: Params) -> None:
    """Structured Shapley, Banzhaf, separable costs and coalition costs equal their enumerated
    counterparts on the explicit table of the same game."""
    game = build_game(random_labs(n, seed), params)
    explicit = game.to_explicit()
    scale = max(1.0, float(np.abs(explicit.costs).max()))
    members = np.random.default_rng(seed).random((20, n)) < 0.5
    np.testing.assert_allclose(game.costs_of(members), explicit.costs_of(members), rtol=1e-12, atol=1e-9 * scale)
    assert game.grand_cost() == pytest.approx(explicit.grand_cost(), rel=1e-12)
    np.testing.assert_allclose(costs_without_each(game), costs_without_each(explicit), rtol=1e-12, atol=1e-9 * scale)
    for rule in ("shapley", "banzhaf", "ensc", "scrb"):
        try:
            ours = allocate(game, rule).values
        except ValueError as exc:  # Banzhaf values summing to zero cannot be normalized
            with pytest.raises(type(exc)):
                allocate(explicit, rule)
            continue
        np.testing.assert_allclose(ours, allocate(explicit, rule).values, rtol=1e-9, atol=1e-9 * scale)


def test_going_alone_costs_final_run_plus_research() -> None:
    """c({i}) = p_i (F_i + R_i) with R_i = F_i rho / (1 - rho): 4x the final run at rho = 0.8."""
    lab = LabInput("solo", 1_000_000.0, 0.8, 2.0, (1 / 6,) * 6)
    game = build_game([lab], Params())
    assert game.standalone()[0] == pytest.approx(2.0 * 5_000_000.0)
    assert allocate(game, "shapley").values[0] == pytest.approx(game.grand_cost())


def test_two_identical_open_labs_share_the_commons() -> None:
    """Two identical fully open labs: the commons does each area's shareable research once
    (times replication) at the pool price; each keeps its final run, unshared research and
    absorption, and the overhead is G0 + 2 g0."""
    lab = LabInput("a", 1_000_000.0, 0.8, 3.0, (1 / 6,) * 6)
    params = Params(pool_price=3.0, coordination_fixed=100.0, coordination_per_member=10.0)
    game = build_game([lab, dataclasses.replace(lab, name="b")], params)
    research = 4_000_000.0
    own = 3.0 * (1_000_000.0 + 0.5 * research + 0.1 * 0.5 * research)
    commons = 3.0 * 1.2 * 0.5 * research
    assert game.grand_cost() == pytest.approx(2 * own + commons + 100.0 + 20.0)
    np.testing.assert_allclose(allocate(game, "shapley").values, [game.grand_cost() / 2] * 2)


def test_closed_members_keep_their_unpublished_research() -> None:
    """Openness 0: nothing goes to the commons and the lab pays all its research itself."""
    closed = LabInput("c", 1e6, 0.8, 3.0, (1 / 6,) * 6, openness=0.0)
    game = yearly_games(
        [closed, dataclasses.replace(closed, name="d")], Params(coordination_fixed=0.0, coordination_per_member=0.0)
    )[0]
    np.testing.assert_allclose(game.additive, game.standalone())
    assert (game.airport_demands == 0).all()


def test_shared_base_model_trains_once_at_the_largest_scale() -> None:
    """With a shared base model, the final run is an airport term at the largest member's F."""
    labs = random_labs(3, 1)
    params = Params(shared_base_model=True, finetune_fraction=0.1)
    game = build_game(labs, params)
    assert game.term_names[-1] == "shared_base_model"
    assert game.airport_demands[-1].max() == max(lab.final_run_gpu_hours for lab in labs)


def test_compounding_shrinks_later_years_and_is_off_at_zero() -> None:
    """r_0 = 1; r_t < 1 afterwards with compounding; exactly 1 without it."""
    r = compounding_factors(Params(horizon_years=4, compounding=1.0))
    assert r[0] == 1.0 and (r[1:] < 1.0).all()
    assert (compounding_factors(Params(horizon_years=4, compounding=0.0)) == 1.0).all()


def test_present_value_game_is_the_discounted_sum_of_years() -> None:
    """c(S) = sum_t (1 + r)^-t c_t(S) for every coalition."""
    labs = random_labs(4, 3)
    params = Params(horizon_years=3, discount_rate=0.1)
    pv = build_game(labs, params).to_explicit().costs
    years = [g.to_explicit().costs for g in yearly_games(labs, params)]
    np.testing.assert_allclose(pv, sum(c / 1.1**t for t, c in enumerate(years)), rtol=1e-12)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("replication", 0.5, "replication = 0.5 is outside"),
        ("absorption", float("nan"), "absorption must be finite"),
        ("horizon_years", 2.5, "horizon_years must be a whole number"),
        ("shared_base_model", 1, "shared_base_model must be true or false"),
        ("shareable_fraction", (0.5,) * 5, "one value per research area"),
        ("discount_rate", float("inf"), "discount_rate must be finite"),
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
        ({"rd_share": 1.0}, "rd_share = 1.0 is outside"),
        ({"final_run_gpu_hours": -1.0}, "final_run_gpu_hours = -1.0 is outside"),
        ({"name": ""}, "non-empty name"),
        ({"name": "a+b"}, "must not contain"),
    ],
)
def test_bad_labs_name_the_problem(changes: dict[str, object], message: str) -> None:
    base = {
        "name": "x",
        "final_run_gpu_hours": 1e6,
        "rd_share": 0.8,
        "price_per_gpu_hour": 3.0,
        "area_weights": (1 / 6,) * 6,
    }
    with pytest.raises(InvalidParameterError, match=message):
        LabInput(**{**base, **changes})


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


def test_params_round_trip_through_dicts() -> None:
    params = Params(horizon_years=5, shared_base_model=True, shareable_fraction=(0.4,) * 6)
    assert Params.from_dict(params.to_dict()) == params
    with pytest.raises(InvalidParameterError, match="unknown scenario parameter"):
        Params.from_dict({"nonsense": 1})
