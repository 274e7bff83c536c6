"""Monte Carlo over parameter ranges, in chunks that merge bitwise-identically.

Draw k uses its own generator, `np.random.default_rng([seed, k])`, so its numbers depend only on
(seed, k): any split of [0, draws) into chunks, on any workers, gives the same results. Each
uncertain parameter is drawn from a triangular distribution over its plausible range with the
scenario's value as the mode (the range is widened to include that value if needed). Scenario
parameters are drawn once per draw for every lab (a common shock); per-lab parameters are drawn
independently for each lab.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _kernels
from ._bits import FloatArray
from .commons import CommonsGame
from .drawstability import (
    BLOCKERS_PER_DRAW,
    MAX_DRAW_PLAYERS,
    WarmStart,
    check_draw,
    check_draw_separation,
    checked_draws,
    tolerance,
)
from .errors import EngineError
from .model import build_game
from .params import AREAS, LAB_SPECS, LAB_UNCERTAIN, PARAMETER_SPECS, LabInput, Params
from .rules import allocate
from .rules.nucleolus import least_core, least_core_epsilon_warm, nucleolus

if TYPE_CHECKING:
    from .scenario import ScenarioSpec

# Beyond exact enumeration (20 members of the commons game) each draw's Shapley value is sampled with at most this many
# join orders; the central value uses the full tolerance. The sampling error of a draw adds to the
# spread of the band a little (docs/model.md, section 6).
DRAW_PERMUTATIONS = 1024


def _triangular(rng: np.random.Generator, low: float, mode: float, high: float) -> float:
    low, high = min(low, mode), max(high, mode)
    if high <= low:
        return mode
    return float(rng.triangular(low, mode, high))


def draw_inputs(spec: ScenarioSpec, k: int) -> tuple[tuple[LabInput, ...], Params]:
    """Labs and parameters of draw k (draw 0 is not special: every draw is random)."""
    rng = np.random.default_rng([spec.seed, k])
    changes: dict[str, Any] = {}
    labs = spec.labs
    for name in spec.uncertain:
        if name in PARAMETER_SPECS:
            ps = PARAMETER_SPECS[name]
            current = getattr(spec.params, name)
            if ps.kind == "area":
                changes[name] = tuple(_triangular(rng, ps.plausible_low, float(v), ps.plausible_high) for v in current)
            else:
                changes[name] = _triangular(rng, ps.plausible_low, float(current), ps.plausible_high)
        else:
            ls = LAB_SPECS[name]
            drawn: list[LabInput] = []
            for lab in labs:
                value: dict[str, Any] = {
                    name: _triangular(rng, ls.plausible_low, float(getattr(lab, name)), ls.plausible_high)
                }
                drawn.append(dataclasses.replace(lab, **value))
            labs = tuple(drawn)
    return labs, dataclasses.replace(spec.params, **changes)


def _encode(array: FloatArray) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f8").tobytes()).decode("ascii")


def _decode(text: str, shape: Sequence[int]) -> FloatArray:
    data = np.frombuffer(base64.b64decode(text), dtype="<f8").astype(np.float64)
    return data.reshape(tuple(shape))


@dataclass(frozen=True)
class ChunkStability:
    """Per-draw core checks of draws [start, stop) (drawstability.check_draw), m = stop - start:
    per rule the largest excess, in-core flags (1.0 or 0.0) (rules x m), the largest blockers as
    coalition masks (-1 pads; masks below 2^20 are exact in float64) and their excesses
    (rules x m x BLOCKERS_PER_DRAW); per draw the least-core epsilon and the check's tolerance (m)."""

    max_excess: FloatArray
    in_core: FloatArray
    blockers: FloatArray
    blocker_excess: FloatArray
    epsilon: FloatArray
    tolerance: FloatArray

    @staticmethod
    def empty(rules: int, m: int) -> ChunkStability:
        k = BLOCKERS_PER_DRAW
        return ChunkStability(
            max_excess=np.zeros((rules, m)),
            in_core=np.zeros((rules, m)),
            blockers=np.full((rules, m, k), -1.0),
            blocker_excess=np.full((rules, m, k), np.nan),
            epsilon=np.zeros(m),
            tolerance=np.zeros(m),
        )

    def shapes(self, rules: int, m: int) -> dict[str, tuple[int, ...]]:
        k = BLOCKERS_PER_DRAW
        return {
            "max_excess": (rules, m),
            "in_core": (rules, m),
            "blockers": (rules, m, k),
            "blocker_excess": (rules, m, k),
            "epsilon": (m,),
            "tolerance": (m,),
        }


