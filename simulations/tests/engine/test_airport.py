"""Airport games: the closed forms against the explicit game, and against published examples."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulations.engine.airport import (
    AIRPORT_RULES,
    AirportGame,
    airport_allocation,
    airport_max_excess,
    airport_nucleolus,
    airport_shapley,
    read_airport_csv,
    read_airport_json,
)
from simulations.engine.errors import InvalidGameError, TooLargeError
from simulations.engine.rules import allocate
from simulations.engine.stability import check_stability

# Littlechild and Thompson (1977), Table 1: Birmingham airport, 1968-69. Runway cost (GBP,
# annualised) of the length each aircraft type needs, and its landings in the year.
BIRMINGHAM = [
    ("Fokker Friendship 27", 42, 65_899),
    ("Viscount 800", 9_555, 76_725),
    ("Hawker Siddeley Trident", 288, 95_200),
    ("Britannia", 303, 97_200),
    ("Caravelle VIR", 151, 97_436),
    ("BAC 111 (500)", 1_315, 98_142),
    ("Vanguard 953", 505, 102_496),
    ("Comet 4B", 1_128, 104_849),
    ("Britannia 310", 151, 113_322),
    ("Comet 4B (long)", 112, 115_440),
    ("Boeing 707", 22, 117_676),
]
# Their Shapley landing charge per landing (GBP), as published.
BIRMINGHAM_SHAPLEY = [4.86, 5.66, 10.30, 10.85, 10.92, 11.13, 13.40, 15.07, 44.80, 60.61, 162.24]


def birmingham() -> AirportGame:
    return AirportGame(
        tuple(name for name, _, _ in BIRMINGHAM),
        np.array([cost for _, _, cost in BIRMINGHAM], dtype=float),
        np.array([count for _, count, _ in BIRMINGHAM]),
    )


def test_birmingham_shapley_matches_the_published_landing_charges():
    game = birmingham()
    per_landing = airport_shapley(game)
    assert np.round(per_landing, 2).tolist() == BIRMINGHAM_SHAPLEY
    assert game.total_by_type(per_landing).sum() == pytest.approx(117_676, abs=1e-6)


def test_birmingham_nucleolus_is_in_the_core_and_adds_up():
    game = birmingham()
    per_landing = airport_nucleolus(game)
    assert game.total_by_type(per_landing).sum() == pytest.approx(117_676, abs=1e-6)
    excess, _ = airport_max_excess(game, per_landing)
    assert excess <= 1e-6
    # Every landing of a type that needs a longer runway pays at least as much.
    order = np.argsort(game.costs)
    assert np.all(np.diff(per_landing[order]) >= -1e-9)


def test_wikipedia_runway_example():
    # Runway costs 8, 11, 13, 18 for aircraft A-D: Shapley 2, 3, 4, 9 (Littlechild and Owen's rule).
    game = AirportGame(("A", "B", "C", "D"), np.array([8.0, 11, 13, 18]), np.ones(4, dtype=int))
    assert airport_shapley(game).tolist() == pytest.approx([2, 3, 4, 9])
    # Nucleolus: A, B and C settle together at min(8/2, 11/3, 13/4) = 3.25; D pays the rest.
    assert airport_nucleolus(game).tolist() == pytest.approx([3.25, 3.25, 3.25, 8.25])
    explicit = allocate(game.to_explicit(), "nucleolus").values
    assert explicit.tolist() == pytest.approx([3.25, 3.25, 3.25, 8.25], abs=1e-9)


@st.composite
def airport_games(draw, max_players: int = 16):
    types = draw(st.integers(min_value=1, max_value=8))
    costs = draw(st.lists(st.integers(min_value=0, max_value=40), min_size=types, max_size=types))
    counts = draw(st.lists(st.integers(min_value=1, max_value=4), min_size=types, max_size=types))
    while sum(counts) > max_players:
        counts[counts.index(max(counts))] -= 1
    return AirportGame(tuple(f"T{t}" for t in range(types)), np.array(costs, dtype=float), np.array(counts))


def _per_player(game: AirportGame, per_type: np.ndarray) -> np.ndarray:
    return np.repeat(per_type, game.counts)


@settings(max_examples=60, deadline=None)
@given(airport_games())
def test_closed_forms_equal_the_explicit_game(game):
    explicit = game.to_explicit()
    shapley = allocate(explicit, "shapley", method="enumeration").values
    np.testing.assert_allclose(_per_player(game, airport_shapley(game)), shapley, atol=1e-9, rtol=0)
    nucleolus = allocate(explicit, "nucleolus").values
    np.testing.assert_allclose(_per_player(game, airport_nucleolus(game)), nucleolus, atol=1e-9, rtol=0)


@settings(max_examples=40, deadline=None)
@given(airport_games(max_players=12), st.integers(min_value=0, max_value=2**32 - 1))
def test_max_excess_equals_enumeration(game, seed):
    rng = np.random.default_rng(seed)
    per_type = rng.normal(game.grand_cost() / game.n_players, 5.0, game.n_types)
    players = _per_player(game, per_type)
    explicit = game.to_explicit()
    stability = check_stability(explicit, players)
    excess, _ = airport_max_excess(game, per_type)
    # The closed form ranges over every non-empty coalition, the grand coalition included.
    grand = players.sum() - game.grand_cost()
    expected = max(stability.max_excess, grand) if game.n_players > 1 else grand
    assert excess == pytest.approx(expected, abs=1e-9)


def test_ten_thousand_distinct_types_are_fast_and_exact_in_sum():
    rng = np.random.default_rng(7)
    n = 10_000
    game = AirportGame(tuple(f"p{i}" for i in range(n)), rng.uniform(0, 1e6, n), rng.integers(1, 50, n))
    total = game.total_by_type
    assert total(airport_shapley(game)).sum() == pytest.approx(game.grand_cost(), rel=1e-12)
    assert total(airport_nucleolus(game)).sum() == pytest.approx(game.grand_cost(), rel=1e-12)
    assert airport_max_excess(game, airport_nucleolus(game))[0] <= 1e-6 * game.grand_cost()


def test_reading_csv_with_a_level_table_and_counts():
    text = "player,level,cost,count\n,short,100,\n,long,250,\nprop,short,,30\njet,long,,5\nbiz,short,,\n"
    game = read_airport_csv(text)
    assert game.types == ("prop", "jet", "biz")
    assert game.costs.tolist() == [100, 250, 100]
    assert game.counts.tolist() == [30, 5, 1]
    assert game.levels == ("short", "long", "short")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("name,cost\na,1\n", "must name `player`"),
        ("player,cost,colour\na,1,red\n", "unknown column"),
        ("player,cost\na,1\na,2\n", "line 3: player 'a' is duplicated (first on line 2)"),
        ("player,cost\na,-1\n", "line 2 (a): the cost is negative"),
        ("player,cost\na,lots\n", "line 2 (a): cost: 'lots' is not a number"),
        ("player,cost,count\na,1,0\n", "line 2 (a): count: a count must be a whole number"),
        ("player,cost,count\na,1,2.5\n", "count must be a whole number"),
        ("player,level\na,short\n", "line 2 (a): unknown level 'short'"),
        ("player,level,cost\na,short,1\nb,short,2\n", "line 3 (b): level 'short' costs 1 elsewhere"),
        ("player,cost\n", "no players"),
    ],
)
def test_bad_csv_names_the_line(text, message):
    with pytest.raises(InvalidGameError, match=None) as caught:
        read_airport_csv(text)
    assert message in str(caught.value)


def test_reading_json():
    game = read_airport_json(
        '{"levels": {"short": 10, "long": 30}, "players": [{"player": "a", "level": "short", "count": 3},'
        ' {"player": "b", "cost": 30}]}'
    )
    assert game.costs.tolist() == [10, 30] and game.counts.tolist() == [3, 1]
    with pytest.raises(InvalidGameError, match="players"):
        read_airport_json("[1, 2]")
    with pytest.raises(InvalidGameError, match="not valid"):
        read_airport_json("{")
    with pytest.raises(InvalidGameError, match="row 1: each player is an object"):
        read_airport_json('{"players": [3]}')


def test_explicit_expansion_is_limited():
    game = AirportGame(("a",), np.array([1.0]), np.array([21]))
    with pytest.raises(TooLargeError):
        game.to_explicit()
    assert game.players[:2] == ("a #1", "a #2")


@settings(max_examples=60, deadline=None)
@given(airport_games(max_players=10))
def test_every_closed_form_rule_equals_the_generic_rule_on_the_explicit_game(game):
    explicit = game.to_explicit()
    for rule in AIRPORT_RULES:
        per_type, _ = airport_allocation(game, rule)
        generic = allocate(explicit, rule, method="enumeration").values if rule == "shapley" else None
        if generic is None:
            generic = allocate(explicit, rule).values
        np.testing.assert_allclose(_per_player(game, per_type), generic, atol=1e-9, rtol=0, err_msg=rule)


@settings(max_examples=40, deadline=None)
@given(airport_games(max_players=12))
def test_least_core_epsilon_is_the_nucleolus_first_level(game):
    from simulations.engine.airport import airport_nucleolus_levels
    from simulations.engine.rules.nucleolus import least_core_epsilon

    levels = airport_nucleolus_levels(game)
    if game.n_players == 1:
        assert len(levels) == 0
        return
    assert -levels[0] == pytest.approx(least_core_epsilon(game.to_explicit())[0], abs=1e-9)
