"""Property tests: the commons game holds what DOMAIN.md asks of the cost game, on random scenarios.

Scenarios mix GPU types, R&D shares, openness and area weights (strategies.py); n <= 8 keeps
enumeration of all coalitions fast. "Savings of the group" are sum_i c({i}) - c(N) in the game
without spillover, the world without the consortium.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from simulations.engine import (
    RULES,
    InvalidParameterError,
    LabInput,
    Params,
    ScenarioSpec,
    allocate,
    build_game,
    check_stability,
    run_scenario,
)
from simulations.engine._bits import masks_to_bool, subset_sums
from simulations.engine.model import knowledge_factors

from .helpers import h100_lab
from .strategies import EXAMPLES, SETTINGS, fractions, labs, params

JOINT_COST_RULES = ("proportional", "weighted", "equal", "ensc")


def group_savings(labs: list[LabInput], p: Params) -> tuple[float, float]:
    """sum c({i}) - c(N) without spillover, and a tolerance at the scale of the stand-alone costs."""
    game = build_game(labs, p, spillover=False)
    alone = game.standalone()
    return float(alone.sum() - game.grand_cost()), 1e-9 * max(1.0, float(alone.sum()))


def nobody_runs_a_commons_of_one(labs: list[LabInput], p: Params) -> bool:
    """True when no lab on its own would buy research from the pool (its stand-alone cost is a_i)."""
    game = build_game(labs, p, spillover=False)
    return bool(np.allclose(game.standalone(), game.alone, rtol=1e-12, atol=0.0))


def explicit_costs(labs: list[LabInput], p: Params, *, spillover: bool = False) -> tuple[np.ndarray, float]:
    costs = build_game(labs, p, spillover=spillover).to_explicit().costs
    return costs, 1e-9 * max(1.0, float(np.abs(costs).max()))


@SETTINGS
@given(labs(), params(spillover_share=0.0))
def test_no_group_pays_more_together_than_its_members_apart(labs: list[LabInput], p: Params) -> None:
    """c(S) <= sum_{i in S} c({i}) for every coalition S (no spillover)."""
    costs, tol = explicit_costs(labs, p)
    singles = costs[1 << np.arange(len(labs))]
    assert (costs <= subset_sums(singles) + tol).all()


def test_a_member_that_only_adds_overhead_empties_the_core() -> None:
    """Two 1M-hour H100 labs that pool profitably and an open lab with a 1,000-hour final run (no
    spillover). A coalition's commons includes all its members, so the small lab's per-member
    overhead makes {a, b, small} dearer than {a, b} plus {small} apart. Then no split of c(N) keeps
    both {a, b} and {small} inside (their excesses add up to that difference): the core is empty,
    and the stability check says so for every rule."""
    labs = [h100_lab("a", 1e6), h100_lab("b", 1e6), h100_lab("small", 1000.0)]
    game = build_game(labs, Params(spillover_share=0.0))
    costs, tol = explicit_costs(labs, Params(spillover_share=0.0))
    assert costs[0b111] > costs[0b011] + costs[0b100] + tol
    for rule in ("shapley", "nucleolus", "equal"):
        stability = check_stability(game, allocate(game, rule).values)
        assert not stability.in_core, rule
        assert stability.blocking_coalition in (("a", "b"), ("small",)), rule
        assert stability.least_core_epsilon > 0, rule


@SETTINGS
@given(labs(), params(spillover_share=0.0))
def test_adding_a_member_never_lowers_a_coalitions_cost(labs: list[LabInput], p: Params) -> None:
    """c(S + i) >= c(S) for every coalition S and every lab i outside it (no spillover)."""
    costs, tol = explicit_costs(labs, p)
    masks = np.arange(len(costs))
    for i in range(len(labs)):
        without = masks[(masks >> i) & 1 == 0]
        assert (costs[without | (1 << i)] >= costs[without] - tol).all(), i


closed_lab = st.builds(
    LabInput,
    name=st.just("closed"),
    final_run_gpu_hours=st.floats(0.0, 8.0).map(lambda e: 10**e),
    rd_share=st.floats(0.0, 0.95),
    price_per_gpu_hour=st.floats(0.5, 6.0),
    area_weights=st.just((1 / 6,) * 6),
    openness=st.just(0.0),
    gpu_type=st.sampled_from(["H100", "H800", "H200", "A100"]),
)


@SETTINGS
@given(labs(max_n=7), closed_lab, params(shared_base_model=False, spillover_share=0.0))
def test_a_lab_that_publishes_nothing_is_never_paid_to_join(labs: list[LabInput], closed: LabInput, p: Params) -> None:
    """A lab at openness 0 (no shared base model, no spillover) pays at least its private and its
    stand-alone cost under Shapley, and under the nucleolus whenever the core is non-empty."""
    game = build_game([*labs, closed], p)
    floor = max(float(game.standalone()[-1]), float(game.private_costs()[-1]))
    scale = max(1.0, abs(game.grand_cost()))
    assert allocate(game, "shapley").values[-1] >= floor - 1e-9 * scale
    x = allocate(game, "nucleolus").values
    if check_stability(game, x).least_core_epsilon <= 1e-9 * scale:
        assert x[-1] >= floor - 1e-7 * scale


def test_a_lab_that_publishes_nothing_is_never_paid_to_join_with_spillover() -> None:
    """Three identical open H100 labs (402,500 GPU-hours each) and a closed one, default parameters
    (spillover on): the rest's commons leaves the closed lab out, so its Shapley allocation does not
    fall below its stand-alone cost."""
    labs = [*(h100_lab(name, 402_500.0) for name in "abc"), h100_lab("closed", 1e6, openness=0.0)]
    game = build_game(labs, Params())
    assert allocate(game, "shapley").values[-1] >= game.standalone()[-1] - 1e-9 * game.grand_cost()


@SETTINGS
@given(labs(max_n=6), params(shared_base_model=False))
def test_a_closed_lab_is_never_paid_to_join_spillover_or_not(labs: list[LabInput], p: Params) -> None:
    """With or without spillover, a lab at openness 0 (and no shared base model) neither helps the rest
    publish nor reads anything, so it adds at least its own cost to every coalition: Shapley charges
    it at least its stand-alone cost."""
    closed = dataclasses.replace(labs[0], name="closed", openness=0.0)
    game = build_game([*labs[1:], closed], p)
    scale = max(1.0, game.grand_cost())
    assert allocate(game, "shapley").values[-1] >= game.standalone()[-1] - 1e-9 * scale


@SETTINGS
@given(
    labs(openness=st.just(0.0)),
    params(shared_base_model=False, horizon_years=st.integers(1, 20), compounding=st.floats(0.0, 1.0)),
    st.booleans(),
)
def test_an_all_closed_group_saves_nothing(labs: list[LabInput], p: Params, spillover: bool) -> None:
    """Every lab at openness 0: c(S) = sum_{i in S} c({i}) for every S, at any horizon and
    compounding, with or without spillover."""
    costs, _ = explicit_costs(labs, p, spillover=spillover)
    singles = costs[1 << np.arange(len(labs))]
    np.testing.assert_allclose(costs, subset_sums(singles), rtol=1e-9, atol=0.0)


@SETTINGS
@given(labs(openness=st.just(0.0)), params(shared_base_model=True), st.floats(0.0, 1.0), fractions)
def test_knowledge_never_helps_an_all_closed_group_with_a_shared_base_model(
    labs: list[LabInput], p: Params, compounding: float, depreciation: float
) -> None:
    """Closed labs sharing a base model save only on the base model: no coalition's cost depends on
    compounding or depreciation."""
    costs, tol = explicit_costs(labs, p, spillover=True)
    other = dataclasses.replace(p, compounding=compounding, depreciation=depreciation)
    again, _ = explicit_costs(labs, other, spillover=True)
    np.testing.assert_allclose(again, costs, rtol=1e-9, atol=tol)


@SETTINGS
@given(labs(), params(spillover_share=0.0), st.data())
def test_forking_never_raises_the_groups_savings(labs: list[LabInput], p: Params, data: st.DataObject) -> None:
    """One lab publishing less (openness o -> o * cut) never raises sum c({i}) - c(N)."""
    j = data.draw(st.integers(0, len(labs) - 1), label="lab")
    cut = data.draw(fractions, label="cut")
    before, tol = group_savings(labs, p)
    forked = [*labs[:j], dataclasses.replace(labs[j], openness=labs[j].openness * cut), *labs[j + 1 :]]
    assert group_savings(forked, p)[0] <= before + tol


@SETTINGS
@given(labs(), params(spillover_share=0.0), st.data())
def test_more_research_never_lowers_the_groups_savings(labs: list[LabInput], p: Params, data: st.DataObject) -> None:
    """One lab's R&D share rising (toward 0.99) never lowers sum c({i}) - c(N)."""
    j = data.draw(st.integers(0, len(labs) - 1), label="lab")
    step = data.draw(fractions, label="step")
    before, tol = group_savings(labs, p)
    rho = labs[j].rd_share + (0.99 - labs[j].rd_share) * step
    more = [*labs[:j], dataclasses.replace(labs[j], rd_share=rho), *labs[j + 1 :]]
    assert group_savings(more, p)[0] >= before - tol


