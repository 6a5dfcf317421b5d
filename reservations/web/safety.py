"""Input that must not hurt: redirects only to pages of this site, days only within a sane range,
ids only as large as an id column holds."""

from __future__ import annotations

from datetime import date
from typing import TypeVar
from urllib.parse import urlsplit

from werkzeug.routing import IntegerConverter, Map

from ..domain.calendar import EARLIEST_DAY, LATEST_DAY

D = TypeVar("D", date, None)
MAX_ID = 2**31 - 1  # the largest value of an INTEGER id column on PostgreSQL


def safe_next(target: str | None, default: str = "/") -> str:
    """``target`` when it is a path on this site, else ``default``.

    Refuses scheme-relative (``//evil``), backslash tricks (``\\\\evil``, which
    browsers read as ``//``), ``https:evil`` and anything with a scheme or host.
    """
    if not target:
        return default
    target = target.strip()
    if "\\" in target or any(ord(c) < 32 for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def parse_day(value: str | None, default: D) -> date | D:
    """A ``YYYY-MM-DD`` from a query string, or ``default`` when it is missing, malformed or
    outside 2000–2099 (a year 9999 would overflow the day after it)."""
    try:
        day = date.fromisoformat(value) if value else None
    except ValueError:
        return default
    return day if day is not None and EARLIEST_DAY <= day <= LATEST_DAY else default


def parse_id(value: str | None) -> int | None:
    """A database id from a form or query string: ASCII digits only (``"²".isdigit()`` is
    true and ``int("²")`` fails), short enough for any integer column."""
    return int(value) if value and value.isascii() and value.isdigit() and len(value) < 10 else None


class DatabaseId(IntegerConverter):
    """``<int:…>`` in every route: a number a database id column can hold (32-bit), so a longer
    one is a 404, not an "integer out of range" from PostgreSQL or an overflow in SQLite."""

    def __init__(self, url_map: Map, fixed_digits: int = 0, min: int | None = None,  # noqa: A002 - werkzeug's names
                 max: int | None = MAX_ID, signed: bool = False) -> None:  # noqa: A002
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)
