"""Largest stable coalition: exact search agrees with brute force, greedy is a stable lower bound."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from simulations.engine import Params, ScenarioSpec
from simulations.engine.errors import InvalidParameterError
from simulations.engine.levers import largest_stable_coalition
from simulations.engine.model import build_game
from simulations.engine.rules import allocate

from .helpers import random_labs


def spec(n: int, labs_seed: int, rule: str = "proportional") -> ScenarioSpec:
    return ScenarioSpec(
        labs=tuple(random_labs(n, labs_seed)), params=Params(horizon_years=3), rules=(rule,), draws=10, seed=3
    )


def brute_excess(s: ScenarioSpec, names: tuple[str, ...]) -> float:
    """Largest x(T) - c(T) over every proper coalition T of the group, from c(T) one at a time."""
    labs = tuple(lab for lab in s.labs if lab.name in names)
    game = build_game(labs, s.params)
    weights = np.array([lab.weight for lab in labs])
    x = allocate(game, s.rules[0], weights=weights, rng=np.random.default_rng([s.seed, 2**32 - 1, 0])).values
    return max(
        float(sum(x[i] for i in range(game.n) if mask >> i & 1)) - game.cost(mask)
        for mask in range(1, (1 << game.n) - 1)
    )


def brute_largest(s: ScenarioSpec) -> int:
    names = tuple(lab.name for lab in s.labs)
    for size in range(len(names), 0, -1):
        for group in combinations(names, size):
            if size == 1 or brute_excess(s, group) <= 1e-6:
                return size
    raise AssertionError("a single lab is always stable")


@pytest.mark.parametrize(("n", "labs_seed"), [(5, 0), (5, 1), (5, 3), (5, 5), (5, 6), (6, 1), (6, 3), (6, 4), (6, 7)])
def test_exact_search_finds_the_brute_force_size_and_greedy_a_stable_group_no_larger(n: int, labs_seed: int) -> None:
    s = spec(n, labs_seed)
    exact = largest_stable_coalition(s)
    greedy = largest_stable_coalition(s, exact_up_to=0)
    assert exact.method == "exact" and greedy.method == "greedy"
    assert len(exact.members) == brute_largest(s)
    assert len(greedy.members) <= len(exact.members)
    for found in (exact, greedy):
        assert sorted(found.members + found.removed) == sorted(lab.name for lab in s.labs)
        assert brute_excess(s, found.members) == pytest.approx(found.max_excess, abs=1e-6)
        assert found.max_excess <= 1e-6


def test_greedy_can_stop_short_of_the_exact_answer_and_says_so() -> None:
    s = spec(5, 3)  # exact keeps 3 labs; greedy drops lab3 first and ends with 2
    exact = largest_stable_coalition(s)
    greedy = largest_stable_coalition(s, exact_up_to=0)
    assert len(greedy.members) < len(exact.members)
    assert "found greedily, so a larger one may exist" in greedy.sentence
    assert "every subset of the labs tried" in exact.sentence


def test_greedy_drops_first_the_member_whose_removal_lowers_the_largest_excess_most() -> None:
    s = spec(6, 3)
    greedy = largest_stable_coalition(s, exact_up_to=0)
    names = tuple(lab.name for lab in s.labs)
    excess_without = {name: brute_excess(s, tuple(n for n in names if n != name)) for name in names}
    assert greedy.removed[0] == min(excess_without, key=excess_without.get)


def test_a_stable_consortium_keeps_every_lab_and_the_sentence_names_the_rest() -> None:
    whole = largest_stable_coalition(spec(5, 0))
    assert whole.removed == () and whole.sentence.startswith(
        "All 5 labs together (lab0, lab1, lab2, lab3 and lab4) are stable: Proportional"
    )
    part = largest_stable_coalition(spec(5, 5))
    assert part.removed == ("lab2", "lab4")
    assert part.sentence.startswith("The largest stable group is 3 of the 5 labs, without lab2 and lab4:")
    assert "lab0, lab1 and lab3" in part.sentence


def test_more_labs_than_an_exhaustive_check_allows_are_refused() -> None:
    with pytest.raises(InvalidParameterError, match="up to 20 labs"):
        largest_stable_coalition(spec(21, 0))
