"""Availability of a room over days, as cells the grid, the API and search all render.

A cell is one slot of a slot room, or one step of a free-time room. Its state
says why it cannot be booked, so the grid can show "closed" apart from "taken"
and "not yet open for booking".
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from itertools import accumulate
from zoneinfo import ZoneInfo

from .calendar import FacilityCalendar, local_day
from .rules import Occupied, RoomRules
from .slots import FixedSlots, FreeTime
from .timeranges import TimeRange, subtract
from .windows import BookingWindow, window_for


class CellState(StrEnum):
    FREE = "free"
    TAKEN = "taken"
    CLOSED = "closed"
    NOT_OPEN = "not_open"  # outside the booking window (not yet open)
    PAST = "past"


CELL_LABELS = {
    CellState.FREE: ("空き", "Free", "○"),
    CellState.TAKEN: ("予約済み", "Booked", "×"),
    CellState.CLOSED: ("休館", "Closed", "休"),
    CellState.NOT_OPEN: ("受付前", "Not yet open", "－"),
    CellState.PAST: ("終了", "Past", "・"),
}


@dataclass(frozen=True)
class Cell:
    room_id: int
    day: date
    start: datetime
    end: datetime
    slot_code: str | None
    state: CellState
    reason_ja: str = ""
    reason_en: str = ""
    booking_ids: tuple[int, ...] = ()

    def label(self, language: str) -> str:
        ja, en, _ = CELL_LABELS[self.state]
        return en if language == "en" else ja

    @property
    def symbol(self) -> str:
        return CELL_LABELS[self.state][2]


@lru_cache(maxsize=256)
def _slot_times(scheme: FixedSlots) -> tuple[tuple[str, time, time], ...]:
    """Wall-clock bounds of each plain slot, worked out once per scheme (a pure function of a
    frozen value) instead of once per cell: a month of a room asked ``times()`` per slot per day."""
    out = []
    for s in scheme.slots:
        t = scheme.times(s.code)
        if t is not None:
            out.append((s.code, t[0], t[1]))
    return tuple(out)


@lru_cache(maxsize=4096)
def _opens_on(window: BookingWindow, day: date) -> date:
    """``window.opens_on`` once per (window, day): relativedelta arithmetic is slow, and a range
    asked it for every room and day. Pure, and both arguments are immutable."""
    return window.opens_on(day)


Span = tuple[datetime, datetime, str | None, datetime, datetime]  # local start, end, slot code; UTC start, end


_PART_OF_DAY = {"morning": (0, 12), "afternoon": (12, 17), "evening": (17, 24)}


@dataclass(frozen=True)
class SlotFilter:
    """Which cells a search keeps: slots by code, free-time steps by the part of the day they start
    in. A value, not a closure: a day's kept cells are cached by it."""

    codes: tuple[str, ...]
    tz: str

    def __call__(self, start: datetime, slot_code: str | None) -> bool:
        if slot_code is not None:
            return slot_code in self.codes
        hour = start.astimezone(ZoneInfo(self.tz)).hour
        return any(_PART_OF_DAY[c][0] <= hour < _PART_OF_DAY[c][1] for c in self.codes if c in _PART_OF_DAY)


@lru_cache(maxsize=64)
def _today(now: datetime, tz: str) -> date:
    """``local_day(now, tz)`` once per clock reading and zone, not once per room and day."""
    return local_day(now, tz)


def _spans(room: RoomRules, cal: FacilityCalendar, day: date,
           keep: SlotFilter | None) -> tuple[Span, ...]:
    scheme = room.scheme
    hours = None if isinstance(scheme, FixedSlots) else cal.hours.get(day.weekday())
    return _day_spans(scheme, cal.tz, day, hours, keep)


@lru_cache(maxsize=16384)
def _day_spans(scheme: FixedSlots | FreeTime, tz: str, day: date, hours: tuple[time, time] | None,
               keep: SlotFilter | None) -> tuple[Span, ...]:
    """The bounds of the cells of one day that ``keep`` accepts, in local time and in UTC, once
    per (scheme, zone, day, opening hours, filter): a pure function of immutable values. A search or a month view asked the same bounds
    of every room with the same scheme, and converted each to UTC again."""
    zone = ZoneInfo(tz)
    bounds: list[tuple[datetime, datetime, str | None]]
    if isinstance(scheme, FixedSlots):
        bounds = [(datetime.combine(day, a, zone), datetime.combine(day, b, zone), code)
                  for code, a, b in _slot_times(scheme)]
    elif hours is None:
        return ()
    else:
        opening = datetime.combine(day, hours[0], zone), datetime.combine(day, hours[1], zone)
        bounds = [(a, b, None) for a, b in scheme.steps(*opening)]
    return tuple((a, b, code, a.astimezone(UTC), b.astimezone(UTC))
                 for a, b, code in bounds if keep is None or keep(a, code))


