"""Stability in every draw: the per-draw core check against an independent enumeration, merging
across chunks, and probabilities that carry (and are tested with) their standard errors."""

from __future__ import annotations

import dataclasses
import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulations.engine import ChunkResult, Params, ScenarioSpec, build_game, draw_inputs, finalize, simulate_chunk
from simulations.engine.drawstability import BLOCKERS_PER_DRAW, WarmStart, check_draw, proportion, summarize
from simulations.engine.montecarlo import central_warm_start
from simulations.engine.rules.nucleolus import (
    least_core_epsilon,
    least_core_epsilon_warm,
    nucleolus,
)

from .helpers import concave_game, random_game, random_labs

RULES = ("shapley", "proportional", "equal", "nucleolus", "least_core")


def spec(**changes: object) -> ScenarioSpec:
    base = ScenarioSpec(
        labs=tuple(random_labs(6, 21)),
        params=Params(horizon_years=3),
        rules=RULES,
        draws=40,
        seed=3,
    )
    return dataclasses.replace(base, **changes)


def brute_force(game, x: np.ndarray, tol: float) -> tuple[float, set[int]]:
    """Largest excess over proper coalitions and the set of blocking ones, one coalition at a time
    from the game's own cost function (no table, no subset sums)."""
    n = game.n
    best, blocking = -np.inf, set()
    for size in range(1, n):
        for members in itertools.combinations(range(n), size):
            mask = sum(1 << i for i in members)
            excess = float(sum(x[i] for i in members)) - game.cost(mask)
            best = max(best, excess)
            if excess > tol:
                blocking.add(mask)
    return best, blocking


def test_every_draw_agrees_with_an_independent_enumeration() -> None:
    """In every draw and under every rule, the largest excess, the in-core verdict and the blockers
    reported match a coalition-by-coalition enumeration of that draw's game."""
    s = spec(draws=12)
    chunk = simulate_chunk(s, 0, s.draws)
    assert chunk.stability is not None
    verdicts = set()
    for row in range(s.draws):
        labs, params = draw_inputs(s, row)
        game = build_game(labs, params)
        tol = chunk.stability.tolerance[row]
        for r in range(len(RULES)):
            x = chunk.allocated[r, row]
            best, blocking = brute_force(game, x, tol)
            assert chunk.stability.max_excess[r, row] == pytest.approx(best, rel=1e-9, abs=1e-6)
            in_core = not blocking and abs(x.sum() - game.grand_cost()) <= tol * game.n
            assert bool(chunk.stability.in_core[r, row]) == in_core
            reported = {int(m) for m in chunk.stability.blockers[r, row] if m >= 0}
            assert reported <= blocking and len(reported) == min(len(blocking), BLOCKERS_PER_DRAW)
            if blocking:
                excess = {m: float(x[[i for i in range(game.n) if m >> i & 1]].sum()) - game.cost(m) for m in blocking}
                assert (
                    min(excess[m] for m in reported)
                    >= max((excess[m] for m in blocking - reported), default=-np.inf) - 1e-6
                )
            verdicts.add(in_core)
        eps, _ = least_core_epsilon(game.to_explicit())
        assert chunk.stability.epsilon[row] == pytest.approx(eps, rel=1e-9, abs=1e-6)
    assert verdicts == {True, False}, "the scenario should have draws on both sides of the verdict"


def test_draw_stability_merges_across_chunks_bit_for_bit() -> None:
    """Any split into chunks, including a JSON round trip of each chunk, gives the same figures."""
    s = spec(draws=20)
    whole = finalize(s, [simulate_chunk(s, 0, s.draws)]).to_dict()
    parts = [
        ChunkResult.from_dict(json.loads(json.dumps(simulate_chunk(s, a, b).to_dict()))) for a, b in ((9, 20), (0, 9))
    ]
    assert json.dumps(finalize(s, parts).to_dict(), sort_keys=True) == json.dumps(whole, sort_keys=True)
    assert whole["rules"]["shapley"]["draw_stability"]["draws"] == 20


