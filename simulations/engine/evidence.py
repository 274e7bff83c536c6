"""What the model says each member draws from the commons, in GPU-hours, to set beside the ledger.

At central parameters (the spec's own) and in the first year of the horizon (growth 1, no
knowledge stock yet), the grand coalition picks its arrangement (commons.CommonsGame.arrangement).
Under a joint commons, member i draws min(d_ki, L_k) H100-equivalent GPU-hours of term k from it
instead of doing them in house; each hour drawn saves it e_ki / q_i hours of its own compute (e_ki
is the gain in $ per hour drawn, q_i its price per H100-equivalent GPU-hour): 1 - absorption for a
research area, 1 - finetune fraction for the shared base model. Members that do best apart, or with
no commons at all, draw nothing from one another's work: 0 (docs/model.md, "Openness from the ledger").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .commons import TOGETHER
from .model import BASE_MODEL_TERM, LabArrays, yearly_games
from .params import LabInput, Params


@dataclass(frozen=True)
class CommonsDraw:
    """One member's first-year draw from the grand coalition's commons (H100-equivalent GPU-hours a year).

    `drawn` is what it takes from the commons, `saved` the in-house compute that replaces (the
    comparable of the ledger's "GPU-hours saved"), `saved_base_model` the part of `saved` that is
    the shared base model (0 without one).
    """

    name: str
    drawn: float
    saved: float
    saved_base_model: float
    mode: str


def commons_draws(labs: Sequence[LabInput], params: Params) -> dict[str, CommonsDraw]:
    """Per member (by name): what the grand coalition's commons gives it in year 1, at `params`."""
    game = yearly_games(labs, params)[0]
    arrangement = game.arrangement(np.ones(game.n, dtype=bool))
    price = LabArrays.from_labs(labs).price
    if arrangement.mode == TOGETHER:
        drawn = np.minimum(game.demand, arrangement.levels[:, None])  # (K, n)
        saved = drawn * game.gain / price[None, :]
    else:
        drawn = np.zeros_like(game.demand)
        saved = np.zeros_like(game.demand)
    base = [k for k, term in enumerate(game.term_names) if term == BASE_MODEL_TERM]
    return {
        name: CommonsDraw(
            name=name,
            drawn=float(drawn[:, i].sum()),
            saved=float(saved[:, i].sum()),
            saved_base_model=float(saved[base, i].sum()) if base else 0.0,
            mode=arrangement.mode,
        )
        for i, name in enumerate(game.players)
    }
