"""When a facility is open: weekly hours, regular closing days, holidays and one-off closures.

Japanese national holidays come from the ``holidays`` package (which follows the
Cabinet Office list, substitute holidays included) rather than a table we would
have to keep up to date ourselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays as holidays_lib

# The days the system deals in. Dates outside are input errors: a year 9999 would overflow
# as soon as anything asks for the day after it.
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2099, 12, 31)


@lru_cache(maxsize=128)
def _jp_holidays(year: int, language: str) -> dict[date, str]:
    return dict(holidays_lib.country_holidays("JP", years=year, language=language))


def japanese_holiday(day: date, language: str = "ja") -> str | None:
    """The national holiday's name (``language`` "ja" or "en_US"), or None on an ordinary day."""
    return _jp_holidays(day.year, language).get(day)


def in_new_year_break(day: date) -> bool:
    """Dec 29 – Jan 3, when public facilities in Japan close (年末年始)."""
    return (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)


@dataclass(frozen=True)
class Closure:
    start: date
    end: date  # inclusive
    reason_ja: str
    reason_en: str
    room_id: int | None = None  # None: the whole facility

    def covers(self, day: date, room_ids: frozenset[int]) -> bool:
        if not (self.start <= day <= self.end):
            return False
        return self.room_id is None or self.room_id in room_ids


@dataclass(frozen=True)
class ClosedReason:
    code: str  # weekly | holiday | new_year | closure | no_hours
    label_ja: str
    label_en: str

    def label(self, language: str) -> str:
        return self.label_en if language == "en" else self.label_ja


@dataclass(frozen=True)
class FacilityCalendar:
    tz: str
    hours: dict[int, tuple[time, time]]  # weekday (Mon=0) -> (open, close); missing = closed
    closed_weekdays: frozenset[int] = frozenset()
    closed_on_holidays: bool = False
    new_year_break: bool = True
    closures: tuple[Closure, ...] = field(default=())

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def closed_reason(self, day: date, room_ids: frozenset[int] = frozenset()) -> ClosedReason | None:
        """Why the facility (or one of ``room_ids``) is closed on ``day``, or None when open.

        ``room_ids`` are the room and every room it shares a part with, so a
        closure of a hall's part also closes the whole hall.
        """
        for c in self.closures:
            if c.covers(day, room_ids):
                return ClosedReason("closure", c.reason_ja, c.reason_en)
        if self.new_year_break and in_new_year_break(day):
            return ClosedReason("new_year", "年末年始休館", "New Year holidays")
        holiday = japanese_holiday(day)
        if self.closed_on_holidays and holiday:
            return ClosedReason("holiday", f"祝日休館（{holiday}）",
                                f"Closed on national holidays ({japanese_holiday(day, 'en_US') or holiday})")
        if day.weekday() in self.closed_weekdays:
            return ClosedReason("weekly", "休館日", "Regular closing day")
        if day.weekday() not in self.hours:
            return ClosedReason("no_hours", "休館日", "Closed")
        return None

    def opening(self, day: date) -> tuple[datetime, datetime] | None:
        """Opening and closing instants of ``day`` in the facility's zone, ignoring closures."""
        hours = self.hours.get(day.weekday())
        if hours is None:
            return None
        return local(day, hours[0], self.tz), local(day, hours[1], self.tz)


def local(day: date, at: time, tz: str) -> datetime:
    """An aware datetime for a wall-clock time of a local day."""
    return datetime.combine(day, at, tzinfo=ZoneInfo(tz))


def local_day(instant: datetime, tz: str) -> date:
    return instant.astimezone(ZoneInfo(tz)).date()


def days(start: date, end: date) -> list[date]:
    """Every day from ``start`` to ``end`` inclusive."""
    return [start + timedelta(n) for n in range((end - start).days + 1)]
