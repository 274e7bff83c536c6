"""Scenarios: chunked Monte Carlo merges bitwise-identically; results are complete and JSON-safe."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from simulations.engine import (
    ENGINE_VERSION,
    HEADLINE_CENTRAL,
    HEADLINE_MEDIAN,
    STABILITY_ASSUMPTION,
    ChunkResult,
    EngineError,
    InvalidParameterError,
    Params,
    ScenarioSpec,
    build_game,
    finalize,
    outsider_share,
    run_scenario,
    simulate_chunk,
)

from .helpers import h100_lab, random_labs


def spec(**changes: object) -> ScenarioSpec:
    base = ScenarioSpec(
        labs=tuple(random_labs(5, 4)),
        params=Params(horizon_years=3),
        rules=("shapley", "proportional", "nucleolus"),
        draws=24,
        seed=11,
    )
    return dataclasses.replace(base, **changes)


def test_chunking_does_not_change_a_single_number() -> None:
    """Draw k depends only on (seed, k): any chunking, in any order, gives identical results."""
    s = spec()
    whole = simulate_chunk(s, 0, s.draws)
    parts = [simulate_chunk(s, a, b) for a, b in ((13, 24), (0, 5), (5, 13))]
    merged = finalize(s, parts).to_dict()
    assert json.dumps(merged, sort_keys=True) == json.dumps(finalize(s, [whole]).to_dict(), sort_keys=True)
    ordered = sorted(parts, key=lambda p: p.start)
    assert np.array_equal(np.concatenate([p.allocated for p in ordered], axis=1), whole.allocated)
    assert np.array_equal(np.concatenate([p.standalone for p in ordered]), whole.standalone)
    assert np.array_equal(np.concatenate([p.no_consortium for p in ordered]), whole.no_consortium)


def test_same_seed_same_numbers_other_seed_other_numbers() -> None:
    a = simulate_chunk(spec(), 0, 8)
    assert np.array_equal(a.standalone, simulate_chunk(spec(), 0, 8).standalone)
    assert not np.array_equal(a.standalone, simulate_chunk(spec(seed=12), 0, 8).standalone)


def test_chunk_round_trips_through_json_exactly() -> None:
    chunk = simulate_chunk(spec(), 3, 9)
    again = ChunkResult.from_dict(json.loads(json.dumps(chunk.to_dict())))
    assert again.start == 3 and again.stop == 9 and again.rules == chunk.rules
    assert np.array_equal(again.allocated, chunk.allocated)
    assert np.array_equal(again.standalone, chunk.standalone)
    assert np.array_equal(again.no_consortium, chunk.no_consortium)


@pytest.mark.parametrize(
    ("ranges", "message"),
    [
        ([(0, 10), (12, 24)], "a gap at draw 10"),
        ([(0, 12), (10, 24)], "overlap"),
        ([(0, 12)], "cover draws \\[0, 12\\) but the scenario has 24"),
    ],
)
def test_finalize_rejects_chunks_that_do_not_cover_the_draws(ranges: list[tuple[int, int]], message: str) -> None:
    s = spec(rules=("proportional",))
    with pytest.raises(EngineError, match=message):
        finalize(s, [simulate_chunk(s, a, b) for a, b in ranges])


def test_result_has_every_figure_per_rule_and_member() -> None:
    """Savings, bands, probability, settlement, stability and the yearly series are present and
    consistent: central savings = outside option - allocated; the headline is the median of the
    draws; P10 <= P50 <= P90; the series' discounted sum is the allocation; the settlement
    subtracts direct (private) costs and deliveries."""
    s = spec()
    result = run_scenario(s)
    game = build_game(s.labs, s.params)
    assert result.engine_version == ENGINE_VERSION and result.years == (1, 2, 3)
    assert result.headline == HEADLINE_MEDIAN and result.stability_assumption == STABILITY_ASSUMPTION
    assert result.outsider_share == pytest.approx(outsider_share(s.params))
    assert result.grand_cost == pytest.approx(game.grand_cost())
    assert result.standalone_total == pytest.approx(game.standalone().sum())
    assert result.no_consortium_total >= result.standalone_total
    for rule, rr in result.rules.items():
        assert rr.stability.exhaustive
        total = sum(m.allocated_cost for m in rr.members)
        assert total == pytest.approx(result.grand_cost, rel=1e-9), rule
        for m, private in zip(rr.members, game.private_costs(), strict=True):
            assert m.savings_central == pytest.approx(m.standalone_cost - m.allocated_cost)
            assert m.savings == m.savings_p50 and m.savings_pct == m.savings_pct_p50
            assert m.savings_p10 <= m.savings_p50 <= m.savings_p90
            assert m.savings_pct_p10 <= m.savings_pct_p50 <= m.savings_pct_p90
            assert m.savings_vs_no_consortium_p10 <= m.savings_vs_no_consortium <= m.savings_vs_no_consortium_p90
            assert m.no_consortium_cost >= m.standalone_cost - 1e-9 * m.no_consortium_cost
            assert 0.0 <= m.prob_saving <= 1.0
            assert m.direct_cost == pytest.approx(private)
            assert m.settlement == pytest.approx(m.allocated_cost - m.direct_cost - m.delivered_value)
            pv = sum(c / 1.08**t for t, c in enumerate(m.consortium_by_year))
            assert pv == pytest.approx(m.allocated_cost, rel=1e-9)
            alone_pv = sum(c / 1.08**t for t, c in enumerate(m.standalone_by_year))
            assert alone_pv == pytest.approx(m.standalone_cost, rel=1e-9)
            assert m.cumulative_savings_by_year[-1] == pytest.approx(m.savings_central, rel=1e-9, abs=1e-3)
            assert (m.note == "") == (m.savings_central >= 0)
        paid = sum(t.amount for t in rr.transfers if t.payee == "pool") - sum(
            t.amount for t in rr.transfers if t.payer == "pool"
        )
        assert paid == pytest.approx(sum(m.settlement for m in rr.members), rel=1e-9, abs=1e-3)
    text = json.dumps(result.to_dict(), allow_nan=False)
    assert '"shapley"' in text and '"no_consortium_total"' in text


def test_a_member_better_off_alone_is_told_why() -> None:
    """Without an embargo and with full spillover every member pays more under Shapley than going
    alone while reading the others; its note says so and names the group most tempted to leave."""
    labs = tuple(h100_lab(f"lab{i}", 1e6) for i in range(4))
    result = run_scenario(
        ScenarioSpec(labs=labs, params=Params(embargo_months=0.0, spillover_share=1.0), rules=("shapley",), draws=0)
    )
    assert result.headline == HEADLINE_CENTRAL
    for m in result.rules["shapley"].members:
        assert m.savings_central < 0 and m.savings == m.savings_central
        assert f"{m.name} pays $" in m.note and "would rather leave" in m.note
        assert "The group most tempted to leave is" in m.note
        assert m.savings_vs_no_consortium > 0


def test_spec_round_trips_through_json_and_canonicalizes() -> None:
    s = spec(rules=("least-core", "shapley"), uncertain=("growth", "absorption"))
    assert s.rules == ("least_core", "shapley")
    assert s.uncertain == ("absorption", "growth")
    again = ScenarioSpec.from_dict(json.loads(json.dumps(s.to_dict())))
    assert again == s


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"rules": ("median",)}, EngineError, "unknown rule 'median'"),
        ({"draws": -1}, InvalidParameterError, "draws must be"),
        ({"uncertain": ("gravity",)}, InvalidParameterError, "cannot draw gravity"),
        ({"labs": ()}, InvalidParameterError, "at least one lab"),
    ],
)
def test_bad_specs_name_the_problem(changes: dict[str, object], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        spec(**changes)


def test_zero_draws_still_gives_central_results() -> None:
    """Without draws the headline is the value at central parameters and the bands are empty."""
    result = run_scenario(spec(draws=0, rules=("shapley",)))
    assert result.headline == HEADLINE_CENTRAL
    member = result.rules["shapley"].members[0]
    assert np.isfinite(member.savings) and np.isnan(member.savings_p50)
    assert member.savings == member.savings_central
    assert member.savings_vs_no_consortium == pytest.approx(member.no_consortium_cost - member.allocated_cost)
    out = json.loads(json.dumps(result.to_dict()))["rules"]["shapley"]["members"][0]
    assert out["savings_p50"] is None and out["savings_vs_no_consortium_p10"] is None


def test_draws_stay_in_the_plausible_range_widened_to_the_scenario_value() -> None:
    """Each draw lies between the plausible bounds, widened to include the scenario's own value."""
    from simulations.engine import draw_inputs

    s = spec()
    for k in range(20):
        labs, params = draw_inputs(s, k)  # constructing them re-validates every allowed range
        for lab, base in zip(labs, s.labs, strict=True):
            assert min(0.7, base.rd_share) <= lab.rd_share <= max(0.9, base.rd_share)
        assert 2.0 <= params.growth <= 4.0
        assert params.horizon_years == 3


