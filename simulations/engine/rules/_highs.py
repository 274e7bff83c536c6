"""A HiGHS model kept alive between solves, so added rows re-solve from the last basis.

Constraint generation adds a few rows at a time to an LP that is otherwise unchanged; re-solving
from the previous optimal basis (dual simplex) takes a fraction of a fresh solve. This uses the
HiGHS binding that ships inside scipy (`scipy.optimize._highspy`), which is not public API: when it
is missing, `available()` is False and callers fall back to `scipy.optimize.linprog`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._bits import FloatArray

try:  # pragma: no cover - depends on the installed scipy
    from scipy.optimize._highspy import _core as _hc

    _HIGHS: Any = _hc._Highs
    _OPTIMAL: Any = _hc.HighsModelStatus.kOptimal
    _OK: Any = _hc.HighsStatus.kOk
except (ImportError, AttributeError):  # pragma: no cover
    _HIGHS = None
    _OPTIMAL = None
    _OK = None


def available() -> bool:
    return _HIGHS is not None


class IncrementalLP:
    """minimize cost @ z subject to lower <= z <= upper and rows added over time."""

    def __init__(self, lower: FloatArray, upper: FloatArray, cost: FloatArray) -> None:
        if _HIGHS is None:
            raise RuntimeError("the HiGHS binding is not available")
        self._h = _HIGHS()
        for name, value in (
            ("output_flag", False),
            ("presolve", "off"),
            ("primal_feasibility_tolerance", 1e-10),
            ("dual_feasibility_tolerance", 1e-10),
            ("simplex_dual_edge_weight_strategy", 1),
        ):
            self._h.setOptionValue(name, value)
        k = len(cost)
        self._h.addVars(k, np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64))
        self._h.changeColsCost(k, np.arange(k, dtype=np.int32), np.asarray(cost, dtype=np.float64))
        self.rows = 0

    def add_rows(self, matrix: FloatArray, lower: FloatArray, upper: FloatArray) -> np.ndarray:
        """Append dense rows; return their indices."""
        m = len(matrix)
        if m == 0:
            return np.zeros(0, dtype=np.int64)
        rows, cols = np.nonzero(matrix)
        starts = np.searchsorted(rows, np.arange(m)).astype(np.int32)
        self._h.addRows(
            m,
            np.asarray(lower, dtype=np.float64),
            np.asarray(upper, dtype=np.float64),
            len(cols),
            starts,
            cols.astype(np.int32),
            np.asarray(matrix[rows, cols], dtype=np.float64),
        )
        first = self.rows
        self.rows += m
        return np.arange(first, self.rows, dtype=np.int64)

    def add_column(self, lower: float, upper: float, cost: float) -> int:
        """Append a variable (zero in every existing row); return its index."""
        k = int(self._h.getNumCol())
        self._h.addVar(float(lower), float(upper))
        self._h.changeColCost(k, float(cost))
        return k

    def set_column(self, col: int, lower: float, upper: float, cost: float) -> None:
        self._h.changeColBounds(int(col), float(lower), float(upper))
        self._h.changeColCost(int(col), float(cost))

    def delete_rows(self, rows: np.ndarray) -> None:
        """Remove the given rows; the others keep their order and move down to fill the gaps."""
        if len(rows):
            # HiGHS takes a set of rows in increasing order, and ignores one that is not (an error status).
            index = np.unique(np.asarray(rows, dtype=np.int32))
            if self._h.deleteRows(len(index), index) != _OK:
                raise RuntimeError("HiGHS could not delete the rows")
            self.rows -= len(index)

    def solve(self) -> tuple[FloatArray, FloatArray, FloatArray] | None:
        """(column values, row duals, column duals) at the optimum, or None if HiGHS did not reach one."""
        self._h.run()
        if self._h.getModelStatus() != _OPTIMAL:
            return None
        solution = self._h.getSolution()
        return np.asarray(solution.col_value), np.asarray(solution.row_dual), np.asarray(solution.col_dual)
