"""Input that must not hurt: redirects only to pages of this site, days only within a sane range."""

from __future__ import annotations

from datetime import date
from typing import TypeVar
from urllib.parse import urlsplit

from ..domain.calendar import EARLIEST_DAY, LATEST_DAY

D = TypeVar("D", date, None)


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