def test_nucleolus_and_least_core_are_in_the_core_exactly_when_it_is_not_empty() -> None:
    """The nucleolus (of imputations) and the least core lie in the core whenever the core is
    non-empty, so their P(in core) equals P(core non-empty), draw by draw."""
    s = spec(draws=30)
    result = finalize(s, [simulate_chunk(s, 0, s.draws)])
    nonempty = result.rules["nucleolus"].draw_stability.prob_core_nonempty
    for rule in ("nucleolus", "least_core"):
        assert result.rules[rule].draw_stability.prob_in_core == pytest.approx(nonempty)
    for rule in RULES:
        assert result.rules[rule].draw_stability.prob_in_core <= nonempty + 1e-12


def test_probabilities_of_two_seeds_agree_within_their_standard_errors() -> None:
    """Two independent runs estimate the same probabilities: the difference stays within four
    combined standard errors (a false alarm about once in 16,000 runs)."""
    a = finalize(spec(seed=1, draws=60), [simulate_chunk(spec(seed=1, draws=60), 0, 60)])
    b = finalize(spec(seed=2, draws=60), [simulate_chunk(spec(seed=2, draws=60), 0, 60)])
    informative = 0
    for rule in RULES:
        da, db = a.rules[rule].draw_stability, b.rules[rule].draw_stability
        for p, se in (("prob_in_core", "prob_in_core_stderr"), ("prob_core_nonempty", "prob_core_nonempty_stderr")):
            spread = np.hypot(getattr(da, se), getattr(db, se))
            if spread > 0:
                informative += 1
                assert abs(getattr(da, p) - getattr(db, p)) <= 4 * spread
            else:
                assert getattr(da, p) == getattr(db, p)
    assert informative, "at least one estimate should be uncertain"


@pytest.mark.parametrize(
    ("hits", "total", "share", "stderr"),
    [(0, 10, 0.0, 0.0), (10, 10, 1.0, 0.0), (5, 10, 0.5, 0.5 / np.sqrt(10)), (1, 4, 0.25, np.sqrt(0.1875 / 4))],
)
def test_proportion_carries_its_binomial_standard_error(hits: int, total: int, share: float, stderr: float) -> None:
    assert proportion(hits, total) == pytest.approx((share, stderr))


def test_member_risk_counts_the_draws_in_which_it_pays_more_than_leaving() -> None:
    s = spec(draws=30)
    chunk = simulate_chunk(s, 0, s.draws)
    result = finalize(s, [chunk])
    r = RULES.index("equal")
    above = chunk.allocated[r] > chunk.standalone + chunk.stability.tolerance[:, None]
    assert above.any() and not above.all()
    for i, member in enumerate(result.rules["equal"].members):
        p, se = proportion(int(above[:, i].sum()), s.draws)
        assert (member.prob_above_outside, member.prob_above_outside_stderr) == pytest.approx((p, se))


def test_blocking_groups_name_players_and_are_ordered_by_frequency() -> None:
    players = ("A", "B", "C")
    blockers = np.array([[0b011, -1], [0b011, 0b110], [0b110, -1], [0b011, -1]])
    gains = np.array([[5.0, np.nan], [7.0, 2.0], [1.0, np.nan], [9.0, np.nan]])
    summary = summarize(
        players, np.array([5.0, 7.0, 1.0, 9.0]), np.zeros(4, dtype=bool), blockers, gains, np.full(4, -1.0), np.ones(4)
    )
    assert [g.members for g in summary.blocking] == [("A", "B"), ("B", "C")]
    first = summary.blocking[0]
    assert (first.share, first.gain_p50, first.gain_max) == (0.75, 7.0, 9.0)
    assert first.share_stderr == pytest.approx(np.sqrt(0.75 * 0.25 / 4))
    assert summary.prob_in_core == 0.0 and summary.prob_core_nonempty == 1.0
    assert (summary.max_excess_p50, summary.least_core_epsilon_p50) == (6.0, -1.0)


