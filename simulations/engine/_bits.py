"""Bitmask helpers: coalition S is the integer whose bit i is set when player i is in S."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@lru_cache(maxsize=8)
def popcount(n: int) -> NDArray[np.uint8]:
    """Sizes of all 2^n coalitions, by doubling: sizes of masks with bit i set are one larger."""
    pc = np.zeros(1 << n, dtype=np.uint8)
    size = 1
    for _ in range(n):
        np.add(pc[:size], 1, out=pc[size : 2 * size])
        size *= 2
    pc.setflags(write=False)
    return pc


def subset_sums(x: FloatArray, out: FloatArray | None = None) -> FloatArray:
    """x(S) for every mask S, in O(2^n); written into `out` (2^n floats) when given, which saves
    allocating and zeroing 8 MB at 20 players in loops that call it many times."""
    n = len(x)
    if out is None:
        out = np.empty(1 << n, dtype=np.float64)
    out[0] = 0.0
    size = 1
    for i in range(n):
        np.add(out[:size], x[i], out=out[size : 2 * size])
        size *= 2
    return out


def subset_max(d: FloatArray) -> FloatArray:
    """max_{i in S} d_i for every mask S (0 for the empty set; d must be non-negative)."""
    n = len(d)
    out = np.zeros(1 << n, dtype=np.float64)
    size = 1
    for i in range(n):
        np.maximum(out[:size], d[i], out=out[size : 2 * size])
        size *= 2
    return out


def masks_to_bool(masks: NDArray[np.int64], n: int) -> BoolArray:
    """Rows of membership flags for the given masks."""
    return ((masks[:, None] >> np.arange(n, dtype=np.int64)) & 1).astype(bool)


def bool_to_masks(members: BoolArray) -> NDArray[np.int64]:
    n = members.shape[1]
    return members.astype(np.int64) @ (np.int64(1) << np.arange(n, dtype=np.int64))
