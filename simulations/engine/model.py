"""The consortium cost model: labs and parameters in, structured cost games out.

Year t = 0 .. T-1 of the horizon, growth G_t = g^t, discount factor b_t = (1 + r)^-t and a
compounding factor r_t that shrinks shareable research as the commons' knowledge stock builds up.
Every year's game has the same airport demands (scaled by one scalar), so the present-value game
is again a `StructuredGame`; see docs/model.md for the equations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._bits import FloatArray
from .errors import InvalidParameterError
from .games import StructuredGame, combine
from .params import AREAS, LabInput, Params

BASE_MODEL_TERM = "shared_base_model"


@dataclass(frozen=True)
class LabArrays:
    """Per-lab inputs as arrays (n labs, A areas)."""

    names: tuple[str, ...]
    final_run: FloatArray  # F_i, GPU-hours in year 0
    research: FloatArray  # R_i = F_i rho_i / (1 - rho_i)
    price: FloatArray  # p_i, $/GPU-hour
    area_weights: FloatArray  # w_ia, shape (n, A)
    openness: FloatArray  # o_i

    @classmethod
    def from_labs(cls, labs: Sequence[LabInput]) -> LabArrays:
        if not labs:
            raise InvalidParameterError("a scenario needs at least one lab")
        names = tuple(lab.name for lab in labs)
        dupes = sorted({name for name in names if names.count(name) > 1})
        if dupes:
            raise InvalidParameterError(f"duplicated lab name(s): {', '.join(dupes)}")
        final_run = np.array([lab.final_run_gpu_hours for lab in labs], dtype=np.float64)
        rho = np.array([lab.rd_share for lab in labs], dtype=np.float64)
        return cls(
            names=names,
            final_run=final_run,
            research=final_run * rho / (1.0 - rho),
            price=np.array([lab.price_per_gpu_hour for lab in labs], dtype=np.float64),
            area_weights=np.array([lab.area_weights for lab in labs], dtype=np.float64),
            openness=np.array([lab.openness for lab in labs], dtype=np.float64),
        )


def compounding_factors(params: Params) -> FloatArray:
    """r_t: the share of year t's shareable research the commons still has to do.

    The stock k_t is measured in units of the current year's shareable need. Every coalition's
    commons scales with its largest member and every lab grows by the same g, so k_t is the same
    for every coalition: k_0 = 0, r_t = 1 / (1 + theta k_t), k_{t+1} = ((1 - delta) k_t + r_t) / g.
    """
    r = np.empty(params.horizon_years)
    k = 0.0
    for t in range(params.horizon_years):
        r[t] = 1.0 / (1.0 + params.compounding * k)
        k = ((1.0 - params.depreciation) * k + r[t]) / params.growth
    return r


def growth_factors(params: Params) -> FloatArray:
    return np.asarray(params.growth ** np.arange(params.horizon_years), dtype=np.float64)


def discount_factors(params: Params) -> FloatArray:
    return np.asarray(
        (1.0 + params.discount_rate) ** -np.arange(params.horizon_years, dtype=np.float64),
        dtype=np.float64,
    )


def _year_game(arrays: LabArrays, params: Params, growth: float, reduction: float) -> StructuredGame:
    s = np.asarray(params.shareable_fraction, dtype=np.float64)
    w, research, price, openness = (
        arrays.area_weights,
        arrays.research,
        arrays.price,
        arrays.openness,
    )
    shareable = (w * s).sum(axis=1)  # sigma_i: shareable share of the lab's research
    unshared = research * (1.0 - shareable)
    kept_in_house = reduction * (1.0 - openness) * shareable * research
    absorbed = params.absorption * reduction * openness * shareable * research
    final_own = arrays.final_run * (params.finetune_fraction if params.shared_base_model else 1.0)
    additive = growth * price * (final_own + unshared + kept_in_house + absorbed)
    demands = (openness[:, None] * w * s[None, :] * research[:, None]).T  # (A, n), GPU-hours
    prices = np.full(len(AREAS), growth * reduction * params.replication * params.pool_price)
    names = AREAS
    if params.shared_base_model:
        demands = np.vstack([demands, arrays.final_run[None, :]])
        prices = np.append(prices, growth * params.pool_price)
        names = (*AREAS, BASE_MODEL_TERM)
    return StructuredGame(
        players=arrays.names,
        additive=additive,
        airport_prices=prices,
        airport_demands=demands,
        standalone_costs=growth * price * (arrays.final_run + research),
        overhead_fixed=params.coordination_fixed,
        overhead_per_member=params.coordination_per_member,
        overhead_exponent=params.coordination_exponent,
        term_names=names,
    )


def yearly_games(labs: Sequence[LabInput], params: Params) -> list[StructuredGame]:
    """The undiscounted cost game of each year of the horizon, in $."""
    arrays = LabArrays.from_labs(labs)
    return [
        _year_game(arrays, params, float(g), float(r))
        for g, r in zip(growth_factors(params), compounding_factors(params), strict=True)
    ]


def build_game(labs: Sequence[LabInput], params: Params) -> StructuredGame:
    """The present-value cost game over the horizon: c(S) = sum_t b_t c_t(S), in $."""
    return combine(yearly_games(labs, params), discount_factors(params).tolist())
