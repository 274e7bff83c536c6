"""The command line: allocations of custom CSV games, and clear errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simulations.engine import InvalidGameError, TooLargeError, game_to_csv, read_csv_game
from simulations.engine.cli import main

from .helpers import random_game

REPO = Path(__file__).resolve().parents[3]
AIRPORT = "coalition,cost\nA,1\nB,2\nC,3\nA+B,2\nA+C,3\nB+C,3\nA+B+C,3\n"


@pytest.fixture
def airport_csv(tmp_path: Path) -> Path:
    path = tmp_path / "airport.csv"
    path.write_text(AIRPORT)
    return path


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("shapley", [1 / 3, 5 / 6, 11 / 6]),
        ("nucleolus", [0.5, 0.75, 1.75]),
        ("least-core", [0.5, 1.0, 1.5]),
        ("proportional", [0.5, 1.0, 1.5]),
        ("ensc", [2 / 3, 2 / 3, 5 / 3]),
        ("scrb", [0.4, 0.8, 1.8]),
        ("banzhaf", [3 / 11, 9 / 11, 21 / 11]),
        ("equal", [1.0, 1.0, 1.0]),
    ],
)
def test_allocate_prints_json_per_rule(
    airport_csv: Path, rule: str, expected: list[float], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["allocate", str(airport_csv), "--rule", rule, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["exact"] is True and out["rule"] == rule.replace("-", "_")
    np.testing.assert_allclose([out["allocation"][p] for p in "ABC"], expected, atol=1e-9)


def test_stability_flag_adds_the_core_check(airport_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["allocate", str(airport_csv), "--rule", "shapley", "--stability", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["stability"]["in_core"] is True and out["stability"]["exhaustive"] is True
    assert main(["allocate", str(airport_csv), "--rule", "equal", "--stability"]) == 0
    assert "in core: yes" in capsys.readouterr().out


def test_weighted_rule_takes_weights(airport_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["allocate", str(airport_csv), "--rule", "weighted", "--weights", "A=1,B=1,C=4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["allocation"]["C"] == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("coalition,cost\nA,1\nB,nan\nA+B,2\n", "cost of 'B' is nan, not finite"),
        ("coalition,cost\nA,1\nB,inf\nA+B,2\n", "not finite"),
        ("coalition,cost\nA,1\nB,-2\nA+B,2\n", "negative"),
        ("coalition,cost\nA,1\nB,2\n", "1 coalition\\(s\\) missing from the table, e.g. 'A\\+B'"),
        ("coalition,cost\nA,1\nB,2\nA+B,2\nB+A,3\n", "'B\\+A' is duplicated \\(first on line 4\\)"),
        ("coalition,price\nA,1\n", "header must be `coalition,cost`"),
        ("coalition,cost\nA,1\nB,x\nA+B,2\n", "'x' is not a number"),
        ("coalition,cost\nA+A,1\n", "repeated"),
        ("", "empty"),
    ],
)
def test_bad_csv_names_the_problem(text: str, message: str) -> None:
    with pytest.raises(InvalidGameError, match=message):
        read_csv_game(text if "\n" in text else text + "\n")


def test_too_many_players_is_refused() -> None:
    rows = "\n".join(f"P{i},1" for i in range(21))
    with pytest.raises(TooLargeError, match="at most 20 players; got 21"):
        read_csv_game("coalition,cost\n" + rows + "\n")


def test_csv_round_trip() -> None:
    game = random_game(4, 3)
    again = read_csv_game(game_to_csv(game))
    assert again.players == game.players and np.array_equal(again.costs, game.costs)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rule", "median"], "unknown rule 'median'"),
        (["--rule", "weighted"], "needs weights"),
        (["--rule", "weighted", "--weights", "A=1"], "missing: B, C"),
    ],
)
def test_cli_exits_2_with_the_message(
    airport_csv: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["allocate", str(airport_csv), *args]) == 2
    assert message in capsys.readouterr().err


def test_module_entry_point_runs_without_a_database(tmp_path: Path) -> None:
    """`python -m simulations.engine` works as a process; a missing file exits 2 on stderr."""
    path = tmp_path / "g.csv"
    path.write_text(AIRPORT)
    ok = subprocess.run(
        [sys.executable, "-m", "simulations.engine", "allocate", str(path), "--rule", "shapley"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0 and "0.8333333333" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "simulations.engine", "allocate", str(tmp_path / "no.csv"), "--rule", "shapley"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "cannot read" in bad.stderr


BIRMINGHAM_CSV = """player,level,cost,count
,F27,65899,
,V800,76725,
Fokker Friendship 27,F27,,42
Viscount 800,V800,,9555
"""


def test_airport_csv_by_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "airport.csv"
    path.write_text(BIRMINGHAM_CSV)
    assert main(["allocate", str(path), "--rule", "shapley", "--json", "--stability"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "airport" and out["players"] == 9597
    fokker, viscount = out["types"]
    assert fokker["allocated_per_player"] == pytest.approx(65899 / 9597)
    assert fokker["count"] * fokker["allocated_per_player"] + viscount["allocated_total"] == pytest.approx(76725)
    assert out["stability"]["in_core"] is True
    assert main(["allocate", str(path), "--rule", "nucleolus"]) == 0
    assert "Viscount 800" in capsys.readouterr().out


def test_airport_json_and_explicit_fallback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "airport.json"
    path.write_text(
        json.dumps(
            {
                "levels": {"s": 8, "l": 18},
                "players": [{"player": "A", "level": "s", "count": 2}, {"player": "D", "level": "l"}],
            }
        )
    )
    assert main(["allocate", str(path), "--rule", "least-core", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert sum(t["allocated_total"] for t in out["types"]) == pytest.approx(18)
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"players": [{"player": "A", "cost": 1, "count": 30}]}))
    assert main(["allocate", str(big), "--rule", "banzhaf"]) == 2
    assert "closed forms exist for" in capsys.readouterr().err


def test_table_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "game.json"
    path.write_text(json.dumps({"A": 6, "B": 6, "A+B": 9}))
    assert main(["allocate", str(path), "--rule", "shapley", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "table" and out["allocation"] == {"A": 4.5, "B": 4.5}
    path.write_text(json.dumps({"A": 6, "B": 6}))
    assert main(["allocate", str(path), "--rule", "shapley"]) == 2
    assert "missing" in capsys.readouterr().err
    path.write_text(json.dumps({"A": 6, "B": "x", "A+B": 1}))
    assert main(["allocate", str(path), "--rule", "shapley"]) == 2
    assert "coalition 'B': cost 'x' is not a number" in capsys.readouterr().err
    path.write_text(json.dumps({"": 1, "A": 1}))
    assert main(["allocate", str(path), "--rule", "shapley"]) == 2
    assert "empty coalition must cost 0" in capsys.readouterr().err
