"""Stability in every draw beyond the 2^n table: the separation check per draw (drawstability.
check_draw_separation) against exhaustive enumeration on small games, the draws of a run
checked whatever the chunking, blockers of any size through the chunk's JSON, and a 30-lab run."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from simulations.engine import (
    ChunkResult,
    Params,
    ScenarioSpec,
    build_game,
    draw_inputs,
    finalize,
    simulate_chunk,
    stability,
)
from simulations.engine import drawstability as ds
from simulations.engine.drawstability import BLOCKERS_PER_DRAW, WarmStart, check_draw, check_draw_separation
from simulations.engine.montecarlo import ChunkSeparation
from simulations.engine.rules.nucleolus import least_core_epsilon
from simulations.engine.scenario import run_scenario

from .helpers import random_labs

RULES = ("shapley", "proportional", "equal", "nucleolus")
# Without spillover (and without drawing what sets it) the separation is exact.
NO_SPILL = (
    "shareable_fraction",
    "replication",
    "absorption",
    "coordination_fixed",
    "pool_price",
    "growth",
    "rd_share",
)


def spec(n: int, *, spill: bool, draws: int, rules: tuple[str, ...] = RULES, seed: int = 5) -> ScenarioSpec:
    params = Params(horizon_years=2, spillover_share=0.5 if spill else 0.0)
    return ScenarioSpec(
        labs=tuple(random_labs(n, seed)),
        params=params,
        rules=rules,
        draws=draws,
        seed=seed,
        uncertain=NO_SPILL + (("spillover_share",) if spill else ()),
    )


def exhaustive(n: int, spill: bool, draws: int, seed: int):
    """Per draw: the game, the allocations of a small run and the exhaustive check of its table."""
    s = spec(n, spill=spill, draws=draws, seed=seed)
    chunk = simulate_chunk(s, 0, s.draws)
    for row in range(s.draws):
        game = build_game(*draw_inputs(s, row))
        table = game.to_explicit()
        x = chunk.allocated[:, row]
        yield game, table, x, check_draw(table, x, WarmStart()), chunk.stability.tolerance[row]


def excess_of(table, x: np.ndarray, mask: int) -> float:
    members = [i for i in range(table.n) if mask >> i & 1]
    return float(x[members].sum()) - float(table.costs[mask])


@pytest.mark.parametrize(
    ("n", "seed", "spill"), [(6, 1, False), (9, 2, False), (12, 3, False), (7, 4, True), (10, 6, True)]
)
def test_the_separation_check_agrees_with_enumeration(n: int, seed: int, spill: bool) -> None:
    """With and without spillover the separation is exact: in every draw and under every rule the
    verdict, the blockers and the least-core epsilon agree with the table's, and so does the
    largest excess wherever the program ran. (With spillover a blocker the local search finds
    settles the verdict without the program: that largest excess is then a lower bound, and the
    upper end infinite.)"""
    verdicts = set()
    searched = 0
    for game, table, x, full, tol in exhaustive(n, spill, 6 if not spill else 5, seed):
        sep = check_draw_separation(game, x, rounds=200, time_limit=60.0)
        assert sep.exact and sep.decided.all()
        scale = max(1.0, abs(table.grand_cost()))
        assert (sep.in_core == full.in_core).all()
        ran = np.isfinite(sep.max_excess_upper)
        assert spill or ran.all()
        searched += int(np.count_nonzero(~ran))
        np.testing.assert_allclose(sep.max_excess[ran], full.max_excess[ran], rtol=1e-7, atol=1e-6 * scale)
        np.testing.assert_allclose(sep.max_excess_upper[ran], full.max_excess[ran], rtol=1e-7, atol=1e-6 * scale)
        assert (sep.max_excess[~ran] <= full.max_excess[~ran] + 1e-6 * scale).all()
        assert (sep.max_excess[~ran] > tol).all()
        for r in range(len(x)):
            for mask, value in zip(sep.blockers[r], sep.blocker_excess[r], strict=False):
                assert excess_of(table, x[r], mask) == pytest.approx(value, rel=1e-9, abs=1e-6)
                assert value > tol
            assert bool(sep.blockers[r]) == (full.blockers[r, 0] >= 0)
            if sep.blockers[r] and ran[r]:
                assert sep.blocker_excess[r, 0] == pytest.approx(full.blocker_excess[r, 0], rel=1e-7, abs=1e-6)
        eps, _ = least_core_epsilon(table)
        assert sep.epsilon_lower <= eps + 1e-6 * scale
        assert sep.epsilon_upper >= eps - 1e-6 * scale
        # the bracket decides the sign the table's epsilon has
        assert (sep.epsilon_lower <= tol) == (eps <= tol) or sep.epsilon_upper <= tol
        verdicts.update(bool(v) for v in full.in_core)
    assert verdicts == {True, False}
    assert not spill or searched, "with spillover some verdicts should come from the search alone"


def test_the_same_draws_are_checked_whatever_the_chunking(monkeypatch: pytest.MonkeyPatch) -> None:
    """At 25 labs the run's checked_draws (one in D // C) are checked; two chunkings (with a JSON
    round trip of each chunk) give identical per-draw figures."""
    monkeypatch.setattr(stability, "LEAST_CORE_SECONDS", 0.2)  # the central check's, not compared
    monkeypatch.setattr(ds, "SEPARATION_ROUNDS", 2)
    # No program may stop at a time limit on a loaded machine: that alone would differ between runs.
    monkeypatch.setattr(ds, "SEPARATION_SECONDS", 120.0)
    monkeypatch.setattr(ds, "SEPARATION_MIN_DRAWS", 1)
    monkeypatch.setattr(ds, "SEPARATION_MAX_DRAWS", 3)
    s = spec(25, spill=False, draws=7, rules=("proportional", "equal"))
    assert ds.separation_draws(25, 7) == 3 and list(ds.checked_draws(25, 7)) == [0, 2, 4]
    whole = simulate_chunk(s, 0, 7)
    parts = [
        ChunkResult.from_dict(json.loads(json.dumps(simulate_chunk(s, a, b).to_dict()))) for a, b in ((3, 7), (0, 3))
    ]
    assert whole.stability is None and whole.separation is not None and whole.separation.draws == (0, 2, 4)
    assert parts[0].separation.draws == (4,) and parts[1].separation.draws == (0, 2)
    a = finalize(s, [whole]).to_dict()
    b = finalize(s, parts).to_dict()
    for rule in s.rules:
        draws_a, draws_b = a["rules"][rule]["draw_stability"], b["rules"][rule]["draw_stability"]
        assert json.dumps(draws_a, sort_keys=True) == json.dumps(draws_b, sort_keys=True)
        assert draws_a["draws"] == 3
        assert draws_a["method"].startswith("3 of 7 draws (one in 2) checked by exact separation")
        assert a["rules"][rule]["members"] == b["rules"][rule]["members"]


def test_a_chunk_with_blockers_of_any_size_round_trips_through_json() -> None:
    """Masks beyond 64 bits survive to_dict / from_dict exactly, and summarize names their members."""
    n, rules = 130, 2
    big = (1 << 129) | (1 << 64) | 1
    shapes = ChunkSeparation.shapes(rules, 2)
    rng = np.random.default_rng(0)
    arrays = {name: rng.random(shape) for name, shape in shapes.items()}
    arrays["epsilon_upper"][1] = np.inf
    separation = ChunkSeparation(draws=(0, 1), blockers=(((big, 3), ()), ((), (big,))), **arrays)
    chunk = ChunkResult(
        0,
        2,
        tuple(f"L{i}" for i in range(n)),
        ("equal", "proportional"),
        np.zeros((2, n)),
        np.zeros((rules, 2, n)),
        np.zeros((2, n)),
        separation=separation,
    )
    back = ChunkResult.from_dict(json.loads(json.dumps(chunk.to_dict())))
    assert back.separation is not None and back.stability is None
    assert back.separation.blockers == separation.blockers and back.separation.draws == (0, 1)
    for name in ChunkSeparation.ARRAYS:
        assert np.array_equal(getattr(back.separation, name), getattr(separation, name))
    summary = ds.summarize_separated(
        chunk.players,
        10,
        np.array([1.0, 2.0]),
        np.array([False, True]),
        np.array([True, False]),
        [(big, 3), (big,)],
        np.array([[5.0, 1.0] + [np.nan] * (BLOCKERS_PER_DRAW - 2), [7.0] + [np.nan] * (BLOCKERS_PER_DRAW - 1)]),
        np.array([-1.0, 2.0]),
        np.array([0.0, np.inf]),
        np.ones(2),
        np.array([True, False]),
    )
    first = summary.blocking[0]
    assert first.members == ("L0", "L64", "L129") and first.share == 1.0 and first.gain_p50 == 6.0
    assert summary.draws == 2 and summary.prob_in_core == 0.5
    assert summary.least_core_epsilon_p50 == pytest.approx(1.0)  # 0 (upper end) and 2 (no upper end)
    assert summary.method == (
        "2 of 10 draws (one in 5) checked by exact separation in 1, local search (spillover) in the rest; "
        "1 undecided (time limit), counted in the core"
    )


@pytest.mark.parametrize(("checked", "exact", "undecided"), [(50, 50, 0), (50, 0, 50), (50, 3, 50), (50, 50, 50)])
def test_the_method_fits_the_stored_column(checked: int, exact: int, undecided: int) -> None:
    text = ds.separation_method(checked, 1_000_000, exact, undecided, undecided)
    assert text.endswith("counted non-empty" if exact and undecided else "")
    assert len(text) <= 200 and text.startswith(f"{checked:,} of 1,000,000 draws (one in ")


def test_a_30_lab_run_reports_draw_stability_with_its_method_and_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through run_scenario: 30 labs without spillover, 3 draws all checked exactly; with
    spillover too, the method naming any verdict the time limit left open."""
    monkeypatch.setattr(stability, "LEAST_CORE_SECONDS", 0.2)
    monkeypatch.setattr(stability, "MILP_SECONDS", 1.0)
    monkeypatch.setattr(ds, "SEPARATION_ROUNDS", 2)
    s = spec(30, spill=False, draws=3, rules=("proportional",))
    result = run_scenario(s)
    figures = result.rules["proportional"].draw_stability
    assert figures is not None and figures.draws == 3
    assert figures.method.startswith("3 of 3 draws checked by exact separation (HiGHS MILP over all coalitions)")
    assert 0.0 <= figures.prob_in_core <= 1.0 and np.isfinite(figures.max_excess_p50)
    assert result.to_dict()["rules"]["proportional"]["draw_stability"]["draws"] == 3
    monkeypatch.setattr(ds, "SEPARATION_SECONDS", 0.5)
    spilled = run_scenario(dataclasses.replace(spec(30, spill=True, draws=2, rules=("equal",))))
    text = spilled.rules["equal"].draw_stability.method
    assert text.startswith("2 of 2 draws checked by exact separation (HiGHS MILP over all coalitions)")
    assert spilled.rules["equal"].draw_stability.blocking, "an equal split of 30 unequal labs is blocked"
