"""The membership advisor: each variant's figures are those of a run of the changed scenario."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from simulations.engine import InvalidParameterError, LabInput, Params, ScenarioSpec, build_game, run_scenario
from simulations.engine.advisor import JOIN, LEAVE, MemberChange, _core_text, _effect, advise, gpu_hours_text
from simulations.engine.stability import _tolerance

from .helpers import random_labs

PARAMS = Params(horizon_years=4)


def _spec(labs, rules=("shapley",), seed=3) -> ScenarioSpec:
    return ScenarioSpec(labs=tuple(sorted(labs, key=lambda lab: lab.name)), params=PARAMS, rules=rules, draws=0,
                        seed=seed)  # fmt: skip


def _run(labs, rule) -> tuple[float, dict[str, float]]:
    result = run_scenario(_spec(labs, rules=(rule,)))
    return result.grand_cost, {m.name: m.savings_central for m in result.rules[rule].members}


@pytest.mark.parametrize(
    ("members", "candidates", "rule", "seed"),
    [(4, 2, "shapley", 1), (5, 2, "nucleolus", 2), (6, 1, "least_core", 3), (5, 2, "proportional", 4),
     (4, 2, "weighted", 5), (6, 2, "ensc", 6), (3, 3, "banzhaf", 7), (2, 1, "equal", 8)],
)  # fmt: skip
def test_every_variant_equals_a_run_with_the_lab_added_or_removed(members, candidates, rule, seed):
    labs = random_labs(members + candidates, seed)
    spec = _spec(labs[:members], rules=(rule,))
    advice = advise(spec, labs[members:])
    base_cost, base = _run(labs[:members], rule)
    assert advice.grand_cost == base_cost
    assert advice.savings == pytest.approx(base, rel=1e-12)
    for v in advice.joins:
        added = next(lab for lab in labs if lab.name == v.lab)
        cost, after = _run([*labs[:members], added], rule)
        assert v.move == JOIN and v.grand_cost == cost and v.grand_cost_change == cost - base_cost
        assert v.own_savings == after[v.lab]
        assert {c.name: c.after for c in v.changes} == {name: after[name] for name in base}
        assert v.total_change == pytest.approx(sum(after[name] - base[name] for name in base))
    for v in advice.leaves:
        staying = [lab for lab in labs[:members] if lab.name != v.lab]
        if not staying:
            assert v.error
            continue
        cost, after = _run(staying, rule)
        assert v.move == LEAVE and v.grand_cost == cost
        assert v.own_savings == base[v.lab]
        assert {c.name: c.after for c in v.changes} == after


@pytest.mark.parametrize("rule", ["nucleolus", "shapley"])
def test_core_verdict_equals_the_runs_least_core_epsilon(rule):
    labs = random_labs(7, 11)
    advice = advise(_spec(labs[:5], rules=(rule,)), labs[5:])
    for v in (*advice.joins, *advice.leaves):
        players = [lab for lab in labs if lab.name in v.players]
        stability = run_scenario(_spec(players, rules=(rule,))).rules[rule].stability
        game = build_game(_spec(players).labs, PARAMS)
        assert v.core_nonempty == (stability.least_core_epsilon <= _tolerance(game))
        assert v.in_core == stability.in_core
        if not v.in_core:
            assert v.least_core_epsilon == stability.least_core_epsilon


def test_joins_rank_by_the_members_total_change_and_leaves_costliest_first():
    labs = random_labs(9, 21)
    advice = advise(_spec(labs[:6]), labs[6:])
    joins = [v.total_change for v in advice.joins]
    leaves = [v.total_change for v in advice.leaves]
    assert joins == sorted(joins, reverse=True)
    assert leaves == sorted(leaves)
    assert set(advice.ranking) == {JOIN, LEAVE}


def test_threads_give_the_same_answer_as_one_thread():
    labs = random_labs(8, 5)
    spec = _spec(labs[:6])
    assert advise(spec, labs[6:], workers=1) == advise(spec, labs[6:], workers=2)


def test_weigh_gives_each_variant_its_weights_and_its_refusal_is_the_variants_error():
    labs = random_labs(5, 9)
    spec = _spec(labs[:4], rules=("weighted",))

    def weigh(variant):
        if len(variant) > 4:
            raise InvalidParameterError("no weight for the newcomer")
        return [1.0] * len(variant)

    advice = advise(spec, labs[4:], weigh=weigh)
    assert advice.joins[0].error == "Not computed: no weight for the newcomer"
    assert np.isnan(advice.joins[0].grand_cost)
    leave = advice.leaves[0]
    staying = [dataclasses.replace(lab, weight=1.0) for lab in labs[:4] if lab.name != leave.lab]
    _, after = _run(staying, "weighted")
    assert {c.name: c.after for c in leave.changes} == after


def test_candidates_already_in_the_scenario_or_repeated_are_refused():
    labs = random_labs(4, 1)
    spec = _spec(labs[:3])
    with pytest.raises(InvalidParameterError, match="already in the scenario"):
        advise(spec, [labs[0]])
    with pytest.raises(InvalidParameterError, match="duplicated candidate"):
        advise(spec, [labs[3], labs[3]])


def test_what_a_lab_brings_is_its_largest_shareable_area_and_who_needs_it():
    evaluation = (0.05, 0.05, 0.05, 0.75, 0.05, 0.05)
    members = [
        LabInput("Ash", 1e6, 0.8, 3.12, (0.5, 0.1, 0.1, 0.1, 0.1, 0.1)),
        LabInput("Birch", 1e6, 0.8, 3.12, (0.1, 0.1, 0.1, 0.5, 0.1, 0.1)),
        LabInput("Cedar", 1e6, 0.8, 3.12, (0.2, 0.1, 0.1, 0.2, 0.2, 0.2)),
    ]
    juniper = LabInput("Juniper", 2e6, 0.75, 3.12, evaluation, openness=0.5)
    advice = advise(_spec(members), [juniper])
    v = advice.joins[0]
    # 2M x 0.75 / 0.25 = 6M GPU-h of R&D; 0.5 open x 0.75 evaluation x 0.5 shareable = 1.125M.
    assert v.brings.area == "evaluation"
    assert v.brings.gpu_hours == pytest.approx(1.125e6)
    assert v.brings.needing == ("Birch", "Cedar")
    assert v.reason.startswith(
        "Juniper brings 1.1M H100-equivalent GPU-hours a year of shareable evaluation research, an area where "
        "2 members put at least 20% of their research; "
    )
    closed = advise(_spec(members), [dataclasses.replace(juniper, openness=0.0)]).joins[0]
    assert closed.reason.startswith("Juniper brings no shareable research; ")


def _change(before: float, after: float) -> MemberChange:
    return MemberChange("x", before, after, 0.0, 0.0)


@pytest.mark.parametrize(
    ("changes", "text"),
    [
        ([(1, 2), (1, 3)], "every member saves more"),
        ([(2, 1), (3, 1)], "every member saves less"),
        ([(1, 1), (2, 2)], "no member's savings change"),
        ([(1, 2), (2, 1), (3, 3)], "1 member saves more, 1 member saves less, 1 saves the same"),
        ([(1, 2), (1, 2), (2, 1)], "2 members save more, 1 member saves less"),
        ([(1, 2)], "x saves more"),
        ([], "no member remains"),
    ],
)
def test_effect_sentences(changes, text):
    assert _effect([_change(*pair) for pair in changes]) == text


@pytest.mark.parametrize(
    ("before", "after", "text"),
    [
        (True, True, "the core stays non-empty"),
        (False, True, "the core becomes non-empty"),
        (True, False, "the core becomes empty"),
        (False, False, "the core stays empty"),
        (None, False, "the core becomes empty"),
        (True, None, "whether the core is non-empty is not proven at this size"),
    ],
)
def test_core_sentences(before, after, text):
    assert _core_text(before, after) == text


@pytest.mark.parametrize(("value", "text"), [(2.1e6, "2.1M"), (350_000, "350k"), (900, "900"), (3.2e9, "3.2B")])
def test_gpu_hours_text(value, text):
    assert gpu_hours_text(value) == text


@pytest.mark.parametrize(
    ("exhaustive", "blocking", "expected"),
    [(True, None, False), (True, ("lab0",), False), (False, ("lab0", "lab1"), False), (False, None, None)],
)
def test_a_blocking_coalition_found_settles_the_verdict_even_without_a_proof(
    monkeypatch: pytest.MonkeyPatch, exhaustive: bool, blocking: tuple[str, ...] | None, expected: bool | None
) -> None:
    """Beyond the table a check may stop short of a proof (a time limit, or with spillover the
    local search's blocker): a coalition it names is a real one, so the variant is not in the core;
    with none named and no proof the verdict stays open (None)."""
    from simulations.engine import advisor as advisor_module
    from simulations.engine.stability import Stability

    def not_in_core(game, x, *, least_core=True):
        return Stability(False, True, blocking, 1.0 if blocking else 0.0, float("nan"), exhaustive, "test")

    monkeypatch.setattr(advisor_module, "check_stability", not_in_core)
    central = advisor_module._central(tuple(random_labs(3, 1)), Params(), "shapley", [1.0] * 3, 0)
    assert central.in_core is expected
