"""The numeric engine of the consortium planner: numpy and scipy only, no Django below here.

Inputs are plain dataclasses (LabInput, Params, ScenarioSpec); outputs are plain results.
See docs/model.md for the cost model and the methods.
"""

from __future__ import annotations

from .errors import (
    EngineError,
    InvalidGameError,
    InvalidParameterError,
    TooLargeError,
    UnknownRuleError,
)
from .games import ExplicitGame, Game, StructuredGame, game_to_csv, read_csv_game
from .model import build_game, yearly_games
from .montecarlo import ChunkResult, draw_inputs, simulate_chunk, uncertain_names
from .params import (
    AREA_LABELS,
    AREAS,
    DEFAULT_UNCERTAIN,
    LAB_SPECS,
    PARAMETER_SPECS,
    LabInput,
    Params,
    ParamSpec,
)
from .rules import RULE_LABELS, RULES, Allocation, allocate, normalize_rule
from .scenario import (
    ENGINE_VERSION,
    MemberResult,
    RuleResult,
    ScenarioResult,
    ScenarioSpec,
    Transfer,
    finalize,
    run_scenario,
)
from .stability import Stability, check_stability

__all__ = [
    "AREAS",
    "AREA_LABELS",
    "DEFAULT_UNCERTAIN",
    "ENGINE_VERSION",
    "LAB_SPECS",
    "PARAMETER_SPECS",
    "RULES",
    "RULE_LABELS",
    "Allocation",
    "ChunkResult",
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
    "normalize_rule",
    "read_csv_game",
    "run_scenario",
    "simulate_chunk",
    "uncertain_names",
    "yearly_games",
]
