"""Plausibility warnings: inputs the model accepts but whose implications are implausible, case by case."""

from __future__ import annotations

import pytest

from simulations.engine import Params, plausibility_warnings
from simulations.engine.model import _big

from .helpers import h100_lab

DEEPSEEK = 2_788_000.0  # the default final run, in H100-class hours at $3.12


@pytest.mark.parametrize(
    ("horizon", "growth", "final_run", "growth_warning", "spend_warning"),
    [
        (1, 3.0, DEEPSEEK, None, None),
        (7, 3.0, DEEPSEEK, None, None),
        (4, 10.0, DEEPSEEK, None, None),
        (8, 3.0, DEEPSEEK, "in the last year 2,187 times this year's (more than 1,000x)", None),
        (9, 3.0, DEEPSEEK, "6,561 times", "lab would spend $285 billion in year 9 going alone"),
        (10, 3.0, DEEPSEEK, "A horizon of 10 years at 3x a year makes final runs", "$856 billion in year 10"),
        (5, 10.0, DEEPSEEK, "10,000 times", "$435 billion in year 5"),
        (20, 10.0, DEEPSEEK, "10 quintillion times", "lab would spend $435 septillion in year 20"),
        (20, 10.0, 1e12, "10 quintillion times", "lab would spend $156,000,000 septillion in year 20"),
        (1, 3.0, 1e10, None, "lab would spend $156 billion in year 1 going alone"),
        (1, 3.0, 1e10, None, "above the planning limit of $100 billion per lab and year"),
    ],
)
def test_plausibility_warnings(
    horizon: int, growth: float, final_run: float, growth_warning: str | None, spend_warning: str | None
) -> None:
    warnings = plausibility_warnings([h100_lab("lab", final_run)], Params(horizon_years=horizon, growth=growth))
    expected = [part for part in (growth_warning, spend_warning) if part]
    assert len(warnings) == len(expected), warnings
    for warning, part in zip(warnings, expected, strict=True):
        assert part in warning
        assert "e+" not in warning


def test_defaults_flag_nothing() -> None:
    assert plausibility_warnings([h100_lab("lab", DEEPSEEK)], Params()) == ()


def test_the_spend_warning_names_the_lab_that_spends_most() -> None:
    labs = [h100_lab("small", 1e6), h100_lab("big", 1e10), h100_lab("mid", 1e8)]
    (warning,) = plausibility_warnings(labs, Params())
    assert warning.startswith("big would spend $")


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        (999_999.0, "999,999"),
        (1e6, "1 million"),
        (12.34e9, "12.3 billion"),
        (1.4e12, "1.4 trillion"),
        (999.6e6, "1,000 million"),
        (5.39e26, "539 septillion"),
        (9.996e26, "1,000 septillion"),
        (1.56e32, "156,000,000 septillion"),
        (float("inf"), "an unbounded amount"),
    ],
)
def test_large_amounts_read_as_words_never_as_exponents(amount: float, words: str) -> None:
    assert _big(amount) == words
