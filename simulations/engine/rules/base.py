"""The result type shared by every allocation rule."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._bits import FloatArray


@dataclass(frozen=True, eq=False)
class Allocation:
    """Each player's allocated cost, in the order of the game's players.

    `exact` is False for estimates; then `stderr` holds each value's standard error. `method`
    says how the numbers were obtained. `extra` carries rule-specific figures (e.g. the least-core
    epsilon, the number of sampled permutations).
    """

    rule: str
    values: FloatArray
    exact: bool
    stderr: FloatArray | None
    method: str
    players: tuple[str, ...] = ()
    extra: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, float]:
        return {p: float(v) for p, v in zip(self.players, self.values, strict=True)}

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule,
            "allocation": self.as_dict(),
            "exact": self.exact,
            "method": self.method,
        }
        if self.stderr is not None:
            out["stderr"] = {p: float(v) for p, v in zip(self.players, np.asarray(self.stderr), strict=True)}
        if self.extra:
            out["extra"] = {k: float(v) for k, v in self.extra.items()}
        return out
