"""Hypothesis strategies for random consortium scenarios: labs of mixed GPU types, parameters in range."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from simulations.engine import AREAS, GPU_TYPES, LabInput, Params

from .helpers import area_weights

EXAMPLES = int(os.environ.get("ENGINE_HYPOTHESIS_EXAMPLES", "25"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

fractions = st.floats(0.0, 1.0, allow_nan=False)
openness = st.one_of(st.just(0.0), st.just(1.0), fractions)


@st.composite
def labs(
    draw: st.DrawFn, min_n: int = 2, max_n: int = 8, openness: st.SearchStrategy[float] = openness
) -> list[LabInput]:
    """Labs with final runs from 1 to 1e8 GPU-hours of their own type, any R&D share up to 0.95,
    prices from $0.50 to $6 per hour of their type, any openness and any spread over the areas."""
    n = draw(st.integers(min_n, max_n))
    out = []
    for i in range(n):
        gpu = draw(st.sampled_from([*GPU_TYPES, "other"]))
        factor = draw(st.floats(0.1, 3.0)) if gpu == "other" else None
        raw = draw(st.lists(st.floats(0.0, 1.0), min_size=len(AREAS), max_size=len(AREAS)))
        out.append(
            LabInput(
                name=f"lab{i}",
                final_run_gpu_hours=10 ** draw(st.floats(0.0, 8.0)),
                rd_share=draw(st.floats(0.0, 0.95)),
                price_per_gpu_hour=draw(st.floats(0.5, 6.0)),
                area_weights=area_weights(raw),
                openness=draw(openness),
                weight=draw(st.floats(0.1, 10.0)),
                gpu_type=gpu,
                throughput_factor=factor,
            )
        )
    return out


@st.composite
def params(draw: st.DrawFn, **fixed: Any) -> Params:
    """Scenario parameters drawn over their allowed ranges (horizon up to 6 years, growth up to 5x,
    overheads up to $100M and $10M a member); keyword arguments fix a parameter or give its strategy."""
    ranges: dict[str, st.SearchStrategy[Any]] = {
        "shareable_fraction": st.tuples(*[fractions] * len(AREAS)),
        "replication": st.floats(1.0, 3.0),
        "absorption": fractions,
        "coordination_fixed": st.one_of(st.just(0.0), st.floats(0.0, 1e8)),
        "coordination_per_member": st.one_of(st.just(0.0), st.floats(0.0, 1e7)),
        "coordination_exponent": st.floats(1.0, 2.0),
        "pool_price": st.floats(0.5, 6.0),
        "shared_base_model": st.booleans(),
        "finetune_fraction": fractions,
        "horizon_years": st.integers(1, 6),
        "growth": st.floats(1.0, 5.0),
        "depreciation": fractions,
        "compounding": st.floats(0.0, 1.0),
        "embargo_months": st.floats(0.0, 24.0),
        "spillover_share": fractions,
        "discount_rate": st.floats(0.0, 0.5),
    }
    values = {}
    for name, strategy in ranges.items():
        given = fixed.get(name, strategy)
        values[name] = draw(given) if isinstance(given, st.SearchStrategy) else given
    return Params(**values)
