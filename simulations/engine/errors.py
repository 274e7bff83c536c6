"""Errors raised by the engine. Every message names the problem so a user can fix the input."""

from __future__ import annotations


class EngineError(ValueError):
    """Base class: bad input or a request the engine cannot satisfy."""


class InvalidGameError(EngineError):
    """A game is malformed: NaN or infinite costs, a missing or duplicated coalition, bad players."""


class InvalidParameterError(EngineError):
    """A lab or scenario parameter is missing, not finite, or outside its allowed range."""


class UnknownRuleError(EngineError):
    """The allocation rule is not one of RULES."""


class TooLargeError(EngineError):
    """The number of players is too large for the requested exact method."""