@SETTINGS
@given(labs(), params(spillover_share=0.0, compounding=st.floats(0.0, 1.0), horizon_years=st.integers(1, 8)), fractions)
def test_faster_depreciation_never_raises_the_groups_savings(labs: list[LabInput], p: Params, step: float) -> None:
    """Depreciation rising never raises sum c({i}) - c(N), for compounding in its plausible range
    (0 - 1) and when no lab alone would run a commons of one; outside that, see the two xfail
    tests below."""
    faster = dataclasses.replace(p, depreciation=p.depreciation + (1.0 - p.depreciation) * step)
    assume(nobody_runs_a_commons_of_one(labs, p) and nobody_runs_a_commons_of_one(labs, faster))
    before, tol = group_savings(labs, p)
    assert group_savings(labs, faster)[0] <= before + tol


@settings(max_examples=max(EXAMPLES, 200), deadline=None)
@given(st.integers(1, 20), fractions, fractions, st.floats(0.0, 1.0), st.floats(1.0, 10.0))
def test_knowledge_factors_never_fall_when_depreciation_rises(
    horizon: int, low: float, high: float, compounding: float, growth: float
) -> None:
    """For compounding up to 1, faster depreciation leaves at least as much research to do in every
    year (r_t does not fall)."""
    low, high = sorted((low, high))
    slow = knowledge_factors(Params(horizon_years=horizon, depreciation=low, compounding=compounding, growth=growth))
    fast = knowledge_factors(Params(horizon_years=horizon, depreciation=high, compounding=compounding, growth=growth))
    assert (fast >= slow - 1e-12).all()


