"""Game and lab generators shared by the engine tests."""

from __future__ import annotations

import numpy as np

from simulations.engine import GPU_TYPES, ExplicitGame, LabInput, StructuredGame
from simulations.engine._bits import masks_to_bool

EVEN_AREAS = (1 / 6,) * 6


def names(n: int) -> tuple[str, ...]:
    return tuple(f"p{i}" for i in range(n))


def random_game(n: int, seed: int, scale: float = 10.0) -> ExplicitGame:
    costs = np.random.default_rng(seed).random(1 << n) * scale
    costs[0] = 0.0
    return ExplicitGame(names(n), costs)


def concave_game(n: int, seed: int) -> ExplicitGame:
    """Submodular: sums of concave functions of additive measures plus airport terms."""
    rng = np.random.default_rng(seed)
    members = masks_to_bool(np.arange(1 << n, dtype=np.int64), n)
    costs = np.zeros(1 << n)
    for _ in range(2):
        costs += rng.random() * np.sqrt(members @ rng.random(n))
        costs += rng.random() * np.where(members, rng.random(n), 0.0).max(axis=1)
    costs += members @ rng.random(n)
    costs[0] = 0.0
    return ExplicitGame(names(n), costs)


def area_weights(raw: np.ndarray) -> tuple[float, ...]:
    """Six non-negative weights summing to 1 (the last one takes the rounding)."""
    w = np.asarray(raw, dtype=np.float64)
    w = w / w.sum() if w.sum() > 0 else np.full(6, 1 / 6)
    out = [float(v) for v in w[:-1]]
    return (*out, max(0.0, 1.0 - sum(out)))


def random_labs(n: int, seed: int) -> list[LabInput]:
    """Labs of mixed GPU types, prices in each type's own hours, openness 0.3 to 1."""
    rng = np.random.default_rng(seed)
    gpus = list(GPU_TYPES)
    labs = []
    for i in range(n):
        gpu = gpus[int(rng.integers(len(gpus)))]
        labs.append(
            LabInput(
                name=f"lab{i}",
                final_run_gpu_hours=float(rng.uniform(1e5, 5e6)),
                rd_share=float(rng.uniform(0.5, 0.9)),
                price_per_gpu_hour=round(GPU_TYPES[gpu].price_per_hour * 1.3 * float(rng.uniform(0.8, 1.2)), 2),
                area_weights=area_weights(rng.dirichlet(np.ones(6))),
                openness=float(rng.uniform(0.3, 1.0)),
                weight=float(rng.uniform(0.5, 2.0)),
                delivered_value=float(rng.uniform(0, 1e7)),
                gpu_type=gpu,
            )
        )
    return labs


def h100_lab(name: str, final_run: float, **changes: object) -> LabInput:
    """An H100 lab at the default price, R&D share 0.8 and even area weights."""
    values: dict[str, object] = {
        "name": name,
        "final_run_gpu_hours": final_run,
        "rd_share": 0.8,
        "price_per_gpu_hour": 3.12,
        "area_weights": EVEN_AREAS,
        **changes,
    }
    return LabInput(**values)  # type: ignore[arg-type]


def random_structured_game(n: int, seed: int, *, exponent: float = 1.0, terms: int = 4) -> StructuredGame:
    """An airport-structured game like v1's model: additive part, airport terms with a tie, overhead,
    and stand-alone costs a little above the coalition formula at the singletons."""
    rng = np.random.default_rng(seed)
    demands = rng.random((terms, n)) * 1e6
    demands[:, -1] = demands[:, 0]  # a tie in every term
    additive = rng.uniform(1e5, 1e6, n)
    prices = rng.uniform(0.5, 3.0, terms)
    formula = additive + prices @ demands
    return StructuredGame(
        players=names(n),
        additive=additive,
        airport_prices=prices,
        airport_demands=demands,
        standalone_costs=formula * rng.uniform(1.0, 1.3, n),
        overhead_fixed=float(rng.uniform(0, 2e5)),
        overhead_per_member=float(rng.uniform(0, 5e4)),
        overhead_exponent=exponent,
    )
