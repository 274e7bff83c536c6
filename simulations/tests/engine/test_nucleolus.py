"""The nucleolus' two LP back ends agree: warm-started HiGHS and plain scipy linprog."""

from __future__ import annotations

import numpy as np
import pytest

from simulations.engine import Params, allocate, build_game
from simulations.engine.rules import _highs

from .helpers import concave_game, random_game, random_labs


@pytest.mark.parametrize(
    "game",
    [random_game(7, 1), concave_game(8, 2), build_game(random_labs(7, 3), Params()).to_explicit()],
    ids=["random", "concave", "model"],
)
def test_linprog_fallback_matches_the_incremental_solver(game, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without scipy's private HiGHS binding the engine falls back to linprog, same answer."""
    assert _highs.available()
    fast = allocate(game, "nucleolus").values
    monkeypatch.setattr(_highs, "available", lambda: False)
    slow = allocate(game, "nucleolus").values
    np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-9 * max(1.0, game.grand_cost()))