def test_compounding_above_one_is_refused() -> None:
    """Above 1 the stock's feedback (more stock, less new research, less stock next year) makes r_t
    oscillate, and faster depreciation could lower costs; the allowed range stops at 1."""
    with pytest.raises(InvalidParameterError, match=r"compounding = 4 is outside its allowed range \[0.0, 1.0\]"):
        Params(compounding=4)


def test_faster_depreciation_can_raise_savings_when_labs_alone_buy_from_the_pool() -> None:
    """Two H200 labs at $4.55 an hour, no overhead, compounding 1 over 5 years: each alone buys its
    research from the pool (a commons of one). Faster depreciation makes every commons redo more
    research each year; apart each lab redoes its own, together the layer is redone once, so the
    group's savings rise (0.4 -> 0.9). This is the documented exception to "depreciation up never
    raises savings" (docs/model.md, section 3)."""
    pair = [h100_lab(name, f, price_per_gpu_hour=4.55, gpu_type="H200") for name, f in (("a", 1e6), ("b", 2e6))]
    common = {
        "horizon_years": 5,
        "compounding": 1.0,
        "spillover_share": 0.0,
        "coordination_fixed": 0.0,
        "coordination_per_member": 0.0,
    }
    slow = Params(depreciation=0.4, **common)
    fast = Params(depreciation=0.9, **common)
    assert not nobody_runs_a_commons_of_one(pair, slow)
    assert group_savings(pair, fast)[0] > group_savings(pair, slow)[0]


