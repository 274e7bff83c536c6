"""The consortium cost model: labs and parameters in, commons games out (docs/model.md, section 3).

Year t = 0 .. T-1 of the horizon, growth G_t = g^t, discount factor b_t = (1 + r)^-t and a
knowledge factor r_t that shrinks the research a running commons still has to do as its stock
builds up. Every year's game has the same demands, so the present-value game is the sum of the
years' coefficients, the game of one arrangement kept for the whole horizon.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._bits import FloatArray
from .commons import CommonsGame, combine_commons
from .errors import InvalidParameterError
from .params import AREAS, LabInput, Params

BASE_MODEL_TERM = "shared_base_model"
# Plausibility limits (docs/model.md, section 3): flagged, never refused.
MAX_GROWTH_MULTIPLE = 1_000.0
MAX_STANDALONE_PER_YEAR = 100e9  # $ per lab and year


@dataclass(frozen=True)
class LabArrays:
    """Per-lab inputs as arrays (n labs, A areas), compute in H100-equivalent GPU-hours."""

    names: tuple[str, ...]
    final_run: FloatArray  # F_i, H100-equivalent GPU-hours in year 0
    research: FloatArray  # R_i = F_i rho_i / (1 - rho_i)
    price: FloatArray  # q_i, $ per H100-equivalent GPU-hour
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
        factor = np.array([lab.h100_factor for lab in labs], dtype=np.float64)
        final_run = np.array([lab.final_run_gpu_hours for lab in labs], dtype=np.float64) * factor
        rho = np.array([lab.rd_share for lab in labs], dtype=np.float64)
        return cls(
            names=names,
            final_run=final_run,
            research=final_run * rho / (1.0 - rho),
            price=np.array([lab.price_per_gpu_hour for lab in labs], dtype=np.float64) / factor,
            area_weights=np.array([lab.area_weights for lab in labs], dtype=np.float64),
            openness=np.array([lab.openness for lab in labs], dtype=np.float64),
        )


def knowledge_factors(params: Params) -> FloatArray:
    """r_t: the share of year t's pooled research a running commons still has to do.

    The stock k_t is measured in units of the current year's pooled level. The commons does
    r_t of its level in year t and publishes it; the stock depreciates by delta and is diluted by
    growth g: k_0 = 0, r_t = 1 / (1 + theta k_t), k_{t+1} = ((1 - delta) k_t + r_t) / g. The ratio
    does not depend on the level, so it is the same for every coalition that runs a commons.
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


def outsider_share(params: Params) -> float:
    """u: the share of the commons' published work an outsider can use.

    Work reaches outsiders `embargo_months` late in a one-year generation, so it serves them for
    the rest of the year only: u = spillover_share * max(0, 1 - embargo / 12).
    """
    return params.spillover_share * max(0.0, 1.0 - params.embargo_months / 12.0)


def _year_game(arrays: LabArrays, params: Params, growth: float, knowledge: float, spill: float) -> CommonsGame:
    s = np.asarray(params.shareable_fraction, dtype=np.float64)
    q, research = arrays.price, arrays.research
    demands = (arrays.openness[:, None] * arrays.area_weights * s[None, :] * research[:, None]).T  # (A, n)
    gains = np.tile(growth * q * (1.0 - params.absorption * knowledge), (len(AREAS), 1))
    unit_costs = np.full(len(AREAS), growth * knowledge * params.replication * params.pool_price)
    spills = np.full(len(AREAS), spill)
    names: tuple[str, ...] = AREAS
    if params.shared_base_model:
        demands = np.vstack([demands, arrays.final_run[None, :]])
        gains = np.vstack([gains, growth * q * (1.0 - params.finetune_fraction)])
        unit_costs = np.append(unit_costs, growth * params.pool_price)
        spills = np.append(spills, 0.0)
        names = (*AREAS, BASE_MODEL_TERM)
    return CommonsGame(
        players=arrays.names,
        alone=growth * q * (arrays.final_run + research),
        demand=demands,
        gain=gains,
        unit_cost=unit_costs,
        spill=spills,
        overhead_fixed=params.coordination_fixed,
        overhead_per_member=params.coordination_per_member,
        overhead_exponent=params.coordination_exponent,
        term_names=names,
    )


def yearly_games(labs: Sequence[LabInput], params: Params, *, spillover: bool = True) -> list[CommonsGame]:
    """The undiscounted cost game of each year of the horizon, in $."""
    arrays = LabArrays.from_labs(labs)
    spill = outsider_share(params) if spillover else 0.0
    return [
        _year_game(arrays, params, float(g), float(r), spill)
        for g, r in zip(growth_factors(params), knowledge_factors(params), strict=True)
    ]


def build_game(labs: Sequence[LabInput], params: Params, *, spillover: bool = True) -> CommonsGame:
    """The present-value cost game over the horizon: c(S) = sum_t b_t c_t(S), in $.

    With `spillover=False` outsiders get nothing from the commons: the world without the
    consortium, whose singleton costs are each lab's cost of going entirely alone.
    """
    return combine_commons(yearly_games(labs, params, spillover=spillover), discount_factors(params).tolist())


def plausibility_warnings(labs: Sequence[LabInput], params: Params) -> tuple[str, ...]:
    """Inputs the model accepts but whose implications are implausible; shown beside the numbers."""
    out: list[str] = []
    last = params.horizon_years - 1
    multiple = params.growth**last
    if multiple > MAX_GROWTH_MULTIPLE:
        out.append(
            f"A horizon of {params.horizon_years} years at {params.growth:g}x a year makes final runs in the last "
            f"year {_big(multiple)} times this year's (more than {MAX_GROWTH_MULTIPLE:,.0f}x): treat the later "
            "years as illustrative, or shorten the horizon or lower the growth."
        )
    arrays = LabArrays.from_labs(labs)
    per_year = arrays.price * (arrays.final_run + arrays.research) * multiple
    worst = int(np.argmax(per_year))
    if per_year[worst] > MAX_STANDALONE_PER_YEAR:
        out.append(
            f"{arrays.names[worst]} would spend ${_big(float(per_year[worst]))} in year {params.horizon_years} going "
            f"alone, above the planning limit of ${_big(MAX_STANDALONE_PER_YEAR)} per lab and year (no single "
            "organisation has reported an annual compute budget that large)."
        )
    return tuple(out)


def _big(value: float) -> str:
    """A large amount in words a reader can take in: 1.4 trillion, 539 septillion."""
    names = ((1e24, "septillion"), (1e21, "sextillion"), (1e18, "quintillion"), (1e15, "quadrillion"),
             (1e12, "trillion"), (1e9, "billion"), (1e6, "million"))  # fmt: skip
    if not math.isfinite(value):
        return "an unbounded amount"
    for scale, name in names:
        if value >= scale:
            count = value / scale
            # Three significant digits, but never in exponent form (999.6 -> "1,000", 1.56e8 -> "156,000,000").
            return f"{count:,.0f} {name}" if count >= 100 else f"{count:.3g} {name}"
    return f"{value:,.0f}"
