"""URL converters for the pages: an id is at most 18 digits, so it always fits the database's integer column.

Django's own `int` converter accepts any length, and an id past 2**63 then fails inside the database
driver instead of answering 404.
"""

from django.urls import register_converter


class IdConverter:
    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")
