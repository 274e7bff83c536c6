"""Named time windows resolve to dates relative to today."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError

from reports.selectors import window_resolve

D = datetime.date


@pytest.mark.parametrize(
    ("today", "window", "start", "end"),
    [
        (D(2026, 5, 15), "last-quarter", D(2026, 1, 1), D(2026, 3, 31)),
        (D(2026, 1, 10), "last-quarter", D(2025, 10, 1), D(2025, 12, 31)),
        (D(2026, 12, 31), "last-quarter", D(2026, 7, 1), D(2026, 9, 30)),
        (D(2026, 5, 15), "quarter-to-date", D(2026, 4, 1), D(2026, 5, 15)),
        (D(2026, 5, 15), "year-to-date", D(2026, 1, 1), D(2026, 5, 15)),
        (D(2026, 1, 1), "year-to-date", D(2026, 1, 1), D(2026, 1, 1)),
        (D(2026, 5, 15), "last-year", D(2025, 1, 1), D(2025, 12, 31)),
        (D(2026, 3, 1), "last-30-days", D(2026, 1, 31), D(2026, 3, 1)),
        (D(2026, 5, 15), "all", None, None),
        (D(2026, 5, 15), None, None, None),
    ],
)
def test_named_window(today, window, start, end):
    resolved = window_resolve(today=today, window=window)
    assert (resolved.start, resolved.end) == (start, end)


def test_explicit_dates_make_a_custom_window():
    resolved = window_resolve(today=D(2026, 5, 15), start=D(2026, 2, 1))
    assert (resolved.start, resolved.end, resolved.name) == (D(2026, 2, 1), None, "custom")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"window": "decade"}, "window"),
        ({"window": "all", "end": D(2026, 1, 1)}, "window"),
        ({"start": D(2026, 2, 2), "end": D(2026, 2, 1)}, "end"),
    ],
)
def test_bad_windows_name_the_field(kwargs, field):
    with pytest.raises(ValidationError) as caught:
        window_resolve(today=D(2026, 5, 15), **kwargs)
    assert list(caught.value.message_dict) == [field]