def test_a_shared_draw_ahead_table_does_not_change_a_single_number() -> None:
    """From 16 labs a draw's table is built by the draw-ahead thread while the draw before runs,
    and the main thread joins it: a chunk of several draws gives the numbers of one-draw chunks
    (which build their table alone)."""
    s = spec(labs=tuple(random_labs(16, 8)), draws=3, rules=("shapley", "nucleolus", "least_core"))
    whole = simulate_chunk(s, 0, 3)
    parts = [simulate_chunk(s, k, k + 1) for k in range(3)]
    assert np.array_equal(np.concatenate([p.allocated for p in parts], axis=1), whole.allocated)
    assert whole.stability is not None
    assert np.array_equal(np.concatenate([p.stability.max_excess for p in parts], axis=1), whole.stability.max_excess)


def test_each_draws_cost_without_the_consortium_is_the_closed_worlds_stand_alone_cost() -> None:
    from simulations.engine import draw_inputs

    """A draw's no-consortium costs are each lab's stand-alone cost in the world with no
    spillover, build_game(spillover=False), exactly (the chunk builds that game differently)."""
    s = spec(draws=4)
    chunk = simulate_chunk(s, 0, 4)
    for k in range(4):
        labs, params = draw_inputs(s, k)
        assert np.array_equal(chunk.no_consortium[k], build_game(labs, params, spillover=False).standalone())
