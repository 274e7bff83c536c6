"""Allocation rules: `allocate(game, rule)` dispatches by rule name."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._bits import FloatArray
from ..commons import CommonsGame
from ..errors import TooLargeError, UnknownRuleError
from ..games import MAX_EXPLICIT_PLAYERS, ExplicitGame, Game, StructuredGame
from . import banzhaf as _banzhaf
from . import nucleolus as _nucleolus
from . import simple as _simple
from .base import Allocation
from .shapley import shapley_enumeration, shapley_sampling, shapley_structured

RULES: tuple[str, ...] = (
    "shapley",
    "nucleolus",
    "least_core",
    "proportional",
    "weighted",
    "ensc",
    "scrb",
    "banzhaf",
    "equal",
)
RULE_LABELS: dict[str, str] = {
    "shapley": "Shapley value",
    "nucleolus": "Nucleolus",
    "least_core": "Least core",
    "proportional": "Proportional to stand-alone cost",
    "weighted": "Proportional to member weight",
    "ensc": "Equal split of non-separable costs",
    "scrb": "Separable costs remaining benefits",
    "banzhaf": "Normalized Banzhaf value",
    "equal": "Equal split",
}
RULE_ALIASES: dict[str, str] = {"least-core": "least_core", "leastcore": "least_core"}
MAX_NUCLEOLUS_PLAYERS = 22
MAX_ENUMERATION_PLAYERS = MAX_EXPLICIT_PLAYERS
MAX_COMMONS_ENUMERATION = 20

__all__ = ["RULES", "RULE_LABELS", "Allocation", "allocate", "normalize_rule"]


def normalize_rule(rule: str) -> str:
    name = RULE_ALIASES.get(rule.strip().lower(), rule.strip().lower()) if isinstance(rule, str) else rule
    if name not in RULES:
        raise UnknownRuleError(f"unknown rule {rule!r}; choose one of: {', '.join(RULES)}")
    return name


def _explicit(game: Game, limit: int, what: str) -> ExplicitGame:
    if game.n > limit:
        raise TooLargeError(f"{what} needs all 2^n coalitions; n = {game.n} is above the limit of {limit}")
    return game.to_explicit()


def allocate(
    game: Game,
    rule: str,
    *,
    weights: Sequence[float] | FloatArray | None = None,
    rng: np.random.Generator | None = None,
    seed: int | None = None,
    tolerance: float | None = None,
    method: str = "auto",
    max_permutations: int = 100_000,
) -> Allocation:
    """Split c(N) among the players by `rule` (one of RULES, or "least-core").

    `method` matters for Shapley only: "auto" (closed form on structured games, enumeration up to
    MAX_ENUMERATION_PLAYERS, sampling beyond), "closed_form", "enumeration" or "sampling".
    Sampling draws from `rng` (or a generator seeded with `seed`) until every standard error is
    below `tolerance` (default 1e-3 of the mean cost c(N)/n) or `max_permutations` is reached.
    """
    name = normalize_rule(rule)
    values: FloatArray
    if name == "shapley":
        return _shapley(game, method, rng, seed, tolerance, max_permutations)
    if name == "banzhaf":
        if isinstance(game, StructuredGame):
            raw, how = _banzhaf.banzhaf_raw_structured(game), "closed form on the airport structure"
        else:
            raw = _banzhaf.banzhaf_raw_enumeration(_explicit(game, MAX_ENUMERATION_PLAYERS, "Banzhaf"))
            how = "enumeration of all coalitions"
        values = _banzhaf.normalize(raw, game.grand_cost())
        return Allocation(name, values, True, None, how, game.players)
    if name == "nucleolus":
        result = _nucleolus.nucleolus(_explicit(game, MAX_NUCLEOLUS_PLAYERS, "the nucleolus"))
        how = f"sequential LPs (HiGHS) with constraint generation over {result.domain}s"
        extra = {"lp_solves": float(result.lp_solves), "stages": float(len(result.levels))}
        if len(result.levels):
            extra["first_level_excess"] = float(result.levels[0])
        return Allocation(name, result.values, True, None, how, game.players, extra)
    if name == "least_core":
        eps, values = _nucleolus.least_core(_explicit(game, MAX_NUCLEOLUS_PLAYERS, "the least core"))
        how = "LP (HiGHS) for epsilon, then the least-core point nearest to the proportional split (Euclidean)"
        return Allocation(name, values, True, None, how, game.players, {"epsilon": eps})
    if name == "weighted":
        if weights is None:
            raise UnknownRuleError("the weighted rule needs weights, one per player")
        values = _simple.weighted(game, np.asarray(weights, dtype=np.float64))
        how = "private costs plus joint costs in proportion to the weights"
        return Allocation(name, values, True, None, how, game.players)
    simple = {
        "proportional": (_simple.proportional, "private costs plus joint costs in proportion to stand-alone costs"),
        "ensc": (_simple.ensc, "private costs plus separable joint costs plus an equal share of the rest"),
        "scrb": (_simple.scrb, "separable costs plus non-separable costs by remaining benefit (floored at 0)"),
        "equal": (_simple.equal, "private costs plus an equal share of the joint costs"),
    }
    func, how = simple[name]
    values = func(game)
    return Allocation(name, values, True, None, how, game.players)


def _shapley(
    game: Game,
    method: str,
    rng: np.random.Generator | None,
    seed: int | None,
    tolerance: float | None,
    max_permutations: int,
) -> Allocation:
    if method not in ("auto", "closed_form", "enumeration", "sampling"):
        raise UnknownRuleError(f"unknown Shapley method {method!r}")
    if method in ("auto", "closed_form") and isinstance(game, StructuredGame):
        values = shapley_structured(game)
        how = "closed form on the airport structure: additive part, Littlechild-Owen terms, symmetric overhead"
        return Allocation("shapley", values, True, None, how, game.players)
    if method == "closed_form":
        raise TooLargeError("a closed-form Shapley value needs a structured game")
    # The commons game's table costs O(K 2^n) time and a dozen 2^n arrays of memory to build: past
    # 20 members (1M coalitions) that is seconds and gigabytes per Monte Carlo draw, so it is sampled.
    limit = MAX_COMMONS_ENUMERATION if isinstance(game, CommonsGame) else MAX_ENUMERATION_PLAYERS
    if method == "enumeration" or (method == "auto" and game.n <= limit):
        values = shapley_enumeration(_explicit(game, MAX_ENUMERATION_PLAYERS, "exact Shapley"))
        return Allocation("shapley", values, True, None, "enumeration of all coalitions", game.players)
    generator = rng if rng is not None else np.random.default_rng(seed)
    tol = tolerance if tolerance is not None else 1e-3 * abs(game.grand_cost()) / game.n
    estimate, stderr, used = shapley_sampling(game, generator, tolerance=tol, max_permutations=max_permutations)
    how = f"permutation sampling ({used} permutations; stops at standard error <= {tol:.4g})"
    return Allocation("shapley", estimate, False, stderr, how, game.players, {"permutations": float(used)})
