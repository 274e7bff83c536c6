"""Member weights for the weighted rule, case by case: compute delivered, a capped scale, fixed shares."""

from __future__ import annotations

import numpy as np
import pytest

from simulations.engine import InvalidParameterError, member_weights

ITER = [45.46] + [9.09] * 6


@pytest.mark.parametrize(
    ("basis", "values", "cap", "expected"),
    [
        ("delivered", [10, 30, 0], None, [0.25, 0.75, 0.0]),
        ("delivered", [0.0, 0.0, 2e6], None, [0.0, 0.0, 1.0]),
        ("scale", [1, 2, 7], None, [0.1, 0.2, 0.7]),
        ("scale", [3.0, 3.0, 3.0], None, [1 / 3, 1 / 3, 1 / 3]),
        ("scale", [8, 1, 1], 0.5, [0.5, 0.25, 0.25]),
        ("scale", [6, 3, 1], 0.4, [0.4, 0.4, 0.2]),
        ("scale", [1, 2, 3], 0.4, [0.2, 0.4, 0.4]),
        ("scale", [1, 2, 7], 0.7, [0.1, 0.2, 0.7]),
        ("scale", [1, 2, 7], 1, [0.1, 0.2, 0.7]),
        ("scale", [1, 1, 1], 1 / 3, [1 / 3, 1 / 3, 1 / 3]),
        ("scale", [5, 0, 5], 0.5, [0.5, 0.0, 0.5]),
        ("shares", [50, 30, 20], None, [0.5, 0.3, 0.2]),
        ("shares", [33.33, 33.33, 33.34], None, [0.3333, 0.3333, 0.3334]),
        ("shares", [50, 30, 19.995], None, [50 / 99.995, 30 / 99.995, 19.995 / 99.995]),
        ("shares", ITER[:3] + ITER[3:], None, [0.4546] + [0.0909] * 6),
    ],
)
def test_member_weights(basis: str, values: list[float], cap: float | None, expected: list[float]) -> None:
    names = tuple(f"m{i}" for i in range(len(values)))
    w = member_weights(basis, values, names, cap=cap)
    np.testing.assert_allclose(w, expected, rtol=1e-12, atol=1e-15)
    assert w.sum() == pytest.approx(1.0, rel=1e-12)


ABC = ("a", "b", "c")


@pytest.mark.parametrize(
    ("basis", "values", "cap", "message"),
    [
        ("median", [1, 2, 3], None, "unknown weight basis 'median'; choose one of: delivered, scale, shares"),
        ("scale", [1, 2], None, "the weighted rule needs one weight per member (3), got 2"),
        ("scale", [1, float("nan"), 2], None, "weight of b: nan is not a finite number"),
        ("scale", [1, float("inf"), 2], None, "weight of b: inf is not a finite number"),
        ("delivered", [1, "x", 2], None, "weight of b: 'x' is not a finite number"),
        ("scale", [1, True, 2], None, "weight of b: True is not a finite number"),
        ("scale", [1, -2, 2], None, "weight of b: -2 is negative"),
        ("shares", [50, 30, 10], None, "fixed shares must sum to 100%, they sum to 90%"),
        ("shares", [50, 30, 20.02], None, "fixed shares must sum to 100%, they sum to 100.02%"),
        ("shares", [0, 0, 0], None, "fixed shares must sum to 100%, they sum to 0%"),
        ("shares", [50, 30, 20], 0.5, "a cap applies to a scale, not to fixed shares"),
        ("delivered", [1, 2, 3], 0.5, "a cap applies to a scale only"),
        ("scale", [1, 2, 3], 0.0, "the cap is a share in (0, 1], got 0.0"),
        ("scale", [1, 2, 3], 1.5, "the cap is a share in (0, 1], got 1.5"),
        ("scale", [1, 2, 3], True, "the cap is a share in (0, 1], got True"),
        ("scale", [1, 2, 0], 0.4, "a cap of 40% cannot cover the whole bill with 2 member(s) on the scale"),
        ("scale", [1, 2, 0], 0.4, "raise it to at least 50%"),
        ("delivered", [0, 0, 0], None, "no member has delivered compute, so the weights cannot split the joint costs"),
        ("scale", [0, 0, 0], 0.5, "no member has a positive number on the scale, so the weights cannot split"),
    ],
)
def test_member_weights_refuse(basis: str, values: list[object], cap: object, message: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        member_weights(basis, values, ABC, cap=cap)  # type: ignore[arg-type]
    assert message in str(caught.value)