@dataclass(frozen=True)
class ChunkSeparation:
    """Per-draw core checks beyond MAX_DRAW_PLAYERS (drawstability.check_draw_separation) of the
    draws of [start, stop) among the run's drawstability.checked_draws(n, draws): their indices `draws`
    (c of them); per rule the largest excess found and its upper bound, the in-core and decided
    flags (1.0 or 0.0) (rules x c), the blockers as arbitrary-precision coalition masks (rules x c
    lists of up to BLOCKERS_PER_DRAW ints; lowercase hex in to_dict, exact for any n) and their
    excesses (rules x c x BLOCKERS_PER_DRAW); per draw the least-core epsilon's bracket, the
    check's tolerance and whether the search was exact (c)."""

    draws: tuple[int, ...]
    max_excess: FloatArray
    max_excess_upper: FloatArray
    in_core: FloatArray
    decided: FloatArray
    blockers: tuple[tuple[tuple[int, ...], ...], ...]
    blocker_excess: FloatArray
    epsilon_lower: FloatArray
    epsilon_upper: FloatArray
    tolerance: FloatArray
    exact: FloatArray

    ARRAYS = (
        "max_excess",
        "max_excess_upper",
        "in_core",
        "decided",
        "blocker_excess",
        "epsilon_lower",
        "epsilon_upper",
        "tolerance",
        "exact",
    )

    @staticmethod
    def shapes(rules: int, c: int) -> dict[str, tuple[int, ...]]:
        per_rule = (rules, c)
        per_draw = (c,)
        return {
            "max_excess": per_rule,
            "max_excess_upper": per_rule,
            "in_core": per_rule,
            "decided": per_rule,
            "blocker_excess": (rules, c, BLOCKERS_PER_DRAW),
            "epsilon_lower": per_draw,
            "epsilon_upper": per_draw,
            "tolerance": per_draw,
            "exact": per_draw,
        }

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"draws": list(self.draws)}
        out.update({name: _encode(getattr(self, name)) for name in self.ARRAYS})
        out["blockers"] = [[[format(mask, "x") for mask in masks] for masks in rule] for rule in self.blockers]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], rules: int) -> ChunkSeparation:
        draws = tuple(int(k) for k in data["draws"])
        shapes = cls.shapes(rules, len(draws))
        blockers = tuple(tuple(tuple(int(mask, 16) for mask in masks) for masks in rule) for rule in data["blockers"])
        arrays = {name: _decode(data[name], shape) for name, shape in shapes.items()}
        return cls(draws=draws, blockers=blockers, **arrays)

    @classmethod
    def merge(cls, parts: Sequence[ChunkSeparation], rules: int) -> ChunkSeparation:
        """Parts in draw order joined along the draws."""
        axis = {name: len(shape) - (2 if name == "blocker_excess" else 1) for name, shape in cls.shapes(1, 1).items()}
        return cls(
            draws=tuple(k for part in parts for k in part.draws),
            blockers=tuple(tuple(masks for part in parts for masks in part.blockers[r]) for r in range(rules)),
            **{name: np.concatenate([getattr(part, name) for part in parts], axis=a) for name, a in axis.items()},
        )


