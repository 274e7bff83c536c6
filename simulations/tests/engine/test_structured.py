"""Airport-structured games (StructuredGame): closed forms equal enumeration."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulations.engine import allocate
from simulations.engine.rules.simple import costs_without_each, private_costs

from .helpers import random_structured_game
from .strategies import SETTINGS


@SETTINGS
@given(st.integers(1, 8), st.integers(0, 2**32 - 1), st.sampled_from([1.0, 1.3, 2.0]))
def test_closed_forms_equal_enumeration(n: int, seed: int, exponent: float) -> None:
    """Littlechild-Owen Shapley, closed-form Banzhaf, separable costs and batch coalition costs
    equal their enumerated counterparts on the explicit table of the same game."""
    game = random_structured_game(n, seed, exponent=exponent)
    explicit = game.to_explicit()
    scale = max(1.0, float(np.abs(explicit.costs).max()))
    members = np.random.default_rng(seed).random((20, n)) < 0.5
    np.testing.assert_allclose(game.costs_of(members), explicit.costs_of(members), rtol=1e-12, atol=1e-9 * scale)
    assert game.grand_cost() == pytest.approx(explicit.grand_cost(), rel=1e-12)
    np.testing.assert_allclose(costs_without_each(game), costs_without_each(explicit), rtol=1e-12, atol=1e-9 * scale)
    shapley = allocate(game, "shapley")
    assert n == 1 or "Littlechild-Owen" in shapley.method
    for rule in ("shapley", "banzhaf", "scrb"):
        ours = allocate(game, rule).values
        np.testing.assert_allclose(ours, allocate(explicit, rule).values, rtol=1e-9, atol=1e-9 * scale)


@SETTINGS
@given(st.integers(2, 8), st.integers(0, 2**32 - 1))
def test_joint_cost_rules_keep_the_additive_part_private(n: int, seed: int) -> None:
    """On a structured game the additive part is each member's private cost; proportional, equal
    and ENSC add a non-negative share of the rest and sum to c(N)."""
    game = random_structured_game(n, seed)
    np.testing.assert_allclose(private_costs(game), game.additive)
    for rule in ("proportional", "equal", "ensc"):
        x = allocate(game, rule).values
        assert (x >= game.additive - 1e-9 * game.grand_cost()).all(), rule
        assert x.sum() == pytest.approx(game.grand_cost(), rel=1e-12), rule
