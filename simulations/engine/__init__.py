"""The numeric engine of the consortium planner: numpy and scipy only, no Django below here.

Inputs are plain dataclasses (LabInput, Params, ScenarioSpec); outputs are plain results.
See docs/model.md for the cost model and the methods.
"""

from __future__ import annotations

from .commons import Arrangement, CommonsGame
from .drawstability import BlockingGroup, DrawStability
from .errors import (
    EngineError,
    InvalidGameError,
    InvalidParameterError,
    TooLargeError,
    UnknownRuleError,
)
from .games import ExplicitGame, Game, StructuredGame, game_to_csv, read_csv_game
from .model import build_game, outsider_share, plausibility_warnings, yearly_games
from .montecarlo import ChunkResult, draw_inputs, simulate_chunk, uncertain_names
from .params import (
    AREA_LABELS,
    AREAS,
    DEFAULT_UNCERTAIN,
    GPU_TYPES,
    LAB_SPECS,
    PARAMETER_SPECS,
    LabInput,
    Params,
    ParamSpec,
)
from .rules import RULE_LABELS, RULES, Allocation, allocate, normalize_rule
from .scenario import (
    ENGINE_VERSION,
    HEADLINE_CENTRAL,
    HEADLINE_MEDIAN,
    STABILITY_ASSUMPTION,
    MemberResult,
    RuleResult,
    ScenarioResult,
    ScenarioSpec,
    Transfer,
    finalize,
    run_scenario,
)
from .stability import Stability, check_stability
from .weights import WEIGHT_BASES, member_weights

__all__ = [
    "AREAS",
    "AREA_LABELS",
    "DEFAULT_UNCERTAIN",
    "ENGINE_VERSION",
    "GPU_TYPES",
    "HEADLINE_CENTRAL",
    "HEADLINE_MEDIAN",
    "LAB_SPECS",
    "PARAMETER_SPECS",
    "RULES",
    "RULE_LABELS",
    "STABILITY_ASSUMPTION",
    "WEIGHT_BASES",
    "Allocation",
    "Arrangement",
    "BlockingGroup",
    "ChunkResult",
    "CommonsGame",
    "DrawStability",
    "EngineError",
    "ExplicitGame",
    "Game",
    "InvalidGameError",
    "InvalidParameterError",
    "LabInput",
    "MemberResult",
    "ParamSpec",
    "Params",
    "RuleResult",
    "ScenarioResult",
    "ScenarioSpec",
    "Stability",
    "StructuredGame",
    "TooLargeError",
    "Transfer",
    "UnknownRuleError",
    "allocate",
    "build_game",
    "check_stability",
    "draw_inputs",
    "finalize",
    "game_to_csv",
    "member_weights",
    "normalize_rule",
    "outsider_share",
    "plausibility_warnings",
    "read_csv_game",
    "run_scenario",
    "simulate_chunk",
    "uncertain_names",
    "yearly_games",
]
