"""Game and lab generators shared by the engine tests."""

from __future__ import annotations

import numpy as np

from simulations.engine import ExplicitGame, LabInput
from simulations.engine._bits import masks_to_bool


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


def random_labs(n: int, seed: int) -> list[LabInput]:
    rng = np.random.default_rng(seed)
    labs = []
    for i in range(n):
        weights = rng.dirichlet(np.ones(6))
        weights[-1] = 1.0 - weights[:-1].sum()
        labs.append(
            LabInput(
                name=f"lab{i}",
                final_run_gpu_hours=float(rng.uniform(1e5, 5e6)),
                rd_share=float(rng.uniform(0.5, 0.9)),
                price_per_gpu_hour=float(rng.choice([1.56, 2.6, 3.12, 4.55])),
                area_weights=tuple(float(max(w, 0.0)) for w in weights),
                openness=float(rng.uniform(0.3, 1.0)),
                weight=float(rng.uniform(0.5, 2.0)),
                delivered_value=float(rng.uniform(0, 1e7)),
            )
        )
    return labs