@dataclass(frozen=True, eq=False)
class ChunkResult:
    """Draws [start, stop): outside options (draws x members), costs in a world without the
    consortium (draws x members) and allocated costs per rule (rules x draws x members); with at
    most MAX_DRAW_PLAYERS members also every draw's core checks (`stability`, else None); with more,
    the separation checks of the run's checked draws that fall in the chunk (`separation`, else None)."""

    start: int
    stop: int
    players: tuple[str, ...]
    rules: tuple[str, ...]
    standalone: FloatArray
    allocated: FloatArray
    no_consortium: FloatArray
    stability: ChunkStability | None = None
    separation: ChunkSeparation | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: arrays as base64 of little-endian float64 (exact round trip)."""
        out: dict[str, Any] = {
            "start": self.start,
            "stop": self.stop,
            "players": list(self.players),
            "rules": list(self.rules),
            "standalone": _encode(self.standalone),
            "allocated": _encode(self.allocated),
            "no_consortium": _encode(self.no_consortium),
        }
        if self.stability is not None:
            out["stability"] = {name: _encode(value) for name, value in vars(self.stability).items()}
        if self.separation is not None:
            out["separation"] = self.separation.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChunkResult:
        players, rules = tuple(data["players"]), tuple(data["rules"])
        m = int(data["stop"]) - int(data["start"])
        stability = None
        if data.get("stability") is not None:
            shapes = ChunkStability.empty(0, 0).shapes(len(rules), m)
            stability = ChunkStability(
                **{name: _decode(data["stability"][name], shape) for name, shape in shapes.items()}
            )
        return cls(
            start=int(data["start"]),
            stop=int(data["stop"]),
            players=players,
            rules=rules,
            standalone=_decode(data["standalone"], (m, len(players))),
            allocated=_decode(data["allocated"], (len(rules), m, len(players))),
            no_consortium=_decode(data["no_consortium"], (m, len(players))),
            stability=stability,
            separation=(
                ChunkSeparation.from_dict(data["separation"], len(rules))
                if data.get("separation") is not None
                else None
            ),
        )


# How many draws the draw-ahead thread may build ahead of the main thread: with two, a draw whose
# rules take longer than its table (more LP rounds) does not leave the thread idle.
DRAWS_AHEAD = 2


def _draw(spec: ScenarioSpec, k: int) -> tuple[CommonsGame, FloatArray]:
    """Draw k's game and each member's cost alone without the consortium's spillover (the same
    game with no spillover: build_game(spillover=False) gives it term by term, built again)."""
    labs, params = draw_inputs(spec, k)
    game = build_game(labs, params)
    return game, dataclasses.replace(game, spill=np.zeros_like(game.spill)).standalone()


def _draw_ahead(spec: ScenarioSpec, k: int, ready: Future[tuple[CommonsGame, FloatArray]]) -> None:
    """On the draw-ahead thread: draw k's game, handed over through `ready` as soon as it exists,
    then its table's job (CommonsGame.table_job), which the main thread joins once it is done
    with the draw before (its first to_explicit takes the tasks this thread has not reached)."""
    try:
        drawn = _draw(spec, k)
        job, _ = drawn[0].table_job()
    except BaseException as error:
        ready.set_exception(error)
        raise
    ready.set_result(drawn)
    job.work()


def simulate_chunk(spec: ScenarioSpec, start: int, stop: int) -> ChunkResult:
    """Run draws start .. stop - 1 of the scenario's Monte Carlo."""
    if not 0 <= start <= stop <= spec.draws:
        raise EngineError(f"chunk [{start}, {stop}) is outside the scenario's draws [0, {spec.draws})")
    n = len(spec.labs)
    m = stop - start
    standalone = np.empty((m, n))
    no_consortium = np.empty((m, n))
    allocated = np.empty((len(spec.rules), m, n))
    weights = np.array([lab.weight for lab in spec.labs], dtype=np.float64)
    checks = ChunkStability.empty(len(spec.rules), m) if n <= MAX_DRAW_PLAYERS else None
    warm = central_warm_start(spec) if checks is not None and m > 0 else WarmStart()
    # Beyond the table: the run's checked_draws(n, draws), wherever the chunk starts.
    separated = [k for k in checked_draws(n, spec.draws) if start <= k < stop] if checks is None else []
    separations: list[Any] = []
    tables = checks is not None
    # The next draws' tables are built on another thread while draw k's rules and checks run: the
    # table's kernels release the GIL, and the LPs (HiGHS holds it) leave the second core idle.
    # Done with draw k, the main thread joins the next table's job instead of waiting for it.
    ahead = _kernels.thread_pool("draw-ahead") if tables and m > 1 else None
    ready: dict[int, Future[tuple[CommonsGame, FloatArray]]] = {}
    running: list[Future[None]] = []
    for row, k in enumerate(range(start, stop)):
        if ahead is not None:
            for later in range(k + 1, min(k + 1 + DRAWS_AHEAD, stop)):
                if later not in ready:
                    ready[later] = Future()
                    running = [f for f in running if not f.done()]
                    running.append(ahead.submit(_draw_ahead, spec, later, ready[later]))
        held = ready.pop(k, None)
        game, no_consortium[row] = held.result() if held is not None else _draw(spec, k)
        if tables:
            game.to_explicit(split=False)  # joins the job the draw-ahead thread started, if any
        standalone[row] = game.standalone()
        epsilon = None
        solved = None  # the draw's nucleolus, once computed: it may prove the least-core epsilon
        for r, rule in enumerate(spec.rules):
            if checks is not None and rule == "nucleolus":
                solved = nucleolus(game.to_explicit(), seed=warm.nucleolus)
                allocated[r, row] = solved.values
                continue
            if checks is not None and rule == "least_core":
                seed, known = warm.least_core, None
                if solved is not None:
                    known = solved.least_core_epsilon
                    seed = solved.least_core_tight if seed is None else np.union1d(solved.least_core_tight, seed)
                epsilon, allocated[r, row] = least_core(game.to_explicit(), seed=seed, epsilon=known)
                continue
            allocated[r, row] = allocate(
                game,
                rule,
                weights=weights,
                rng=np.random.default_rng([spec.seed, k, r]),
                max_permutations=DRAW_PERMUTATIONS,
            ).values
        if checks is not None:
            table = game.to_explicit()
            check = check_draw(table, allocated[:, row], warm, epsilon)
            checks.max_excess[:, row] = check.max_excess
            checks.in_core[:, row] = check.in_core
            checks.blockers[:, row] = check.blockers
            checks.blocker_excess[:, row] = check.blocker_excess
            checks.epsilon[row] = check.epsilon
            checks.tolerance[row] = tolerance(table.grand_cost(), standalone[row])
        if k in separated:
            separations.append(
                (check_draw_separation(game, allocated[:, row]), tolerance(game.grand_cost(), standalone[row]))
            )
    for future in running:
        future.result()  # the ahead thread's errors surface here
    players = tuple(lab.name for lab in spec.labs)
    separation = _chunk_separation(tuple(separated), separations, len(spec.rules)) if n > MAX_DRAW_PLAYERS else None
    return ChunkResult(start, stop, players, spec.rules, standalone, allocated, no_consortium, checks, separation)


