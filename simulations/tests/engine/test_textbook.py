"""Published cost-allocation and power examples reproduce their published numbers.

Each case cites its source. Where the source gives a game and a rule but the allocation is
derived by hand from the rule's definition, the docstring says so.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from simulations.engine import ExplicitGame, StructuredGame, allocate, check_stability
from simulations.engine._bits import masks_to_bool


def table_game(players: tuple[str, ...], value) -> ExplicitGame:
    n = len(players)
    members = masks_to_bool(np.arange(1 << n, dtype=np.int64), n)
    costs = np.array([value(row) if row.any() else 0.0 for row in members], dtype=np.float64)
    return ExplicitGame(players, costs)


def airport(costs: list[float]) -> ExplicitGame:
    demand = np.array(costs, dtype=np.float64)
    return table_game(tuple("ABCDEFGH"[: len(costs)]), lambda row: float(demand[row].max()))


# Ibn Ezra's division of an estate of 120 among sons claiming 120, 60, 40 and 30
# (O'Neill 1982, "A problem of rights arbitration from the Talmud", Math. Social Sciences 2;
# Aumann 2010, "Some non-superadditive games, and their Shapley values, in the Talmud"):
# 80 5/6, 20 5/6, 10 5/6 and 7 1/2, the Shapley value of the airport game c(S) = max claim in S.
IBN_EZRA = [120.0, 60.0, 40.0, 30.0]
IBN_EZRA_SHARES = [Fraction(485, 6), Fraction(125, 6), Fraction(65, 6), Fraction(15, 2)]


def test_ibn_ezra_inheritance_is_the_shapley_value_by_enumeration() -> None:
    """Enumerated Shapley of the claims' airport game reproduces Ibn Ezra's shares."""
    x = allocate(airport(IBN_EZRA), "shapley").values
    np.testing.assert_allclose(x, [float(f) for f in IBN_EZRA_SHARES], atol=1e-12)


def test_ibn_ezra_inheritance_by_the_littlechild_owen_closed_form() -> None:
    """Littlechild & Owen (1973) on the structured airport game gives the same shares."""
    demand = np.array(IBN_EZRA)
    game = StructuredGame(
        players=("A", "B", "C", "D"),
        additive=np.zeros(4),
        airport_prices=np.array([1.0]),
        airport_demands=demand[None, :],
        standalone_costs=demand,
    )
    x = allocate(game, "shapley")
    assert x.exact and "Littlechild-Owen" in x.method
    np.testing.assert_allclose(x.values, [float(f) for f in IBN_EZRA_SHARES], atol=1e-12)


@pytest.mark.parametrize(
    ("estate", "talmud"),
    [
        (100.0, [100 / 3, 100 / 3, 100 / 3]),
        (200.0, [50.0, 75.0, 75.0]),
        (300.0, [50.0, 100.0, 150.0]),
    ],
)
def test_talmud_estates_are_the_nucleolus(estate: float, talmud: list[float]) -> None:
    """Aumann & Maschler (1985), Table 1: the Talmud's divisions among claims 100, 200, 300 are
    the nucleolus of the bankruptcy game v(S) = max(0, E - claims outside S); as a cost game
    c = -v the nucleolus is the negated division."""
    claims = np.array([100.0, 200.0, 300.0])

    def cost(row: np.ndarray) -> float:
        return -max(0.0, estate - float(claims[~row].sum()))

    x = allocate(table_game(("1", "2", "3"), cost), "nucleolus").values
    np.testing.assert_allclose(-x, talmud, atol=1e-9)


def test_un_security_council_shapley_shubik_index() -> None:
    """Shapley & Shubik (1954): 5 permanent members with a veto and 10 others, 9 votes to pass;
    a permanent member's index is 421/2145 (about 0.1963), a non-permanent one's 4/2145."""
    players = tuple(f"P{i}" for i in range(5)) + tuple(f"N{i}" for i in range(10))

    def wins(row: np.ndarray) -> float:
        return float(row[:5].all() and row.sum() >= 9)

    x = allocate(table_game(players, wins), "shapley").values
    np.testing.assert_allclose(x[:5], 421 / 2145, atol=1e-12)
    np.testing.assert_allclose(x[5:], 4 / 2145, atol=1e-12)


def test_nassau_county_board_banzhaf_index() -> None:
    """Banzhaf (1965), "Weighted voting doesn't work": weights 9, 9, 7, 3, 1, 1 with 16 of 30 to
    pass give the three small towns no power at all; the three large share it equally."""
    weights = np.array([9, 9, 7, 3, 1, 1], dtype=np.float64)
    game = table_game(tuple("ABCDEF"), lambda row: float(weights[row].sum() >= 16))
    np.testing.assert_allclose(allocate(game, "banzhaf").values, [1 / 3] * 3 + [0.0] * 3, atol=1e-12)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("shapley", [1 / 3, 5 / 6, 11 / 6]),
        ("nucleolus", [1 / 2, 3 / 4, 7 / 4]),
        ("ensc", [2 / 3, 2 / 3, 5 / 3]),
        ("scrb", [0.4, 0.8, 1.8]),
        ("proportional", [0.5, 1.0, 1.5]),
        ("banzhaf", [3 / 11, 9 / 11, 21 / 11]),
        ("equal", [1.0, 1.0, 1.0]),
    ],
)
def test_three_plane_airport(rule: str, expected: list[float]) -> None:
    """The airport game with runway costs 1, 2, 3 (Littlechild & Owen 1973; Littlechild 1974 for
    the nucleolus); allocations derived by hand from each rule's definition."""
    np.testing.assert_allclose(allocate(airport([1.0, 2.0, 3.0]), rule).values, expected, atol=1e-9)


def test_three_plane_airport_least_core() -> None:
    """Hand-derived: the least-core epsilon of the 1, 2, 3 airport is -1/2 (coalitions {A} and
    {B, C} pin it), and the proportional split is in the least core."""
    game = airport([1.0, 2.0, 3.0])
    x = allocate(game, "least_core")
    assert x.extra["epsilon"] == pytest.approx(-0.5, abs=1e-9)
    np.testing.assert_allclose(x.values, [0.5, 1.0, 1.5], atol=1e-9)
    assert check_stability(game, x.values).least_core_epsilon == pytest.approx(-0.5, abs=1e-9)


def test_shifting_cost_onto_the_small_plane_is_blocked_by_it() -> None:
    """Equal shares of 1 leave no coalition above its own cost (A pays exactly its stand-alone
    cost), so they are in the core; charging A 1.5 makes {A} block with excess 0.5."""
    game = airport([1.0, 2.0, 3.0])
    assert check_stability(game, [1.0, 1.0, 1.0]).in_core
    s = check_stability(game, [1.5, 0.5, 1.0])
    assert not s.in_core and s.blocking_coalition == ("A",)
    assert s.max_excess == pytest.approx(0.5)
    assert not s.individually_rational
