"""Column types shared by the models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in Python, ``timestamptz`` on PostgreSQL, fixed-width UTC text on SQLite.

    SQLite has no time zone type; storing naive UTC in SQLAlchemy's fixed format
    keeps string comparison equal to time comparison, which the overlap trigger
    relies on.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        """On SQLite, the stored text parsed straight into an aware UTC value: the generic path
        (parse naive, then ``replace(tzinfo=UTC)`` in a second Python call) was most of the cost of
        reading a day's holds across the city. Text in any other shape takes the generic path."""
        generic = super().result_processor(dialect, coltype)
        if dialect.name != "sqlite":
            return generic

        def slow(value: Any) -> datetime | None:  # ``generic`` ends in process_result_value itself
            return generic(value) if generic is not None else self.process_result_value(value, dialect)

        def process(value: Any) -> datetime | None:
            if isinstance(value, str) and len(value) in (19, 26):  # YYYY-MM-DD HH:MM:SS[.ffffff]
                try:
                    return datetime.fromisoformat(value + "+00:00")
                except ValueError:  # the same width by chance, e.g. with an offset of its own
                    pass
            return slow(value)

        return process

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