def test_a_concave_game_is_always_in_the_core_under_the_shapley_value() -> None:
    """Shapley lies in the core of a concave (submodular) cost game: no draw may block."""
    from simulations.engine import allocate

    game = concave_game(7, 5)
    x = np.vstack([allocate(game, "shapley").values, allocate(game, "nucleolus").values])
    check = check_draw(game, x, WarmStart())
    assert check.in_core.all() and (check.blockers == -1).all() and check.epsilon <= 0


@settings(max_examples=25, deadline=None)
@given(n=st.integers(3, 9), seed=st.integers(0, 10_000), prior=st.integers(0, 10_000))
def test_warm_started_least_core_equals_a_cold_solve(n: int, seed: int, prior: int) -> None:
    """Seeding the working set with another game's tight coalitions never changes the epsilon."""
    game = random_game(n, seed)
    _, _, tight = least_core_epsilon_warm(random_game(n, prior))
    cold, _ = least_core_epsilon(game)
    warm, _, _ = least_core_epsilon_warm(game, tight)
    assert warm == pytest.approx(cold, abs=1e-9 * max(1.0, abs(cold)))


def test_beyond_the_table_limit_the_per_draw_check_is_a_separation() -> None:
    """Beyond 20 labs no table: the chunk carries separation checks instead (test_draw_separation)."""
    s = dataclasses.replace(spec(), labs=tuple(random_labs(21, 2)), rules=("proportional",), draws=1)
    chunk = simulate_chunk(s, 0, 1)
    assert chunk.stability is None and chunk.separation is not None and chunk.separation.draws == (0,)
    result = finalize(s, [chunk])
    assert result.rules["proportional"].draw_stability.draws == 1
    assert result.rules["proportional"].draw_stability.method.startswith("1 of 1 draws checked by ")
    assert result.rules["proportional"].members[0].prob_above_outside in (0.0, 1.0)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 9), seed=st.integers(0, 10_000), prior=st.integers(0, 10_000), concave=st.booleans())
def test_warm_started_nucleolus_equals_a_cold_solve(n: int, seed: int, prior: int, concave: bool) -> None:
    """Seeding the nucleolus with another game's tight coalitions gives the cold solve's point to 1e-9."""
    make = concave_game if concave else random_game
    game = make(n, seed)
    tight = nucleolus(make(n, prior)).tight
    cold = nucleolus(game)
    warm = nucleolus(game, seed=tight)
    assert np.abs(warm.values - cold.values).max() <= 1e-9 * max(1.0, abs(game.grand_cost()))


def test_warm_started_nucleolus_and_least_core_epsilon_equal_cold_solves_on_model_draws() -> None:
    """On the draws of a 10-lab scenario, seeded from the central game as Monte Carlo does."""
    s = dataclasses.replace(spec(), labs=tuple(random_labs(10, 8)), draws=6)
    warm = central_warm_start(s)
    for k in range(s.draws):
        table = build_game(*draw_inputs(s, k)).to_explicit()
        scale = max(1.0, abs(table.grand_cost()))
        assert np.abs(nucleolus(table, seed=warm.nucleolus).values - nucleolus(table).values).max() <= 1e-9 * scale
        eps, _, _ = least_core_epsilon_warm(table, warm.least_core)
        assert abs(eps - least_core_epsilon(table)[0]) <= 1e-9 * scale


def test_chunks_stored_before_the_per_draw_check_still_finalize() -> None:
    """A chunk payload written by engine 2.0.0 (no per-draw checks) merges into results without
    the draw figures rather than failing the run."""
    s = spec(draws=6)
    old = simulate_chunk(s, 0, 3).to_dict()
    del old["stability"]
    result = finalize(s, [ChunkResult.from_dict(old), simulate_chunk(s, 3, 6)])
    assert all(rule.draw_stability is None for rule in result.rules.values())
    assert 0.0 <= result.rules["equal"].members[0].prob_above_outside <= 1.0
