"""Member weights for the weighted rule: compute delivered, a CERN-style scale, ITER-style shares.

- "delivered": H100-equivalent GPU-hours each member delivered to the commons.
- "scale": a number per member (national income, revenue, ...) in proportion, with an optional cap
  on any member's share; what a capped member would have paid above the cap is spread over the
  others in proportion to their numbers (the CERN Council's scale works this way).
- "shares": fixed percentages that sum to 100 (ITER: the host 45.46%, six others 9.09% each).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ._bits import FloatArray
from .errors import InvalidParameterError

WEIGHT_BASES: dict[str, str] = {
    "delivered": "Compute delivered (H100-equivalent GPU-hours)",
    "scale": "Scale from a number per member (CERN-style), optional cap",
    "shares": "Fixed shares in percent (ITER-style), summing to 100",
}
SHARES_TOLERANCE = 0.01  # percentage points


def _numbers(values: Sequence[float], names: Sequence[str]) -> FloatArray:
    out = []
    for name, value in zip(names, values, strict=True):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise InvalidParameterError(f"weight of {name}: {value!r} is not a finite number")
        if value < 0:
            raise InvalidParameterError(f"weight of {name}: {value:g} is negative")
        out.append(float(value))
    return np.array(out, dtype=np.float64)


def capped_shares(values: FloatArray, cap: float) -> FloatArray:
    """Shares in proportion to `values`, none above `cap`; the excess goes to the uncapped members.

    Water-filling: cap every member whose proportional share exceeds the cap, re-spread the rest
    over the others in proportion to their values, and repeat until no share exceeds the cap (at
    most n rounds, since each round caps at least one more member).
    """
    n = len(values)
    shares = np.zeros(n)
    capped = np.zeros(n, dtype=bool)
    for _ in range(n + 1):
        free = ~capped
        rest = 1.0 - cap * capped.sum()
        total = values[free].sum()
        shares[capped] = cap
        shares[free] = rest * values[free] / total if total > 0 else 0.0
        over = free & (shares > cap + 1e-12)
        if not over.any():
            return shares
        capped |= over
    return shares


def member_weights(
    basis: str, values: Sequence[float], names: Sequence[str], *, cap: float | None = None
) -> FloatArray:
    """One weight per member (summing to 1) for the weighted rule; InvalidParameterError names the fault."""
    if basis not in WEIGHT_BASES:
        raise InvalidParameterError(f"unknown weight basis {basis!r}; choose one of: {', '.join(WEIGHT_BASES)}")
    if len(values) != len(names):
        raise InvalidParameterError(f"the weighted rule needs one weight per member ({len(names)}), got {len(values)}")
    w = _numbers(values, names)
    if basis == "shares":
        if cap is not None:
            raise InvalidParameterError("a cap applies to a scale, not to fixed shares")
        total = float(w.sum())
        if abs(total - 100.0) > SHARES_TOLERANCE:
            raise InvalidParameterError(f"fixed shares must sum to 100%, they sum to {total:.6g}%")
        return w / total
    if float(w.sum()) <= 0:
        what = "has delivered compute" if basis == "delivered" else "has a positive number on the scale"
        raise InvalidParameterError(f"no member {what}, so the weights cannot split the joint costs")
    if cap is None:
        return w / w.sum()
    if basis != "scale":
        raise InvalidParameterError("a cap applies to a scale only")
    if isinstance(cap, bool) or not isinstance(cap, int | float) or not 0 < cap <= 1:
        raise InvalidParameterError(f"the cap is a share in (0, 1], got {cap!r}")
    positive = int((w > 0).sum())
    if cap * positive < 1 - 1e-12:
        raise InvalidParameterError(
            f"a cap of {cap:.0%} cannot cover the whole bill with {positive} member(s) on the scale; "
            f"raise it to at least {1 / positive:.0%}"
        )
    return capped_shares(w, float(cap))