def _chunk_separation(draws: tuple[int, ...], checked: list[Any], rules: int) -> ChunkSeparation:
    """The chunk's separated draws (drawstability.SeparatedDraw, tolerance) as ChunkSeparation arrays."""
    c = len(draws)
    if not c:
        empty = {name: np.zeros(shape) for name, shape in ChunkSeparation.shapes(rules, 0).items()}
        return ChunkSeparation(draws=(), blockers=((),) * rules, **empty)

    def per_rule(name: str) -> FloatArray:
        return np.array([getattr(d, name) for d, _ in checked], dtype=np.float64).T.reshape(rules, c)

    return ChunkSeparation(
        draws=draws,
        max_excess=per_rule("max_excess"),
        max_excess_upper=per_rule("max_excess_upper"),
        in_core=per_rule("in_core"),
        decided=per_rule("decided"),
        blockers=tuple(tuple(d.blockers[r] for d, _ in checked) for r in range(rules)),
        blocker_excess=np.array([d.blocker_excess for d, _ in checked], dtype=np.float64)
        .transpose(1, 0, 2)
        .reshape(rules, c, BLOCKERS_PER_DRAW),
        epsilon_lower=np.array([d.epsilon_lower for d, _ in checked], dtype=np.float64),
        epsilon_upper=np.array([d.epsilon_upper for d, _ in checked], dtype=np.float64),
        tolerance=np.array([t for _, t in checked], dtype=np.float64),
        exact=np.array([d.exact for d, _ in checked], dtype=np.float64),
    )


def central_warm_start(spec: ScenarioSpec) -> WarmStart:
    """Tight coalitions at central parameters, the seed of every draw's LPs.

    A draw's game is a perturbation of the central one, so most coalitions tight there are tight
    in the draw too. Seeding each draw from the previous one did no better when measured (at 20
    members a median of 17 LP solves per nucleolus against 16, cold 25) and would make a draw's
    last bits depend on where its chunk starts; the central seed keeps any chunking bitwise
    identical.
    """
    table = build_game(spec.labs, spec.params).to_explicit()
    warm = WarmStart()
    _, _, warm.least_core = least_core_epsilon_warm(table)
    if "nucleolus" in spec.rules:
        warm.nucleolus = nucleolus(table).tight
    return warm


def uncertain_names() -> tuple[str, ...]:
    """Every name Monte Carlo can draw."""
    return tuple(name for name, s in PARAMETER_SPECS.items() if s.uncertain) + LAB_UNCERTAIN


__all__ = [
    "AREAS",
    "ChunkResult",
    "ChunkSeparation",
    "ChunkStability",
    "draw_inputs",
    "simulate_chunk",
    "uncertain_names",
]
