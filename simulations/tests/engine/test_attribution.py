"""One-at-a-time attribution of the change in savings between two scenarios (engine.attribution)."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulations.engine import RULES, ScenarioSpec, run_scenario
from simulations.engine.attribution import Difference, attribute, central_savings, differences

from .helpers import area_weights
from .strategies import SETTINGS, labs, params

# The exact rules (sampled ones draw with the same stream at every step, which still telescopes).
PROPERTY_RULES = [rule for rule in RULES if rule != "banzhaf"] + ["banzhaf"]


@SETTINGS
@given(
    base_labs=labs(min_n=2, max_n=5),
    other_labs=labs(min_n=2, max_n=5),
    base_params=params(horizon_years=st.integers(1, 3)),
    other_params=params(horizon_years=st.integers(1, 3)),
    rule=st.sampled_from(PROPERTY_RULES),
    drop=st.integers(0, 4),
)
def test_each_members_bars_add_up_to_its_total_change(base_labs, other_labs, base_params, other_params, rule, drop):
    # Names overlap on lab0, lab1, ...; dropping one from the other scenario removes a lab as well.
    other_labs = [lab for i, lab in enumerate(other_labs) if i != drop or len(other_labs) <= 2]
    base = ScenarioSpec(labs=tuple(base_labs), params=base_params, rules=(rule,), draws=0, seed=3)
    other = ScenarioSpec(labs=tuple(other_labs), params=other_params, rules=(rule,), draws=0, seed=3)
    result = attribute(base, other, rule)

    assert len(result.bars[result.members[0]]) == len(result.differences)
    expected_start = central_savings(base.labs, base.params, rule, 3)
    expected_end = central_savings(other.labs, other.params, rule, 3)
    for name in result.members:
        total = expected_end.get(name, 0.0) - expected_start.get(name, 0.0)
        # Rounding only: each bar is a difference of savings, so the error scales with the largest one passed.
        running = list(itertools.accumulate(result.bars[name], initial=result.start[name]))
        scale = max(1.0, *(abs(value) for value in running))
        assert sum(result.bars[name]) == pytest.approx(total, abs=1e-9 * scale)
        assert result.total(name) == pytest.approx(total, abs=1e-9 * scale)


def spec(*labs, **params_changes):
    from simulations.engine import LabInput, Params

    made = tuple(
        lab
        if isinstance(lab, LabInput)
        else LabInput(
            name=lab, final_run_gpu_hours=1e6, rd_share=0.8, price_per_gpu_hour=3.12, area_weights=area_weights([1] * 6)
        )
        for lab in labs
    )
    return ScenarioSpec(labs=made, params=dataclasses.replace(Params(), **params_changes), rules=("shapley",), draws=0)


def test_differences_are_listed_in_the_documented_order():
    base = spec("A", "B", "C")
    changed_b = dataclasses.replace(base.labs[1], openness=0.5, rd_share=0.6)
    other = spec(base.labs[0], changed_b, "D", replication=1.5, embargo_months=3.0)

    assert differences(base, other) == (
        Difference("lab_added", "D", None, None, None),
        Difference("lab_removed", "C", None, None, None),
        Difference("parameter", None, "replication", 1.2, 1.5),
        Difference("parameter", None, "embargo_months", 6.0, 3.0),
        Difference("lab_input", "B", "rd_share", 0.8, 0.6),
        Difference("lab_input", "B", "openness", 1.0, 0.5),
    )


def test_identical_scenarios_have_no_differences_and_no_change():
    base = spec("A", "B")
    result = attribute(base, base, "shapley")
    assert result.differences == () and all(result.total(name) == 0 for name in result.members)


def test_a_lab_added_starts_from_nothing_and_the_end_is_the_runs_central_savings():
    base = spec("A", "B")
    other = spec("A", "B", "C")
    result = attribute(base, other, "shapley")

    assert result.start["C"] == 0.0
    assert result.bars["C"] == (result.end["C"],)
    run = run_scenario(other)
    for member in run.rules["shapley"].members:
        assert result.end[member.name] == pytest.approx(member.savings_central)


def test_a_single_difference_takes_the_whole_change():
    base = spec("A", "B")
    other = spec("A", "B", replication=2.0)
    result = attribute(base, other, "shapley")
    assert [d.field for d in result.differences] == ["replication"]
    for name in ("A", "B"):
        assert result.bars[name] == (pytest.approx(result.total(name)),)
        assert result.total(name) != 0