class _Holds:
    """A day's holds on a room's units, sorted by start in UTC, for bisecting.

    Comparing aware datetimes of different zones costs a ``utcoffset`` call per comparison;
    everything here is UTC, so comparisons are plain. A hold can only reach a cell when it starts
    before the cell's end and later than the cell's start minus the longest hold, so each cell
    looks at that slice only instead of every hold of the day.
    """

    __slots__ = ("holds", "starts", "longest", "reach")

    def __init__(self, units: frozenset[int], existing: Sequence[Occupied]) -> None:
        mine = [(o.start.astimezone(UTC), o.end.astimezone(UTC), o.booking_id)
                for o in existing if not units.isdisjoint(o.units)]
        mine.sort(key=lambda h: h[0])
        self.holds = mine
        self.starts = [h[0] for h in mine]
        self.longest = max((h[1] - h[0] for h in mine), default=timedelta(0))
        # reach[i]: the latest end among the first i + 1 holds; a cell starting at or after
        # reach[hi - 1] meets none of them (the usual answer for a free cell, found by bisection)
        self.reach = list(accumulate((h[1] for h in mine), max))

    def hits(self, start: datetime, end: datetime) -> tuple[int, ...]:
        """Booking ids of holds overlapping ``[start, end)`` (both UTC), sorted, unique."""
        hi = bisect_left(self.starts, end)
        if hi == 0 or self.reach[hi - 1] <= start:
            return ()
        holds = self.holds
        lo = bisect_right(self.starts, start - self.longest, 0, hi)
        found = {h[2] for h in holds[lo:hi] if h[1] > start}
        return tuple(sorted(found)) if found else ()


def day_cells(
    room: RoomRules,
    cal: FacilityCalendar,
    day: date,
    existing: Sequence[Occupied],
    now: datetime,
    group_class: str,
    keep: SlotFilter | None = None,
) -> list[Cell]:
    """The cells of one room on one local day (only those ``keep(start, slot_code)`` accepts:
    search asks for evenings and should not pay for the mornings)."""
    closed = cal.closed_reason(day, room.related)
    spans = _spans(room, cal, day, keep)
    rid = room.room_id
    if closed:
        state, rja, ren = CellState.CLOSED, closed.label_ja, closed.label_en
        return [Cell(rid, day, start, end, code, state, rja, ren) for start, end, code, _s, _e in spans]
    window = window_for(room.windows, group_class)
    opens = _opens_on(window, day)
    window_open = _today(now, cal.tz) >= opens
    if window_open:
        later = (CellState.FREE, "", "")
    else:
        later = (CellState.NOT_OPEN, f"{opens:%Y年%m月%d日}受付開始", f"Opens {opens:%Y-%m-%d}")
    holds = _Holds(room.units, existing)
    buffer = room.buffer
    now_utc = now.astimezone(UTC)
    cells = []
    for start, end, code, s_utc, e_utc in spans:
        if s_utc <= now_utc:
            cells.append(Cell(rid, day, start, end, code, CellState.PAST))
            continue
        ids = holds.hits(s_utc, e_utc + buffer)
        if ids:
            cells.append(Cell(rid, day, start, end, code, CellState.TAKEN, "", "", ids))
        else:
            cells.append(Cell(rid, day, start, end, code, *later))
    return cells


def range_cells(
    room: RoomRules, cal: FacilityCalendar, first: date, last: date,
    existing: Sequence[Occupied], now: datetime, group_class: str,
) -> dict[date, list[Cell]]:
    out = {}
    d = first
    while d <= last:
        out[d] = day_cells(room, cal, d, existing, now, group_class)
        d += timedelta(days=1)
    return out


def free_intervals(
    room: RoomRules, cal: FacilityCalendar, day: date, existing: Sequence[Occupied], now: datetime,
) -> list[TimeRange]:
    """Free stretches of a day (for free-time rooms), after closures, holds and the past."""
    if cal.closed_reason(day, room.related):
        return []
    hours = cal.opening(day)
    if hours is None:
        return []
    start = max(hours[0], now)
    if start >= hours[1]:
        return []
    taken = [TimeRange(o.start - room.buffer, o.end) for o in existing if o.units & room.units
             and o.end > o.start - room.buffer]
    return subtract(TimeRange(start, hours[1]), taken)
