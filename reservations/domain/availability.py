"""Availability of a room over days, as cells the grid, the API and search all render.

A cell is one slot of a slot room, or one step of a free-time room. Its state
says why it cannot be booked, so the grid can show "closed" apart from "taken"
and "not yet open for booking".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from .calendar import FacilityCalendar, local_day
from .rules import Occupied, RoomRules, find_conflicts
from .slots import FixedSlots, FreeTime
from .timeranges import TimeRange, subtract
from .windows import window_for


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


def _spans(room: RoomRules, cal: FacilityCalendar, day: date) -> list[tuple[datetime, datetime, str | None]]:
    scheme = room.scheme
    if isinstance(scheme, FixedSlots):
        out: list[tuple[datetime, datetime, str | None]] = []
        for s in scheme.slots:
            span = scheme.span(day, s.code, cal.tz)
            if span:
                out.append((span[0], span[1], s.code))
        return out
    assert isinstance(scheme, FreeTime)
    hours = cal.opening(day)
    if hours is None:
        return []
    return [(a, b, None) for a, b in scheme.steps(*hours)]


def day_cells(
    room: RoomRules,
    cal: FacilityCalendar,
    day: date,
    existing: Sequence[Occupied],
    now: datetime,
    group_class: str,
    keep: Callable[[datetime, str | None], bool] | None = None,
) -> list[Cell]:
    """The cells of one room on one local day (only those ``keep(start, slot_code)`` accepts:
    search asks for evenings and should not pay for the mornings)."""
    closed = cal.closed_reason(day, room.related)
    window = window_for(room.windows, group_class)
    window_open = window.is_open(day, local_day(now, cal.tz))
    opens = window.opens_on(day)
    cells = []
    for start, end, code in _spans(room, cal, day):
        if keep is not None and not keep(start, code):
            continue
        ids: tuple[int, ...] = ()
        if closed:
            state, rja, ren = CellState.CLOSED, closed.label_ja, closed.label_en
        elif start <= now:
            state, rja, ren = CellState.PAST, "", ""
        else:
            hits = find_conflicts(room.units, start, end + room.buffer, existing)
            if hits:
                ids = tuple(sorted({h.booking_id for h in hits}))
                state, rja, ren = CellState.TAKEN, "", ""
            elif not window_open:
                state = CellState.NOT_OPEN
                rja, ren = f"{opens:%Y年%m月%d日}受付開始", f"Opens {opens:%Y-%m-%d}"
            else:
                state, rja, ren = CellState.FREE, "", ""
        cells.append(Cell(room.room_id, day, start, end, code, state, rja, ren, ids))
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
