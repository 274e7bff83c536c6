"""Custom games: parsing into the stored form, and every rule with savings and the core check."""

from __future__ import annotations

import pytest

from simulations.engine.custom import (
    check_custom_rules,
    game_text,
    parse_custom_game,
    run_custom,
)
from simulations.engine.errors import EngineError, InvalidGameError, TooLargeError

TABLE = "coalition,cost\nA,6\nB,6\nC,10\nA+B,9\nA+C,14\nB+C,14\nA+B+C,17\n"
AIRPORT = "player,level,cost,count\n,short,8,\n,long,18,\nA,short,,2\nD,long,,1\n"


def test_a_table_round_trips_through_its_stored_form():
    game = parse_custom_game("table", TABLE)
    assert game["players"] == ["A", "B", "C"]
    assert game["coalitions"]["A+B+C"] == 17
    assert parse_custom_game("table", game_text("table", game)) == game
    assert parse_custom_game("table", '{"A": 1, "B": 1, "A+B": 1.5}')["players"] == ["A", "B"]


def test_every_rule_adds_up_and_reports_savings_and_stability():
    game = parse_custom_game("table", TABLE)
    rules = ["shapley", "nucleolus", "least_core", "proportional", "ensc", "scrb", "banzhaf", "equal"]
    result = run_custom("table", game, rules)
    assert list(result.rules) == rules
    assert result.grand_cost == 17 and result.standalone_total == 22
    for rr in result.rules.values():
        assert sum(m.allocated_cost for m in rr.members) == pytest.approx(17)
        for m in rr.members:
            assert m.savings == pytest.approx(m.standalone_cost - m.allocated_cost)
    assert result.rules["nucleolus"].stability.in_core
    assert result.rules["shapley"].stability.exhaustive


def test_an_airport_game_reports_types_with_their_totals():
    game = parse_custom_game("airport", AIRPORT)
    result = run_custom("airport", game, ["shapley", "nucleolus", "least_core"])
    shapley = result.rules["shapley"]
    a, d = shapley.members
    assert (a.name, a.count, a.standalone_cost) == ("A", 2, 16)
    # Three players: 8 split by three, the 10 more by D alone.
    assert a.allocated_cost == pytest.approx(2 * 8 / 3)
    # Savings in percent of going alone, as the cost model reports them.
    assert a.savings_pct == pytest.approx(100 * (16 - 16 / 3) / 16)
    assert d.allocated_cost == pytest.approx(8 / 3 + 10)
    assert shapley.stability.in_core and shapley.stability.least_core_epsilon == pytest.approx(-8 / 3)
    assert sum(m.allocated_cost for m in result.rules["least_core"].members) == pytest.approx(18)
    assert result.from_dict(result.to_dict()) == result


@pytest.mark.parametrize(
    ("kind", "text", "message"),
    [
        ("table", "", "empty"),
        ("table", "coalition,cost\nA,1\nB,x\nA+B,2\n", "line 3: cost 'x' is not a number"),
        ("table", "coalition,cost\nA,1\nB,2\n", "missing"),
        ("table", "coalition,cost\nA,1\nA,2\n", "line 3: coalition 'A' is duplicated (first on line 2)"),
        ("table", "coalition,cost\nA,-1\n", "line 2: cost of 'A' is negative"),
        ("table", '{"": 3, "A": 1}', "empty coalition must cost 0"),
        ("table", "coalition,cost\n" + "\n".join(f"P{i},1" for i in range(21)), "at most 20 players"),
        ("airport", "player,cost\nA,1\nA,2\n", "line 3: player 'A' is duplicated"),
        ("galaxy", "x", "unknown kind"),
    ],
)
def test_bad_games_name_the_row(kind, text, message):
    with pytest.raises((InvalidGameError, TooLargeError)) as caught:
        parse_custom_game(kind, text)
    assert message in str(caught.value)


def test_rules_a_game_cannot_take_are_refused():
    big = parse_custom_game("airport", "player,cost,count\nA,1,30\nB,2,1\n")
    with pytest.raises(TooLargeError, match="at most 20 players; this game has 31"):
        check_custom_rules("airport", big, ["shapley", "banzhaf"])
    with pytest.raises(EngineError, match="weighted rule needs member weights"):
        check_custom_rules("table", parse_custom_game("table", TABLE), ["weighted"])
    assert check_custom_rules("airport", big, ["nucleolus", "shapley", "nucleolus"]) == ("nucleolus", "shapley")
