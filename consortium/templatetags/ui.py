"""Template filters that put units and thousands separators on numbers, and field helpers."""

from __future__ import annotations

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

# An en dash stands for a missing figure.
MISSING = "\u2013"
# Units whose singular a figure of exactly 1 takes ("1 year", not "1 years").
SINGULAR_UNITS = {"years": "year", "months": "month", "days": "day", "members": "member"}


def _unbroken(text: str) -> SafeString:
    """A figure and its unit on one line: "2,788,000 GPU-h" never breaks at the space or the hyphen.

    The text stays as typed (plain spaces and hyphens), so it copies, searches and reads aloud as itself.
    """
    return format_html('<span class="nowrap">{}</span>', text)


# Amounts are US dollars throughout (consortium.models.CURRENCY_CHOICES); any other code is shown
# as itself rather than given a symbol that would suggest a conversion.
CURRENCY_SYMBOLS = {"USD": "$"}


def _number(value) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _grouped(number: float, places: int) -> str:
    return intcomma(f"{abs(number):.{places}f}")


@register.filter
def money(value, currency: str = "USD") -> str:
    """`1234567.8` -> `$1,234,568`; negative amounts get a leading minus sign."""
    number = _number(value)
    if number is None:
        return MISSING
    sign = "-" if round(number) < 0 else ""
    return f"{sign}{CURRENCY_SYMBOLS.get(currency, currency + ' ')}{_grouped(number, 0)}"


@register.filter
def price(value, currency: str = "USD") -> str:
    """Prices per GPU-hour keep their cents: `$2.40`."""
    return cents(value, currency)


@register.filter
def cents(value, currency: str = "USD") -> str:
    """Amounts to the cent, for tables whose costs are small numbers: `$4.50`, `-$1,234.57`."""
    number = _number(value)
    if number is None:
        return MISSING
    sign = "-" if round(number, 2) < 0 else ""
    return f"{sign}{CURRENCY_SYMBOLS.get(currency, currency + ' ')}{_grouped(abs(number), 2)}"


@register.filter
def gpuh(value) -> str:
    """`2788000` -> `2,788,000 GPU-h`."""
    number = _number(value)
    if number is None:
        return MISSING
    sign = "-" if round(number) < 0 else ""
    return _unbroken(f"{sign}{_grouped(number, 0)} GPU-h")


@register.filter
def compact(value) -> str:
    """Three significant digits and a unit letter, for a figure read at a glance: `2788000` -> `2.79M`."""
    number = _number(value)
    if number is None:
        return MISSING
    rounded = float(f"{number:.3g}")
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(rounded) >= limit:
            return f"{rounded / limit:.3g}{suffix}"
    return f"{rounded:.3g}"


@register.filter
def pct(value, places: int = 1) -> str:
    """A percentage already in percent units: `12.345` -> `12.3 %`."""
    number = _number(value)
    if number is None:
        return MISSING
    sign = "-" if round(number, int(places)) < 0 else ""
    return _unbroken(f"{sign}{abs(number):.{int(places)}f} %")


@register.filter
def share(value, places: int = 0) -> str:
    """A fraction shown as a percentage: `0.8` -> `80 %`."""
    number = _number(value)
    if number is None:
        return MISSING
    return pct(number * 100, places)


@register.filter
def num(value, places: int = 0) -> str:
    number = _number(value)
    if number is None:
        return MISSING
    if number.is_integer():
        places = 0
    sign = "-" if round(number, int(places)) < 0 else ""
    return f"{sign}{_grouped(number, int(places))}"


@register.filter
def unit_for(unit: str, value) -> str:
    """A unit after its figure: singular for exactly 1 (`1 year`, `6 months`)."""
    number = _number(value)
    if number is not None and abs(number) == 1:
        return SINGULAR_UNITS.get(unit, unit)
    return unit


@register.inclusion_tag("partials/field.html")
def field(bound_field, hint: str = ""):
    """A labelled input with its help text and its errors beside it (aria-describedby, aria-invalid)."""
    widget = bound_field.field.widget
    described = []
    if hint or bound_field.help_text:
        described.append(f"{bound_field.auto_id}_help")
    if bound_field.errors:
        described.append(f"{bound_field.auto_id}_error")
    attrs = {}
    if described:
        attrs["aria-describedby"] = " ".join(described)
    if bound_field.errors:
        attrs["aria-invalid"] = "true"
    if bound_field.field.required and getattr(widget, "input_type", None) != "checkbox":
        attrs["aria-required"] = "true"
    multiple = getattr(widget, "allow_multiple_selected", False) and getattr(widget, "input_type", None) == "checkbox"
    return {
        "field": bound_field,
        "widget_html": bound_field.as_widget(attrs=attrs),
        "hint": hint or bound_field.help_text,
        "is_multi": multiple,
        "is_checkbox": not multiple and getattr(widget, "input_type", None) == "checkbox",
        "optional": not bound_field.field.required and not getattr(bound_field.field, "conditionally_required", False),
    }


@register.filter
def absolute(value):
    number = _number(value)
    return None if number is None else abs(number)