@SETTINGS
@given(labs(max_n=6), params(), st.booleans())
def test_gpu_hours_of_any_type_count_as_h100_hours_times_its_factor(
    labs: list[LabInput], p: Params, spillover: bool
) -> None:
    """A lab on A100 (or any type) with F hours at price p gives the same game as an H100 lab with
    F * factor hours at p / factor: every coalition's cost and every private cost agree to 1e-9."""
    labs = [dataclasses.replace(labs[0], gpu_type="A100", throughput_factor=None), *labs[1:]]
    as_h100 = [
        dataclasses.replace(
            lab,
            gpu_type="H100",
            throughput_factor=None,
            final_run_gpu_hours=lab.final_run_gpu_hours * lab.h100_factor,
            price_per_gpu_hour=lab.price_per_gpu_hour / lab.h100_factor,
        )
        for lab in labs
    ]
    game = build_game(labs, p, spillover=spillover)
    same = build_game(as_h100, p, spillover=spillover)
    np.testing.assert_allclose(same.to_explicit().costs, game.to_explicit().costs, rtol=1e-9, atol=0.0)
    np.testing.assert_allclose(same.private_costs(), game.private_costs(), rtol=1e-9, atol=1e-9 * game.grand_cost())


@settings(max_examples=max(8, EXAMPLES // 10), deadline=None)
@given(labs(min_n=2, max_n=4), params(horizon_years=st.integers(1, 3)), st.integers(0, 2**31))
def test_headline_savings_lie_inside_their_p10_p90_band(labs: list[LabInput], p: Params, seed: int) -> None:
    """The headline savings (median of 30 draws) lie between P10 and P90 for every member and rule,
    in money, in percent and against a world without the consortium."""
    result = run_scenario(ScenarioSpec(labs=tuple(labs), params=p, rules=RULES, draws=30, seed=seed))
    for rule, rr in result.rules.items():
        for m in rr.members:
            tol = 1e-9 * max(1.0, abs(m.standalone_cost))
            assert m.savings_p10 - tol <= m.savings <= m.savings_p90 + tol, (rule, m.name)
            assert m.savings_pct_p10 - 1e-9 <= m.savings_pct <= m.savings_pct_p90 + 1e-9, (rule, m.name)
            low, high = m.savings_vs_no_consortium_p10, m.savings_vs_no_consortium_p90
            assert low - tol <= m.savings_vs_no_consortium <= high + tol, (rule, m.name)


@SETTINGS
@given(labs(), params())
def test_rules_that_split_joint_costs_never_charge_less_than_private_costs(labs: list[LabInput], p: Params) -> None:
    """Proportional, weighted, equal and ENSC give each member its private cost plus a non-negative
    share of the joint costs."""
    game = build_game(labs, p)
    private = game.private_costs()
    tol = 1e-9 * max(1.0, abs(game.grand_cost()))
    for rule in JOINT_COST_RULES:
        x = allocate(game, rule, weights=[lab.weight for lab in labs]).values
        assert (x >= private - tol).all(), rule


def test_ensc_splits_joint_costs_that_round_to_a_hair_below_zero() -> None:
    """Regression (a Monte Carlo draw): the grand coalition does best apart, so its joint cost is 0
    up to rounding (-9.3e-10 here) and no member has separable joint costs; ENSC leaves every member
    its private cost instead of refusing to split."""
    p = Params(
        shareable_fraction=(0.4731446341543162, 0.4384719403576729, 0.12334903359604221, 0.12144020030857006,
                            0.1139758228099449, 0.3093084192195199),
        replication=1.0877750216341457, absorption=0.142079787511299, coordination_fixed=97726.91701467428,
        coordination_per_member=43050.42940961319, coordination_exponent=1.209135989418704,
        pool_price=2.1459549613138633, finetune_fraction=0.0753150263316358, growth=1.3452707187032624,
        depreciation=0.47253104701194604, compounding=0.2596385863520466, embargo_months=1.9641174569472426,
        spillover_share=0.11851472230501259, discount_rate=0.021303603619596642,
    )  # fmt: skip
    rho = (0.20819923316533873, 0.05505317801936227, 0.3711114414287867, 0.391119371866846)
    sizes = ((1e6, 1.0, 0.0), (1.0, 1.0, 0.0), (1.0, 1.0, 0.0), (1e6, 4.0, 1.0))
    labs = [
        h100_lab(f"lab{i}", f, rd_share=r, price_per_gpu_hour=q, openness=o)
        for i, (r, (f, q, o)) in enumerate(zip(rho, sizes, strict=True))
    ]
    game = build_game(labs, p)
    x = allocate(game, "ensc").values
    np.testing.assert_allclose(x, game.private_costs(), rtol=0, atol=1e-9)
    assert x.sum() == pytest.approx(game.grand_cost(), rel=1e-12)


@SETTINGS
@given(labs(), params())
def test_every_rule_splits_exactly_the_grand_cost(labs: list[LabInput], p: Params) -> None:
    """Every rule's allocation sums to c(N) on model games."""
    game = build_game(labs, p)
    scale = max(1.0, abs(game.grand_cost()))
    for rule in RULES:
        x = allocate(game, rule, weights=[lab.weight for lab in labs], seed=0).values
        assert abs(x.sum() - game.grand_cost()) <= 1e-8 * scale, rule


@SETTINGS
@given(
    labs(min_n=1),
    params(spillover_share=st.floats(0.01, 1.0), embargo_months=st.floats(0.0, 11.0)),
    st.booleans(),
)
def test_fast_enumeration_equals_evaluating_each_coalition(labs: list[LabInput], p: Params, spillover: bool) -> None:
    """to_explicit() (the O(K 2^n) recursion) equals costs_of() on every coalition to 1e-9 relative,
    with spillover on and off, with and without a shared base model."""
    game = build_game(labs, p, spillover=spillover)
    every = masks_to_bool(np.arange(1 << len(labs), dtype=np.int64), len(labs))
    direct = game.costs_of(every)
    np.testing.assert_allclose(game.to_explicit().costs, direct, rtol=1e-9, atol=1e-12 * float(np.abs(direct).max()))


def test_without_an_embargo_and_with_full_spillover_members_would_rather_free_ride() -> None:
    """Four identical open labs, embargo 0 and spillover 1: going alone while reading everything the
    others publish beats the Shapley share for every member, and the core is empty; with a
    twelve-month embargo outsiders read nothing in time and every member saves inside a core."""
    four = [h100_lab(f"lab{i}", 1e6) for i in range(4)]
    game = build_game(four, Params(embargo_months=0.0, spillover_share=1.0))
    x = allocate(game, "shapley").values
    assert (game.standalone() - x <= 1e-9 * game.grand_cost()).all()
    assert check_stability(game, x).least_core_epsilon > 0
    sealed = build_game(four, Params(embargo_months=12.0, spillover_share=1.0))
    x = allocate(sealed, "shapley").values
    assert (sealed.standalone() - x > 0).all()
    assert check_stability(sealed, x).in_core
