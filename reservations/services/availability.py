"""Availability as the grid, the API, search and conflict suggestions all need it.

Holds are loaded once per facility and date range (one query bounded on both
sides), then the domain core computes cells per room in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..domain.availability import Cell, CellState, day_cells, free_intervals
from ..domain.calendar import FacilityCalendar, local_day
from ..domain.rules import BookingRequest, Occupied, RoomRules, check_request
from ..domain.slots import FixedSlots
from ..domain.timeranges import TimeRange
from ..models import Facility, Room
from .mapping import FacilityRooms, facility_calendar, load_occupied, local_bounds

MAX_RANGE_DAYS = 62


@dataclass(frozen=True)
class RoomRow:
    room: Room
    rules: RoomRules
    days: dict[date, list[Cell]]


@dataclass(frozen=True)
class FacilityView:
    facility: Facility
    calendar: FacilityCalendar
    rows: list[RoomRow]


def _facility_rooms(facility: Facility) -> FacilityRooms:
    return FacilityRooms([r for r in facility.rooms if r.active])


def facility_availability(
    session: Session, facility: Facility, first: date, last: date, *, now: datetime, group_class: str,
    room_ids: Iterable[int] | None = None, weekdays: Sequence[int] = (),
    keep: Callable[[datetime, str | None], bool] | None = None,
) -> FacilityView:
    """Cells for every (or the given) room of ``facility`` from ``first`` to ``last`` inclusive
    (only on ``weekdays``, Mon=0, when given: search asks for "Tuesdays in January")."""
    if (last - first).days > MAX_RANGE_DAYS:
        last = first + timedelta(days=MAX_RANGE_DAYS)
    fr = _facility_rooms(facility)
    wanted = set(room_ids) if room_ids is not None else None
    rooms = [r for r in fr.rooms if wanted is None or r.id in wanted]
    cal = facility_calendar(facility)
    start, end = local_bounds(first, last, cal.tz)
    all_units: set[int] = set()
    rules_by_room = {r.id: fr.rules(r) for r in rooms}
    for rules in rules_by_room.values():
        all_units |= rules.units
    held = load_occupied(session, all_units, start - timedelta(hours=1), end + timedelta(hours=1))
    # Holds by local day, so each day's cells are checked against that day's holds only
    # (checking every hold of a month against every cell made a month view quadratic).
    # A hold is filed under the day before its start too: a late cell's buffer can reach it.
    by_unit_day: dict[tuple[int, date], list[Occupied]] = {}
    for o in held:
        d, d_end = local_day(o.start, cal.tz) - timedelta(days=1), local_day(o.end, cal.tz)
        while d <= d_end:
            for u in o.units:
                by_unit_day.setdefault((u, d), []).append(o)
            d += timedelta(days=1)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    if weekdays:
        days = [d for d in days if d.weekday() in weekdays]
    rows = []
    for room in rooms:
        rules = rules_by_room[room.id]
        cells_by_day = {}
        for d in days:
            mine = {id(o): o for u in rules.units for o in by_unit_day.get((u, d), ())}
            cells_by_day[d] = day_cells(rules, cal, d, list(mine.values()), now, group_class, keep)
        rows.append(RoomRow(room, rules, cells_by_day))
    return FacilityView(facility, cal, rows)


def room_availability(
    session: Session, room: Room, first: date, last: date, *, now: datetime, group_class: str,
) -> RoomRow:
    view = facility_availability(session, room.facility, first, last, now=now, group_class=group_class,
                                 room_ids=[room.id])
    return view.rows[0]


def room_free_intervals(
    session: Session, room: Room, first: date, last: date, *, now: datetime,
) -> dict[date, list[TimeRange]]:
    """Free stretches per day, for free-time rooms (the API's "free interval" view)."""
    fr = _facility_rooms(room.facility)
    rules = fr.rules(room)
    cal = facility_calendar(room.facility)
    start, end = local_bounds(first, last, cal.tz)
    held = load_occupied(session, rules.units, start, end)
    out = {}
    d = first
    while d <= last:
        out[d] = free_intervals(rules, cal, d, held, now)
        d += timedelta(days=1)
    return out


@dataclass(frozen=True)
class SearchFilters:
    first: date
    last: date
    min_capacity: int = 1
    equipment: tuple[str, ...] = ()
    facility_ids: tuple[int, ...] = ()
    weekdays: tuple[int, ...] = ()  # Mon=0; empty: any
    slot_codes: tuple[str, ...] = ()  # e.g. ("evening",); free-time rooms match by time of day
    limit: int = 200


@dataclass(frozen=True)
class SearchHit:
    room: Room
    cell: Cell


_SLOT_HOURS = {"morning": (0, 12), "afternoon": (12, 17), "evening": (17, 24)}


def _slot_filter(codes: Sequence[str], tz: str) -> Callable[[datetime, str | None], bool] | None:
    """Which cells search keeps: slots by code, free-time steps by the part of the day they start in."""
    if not codes:
        return None
    zone = ZoneInfo(tz)
    hours = [_SLOT_HOURS[c] for c in codes if c in _SLOT_HOURS]

    def keep(start: datetime, slot_code: str | None) -> bool:
        if slot_code is not None:
            return slot_code in codes
        hour = start.astimezone(zone).hour
        return any(a <= hour < b for a, b in hours)

    return keep


def search(session: Session, filters: SearchFilters, *, now: datetime, group_class: str) -> list[SearchHit]:
    """Free room-slots across facilities, earliest first then by facility order.

    Free-time rooms contribute their free steps; consecutive steps are not
    merged here (the grid links each step to the booking form).
    """
    q = select(Facility).options(selectinload(Facility.rooms).selectinload(Room.parts)).order_by(Facility.sort_order, Facility.id)
    if filters.facility_ids:
        q = q.where(Facility.id.in_(filters.facility_ids))
    facilities = session.scalars(q).all()
    last = min(filters.last, filters.first + timedelta(days=MAX_RANGE_DAYS))
    hits: list[SearchHit] = []
    for facility in facilities:
        rooms = [
            r.id for r in facility.rooms
            if r.active and r.capacity >= filters.min_capacity
            and all(e in (r.equipment or []) for e in filters.equipment)
        ]
        if not rooms:
            continue
        view = facility_availability(session, facility, filters.first, last, now=now, group_class=group_class,
                                     room_ids=rooms, weekdays=filters.weekdays,
                                     keep=_slot_filter(filters.slot_codes, facility.timezone))
        for row in view.rows:
            for cells in row.days.values():
                hits.extend(SearchHit(row.room, c) for c in cells if c.state == CellState.FREE)
    hits.sort(key=lambda h: (h.cell.start, h.room.facility.sort_order, h.room.sort_order))
    return hits[: filters.limit]


@dataclass(frozen=True)
class Alternative:
    room: Room
    start: datetime
    end: datetime
    slot_code: str | None
    same_facility: bool


def suggest_alternatives(
    session: Session, room: Room, start: datetime, end: datetime, *, slot_code: str | None, attendees: int,
    now: datetime, group_class: str, limit: int = 5, days_ahead: int = 28,
) -> tuple[list[Alternative], list[Alternative]]:
    """(other rooms free at the same time, next free times of the same room).

    Other rooms need enough capacity; the same facility comes first. A slot
    request is matched to the same slot code in slot rooms, or the same times in
    free-time rooms.
    """
    same_time: list[Alternative] = []
    facilities = session.scalars(select(Facility).order_by(Facility.sort_order, Facility.id)).all()
    facilities = sorted(facilities, key=lambda f: f.id != room.facility_id)
    for facility in facilities:
        fr = _facility_rooms(facility)
        cal = facility_calendar(facility)
        candidates = [r for r in fr.rooms if r.id != room.id and r.capacity >= attendees]
        if not candidates:
            continue
        units: set[int] = set()
        for r in candidates:
            units |= fr.units[r.id]
        held = load_occupied(session, units, start - timedelta(hours=1), end + timedelta(hours=2))
        for r in candidates:
            rules = fr.rules(r)
            s, e = start, end
            if slot_code and isinstance(rules.scheme, FixedSlots):
                span = rules.scheme.span(local_day(start, cal.tz), slot_code, cal.tz)
                if span is None:
                    continue
                s, e = span
            code = slot_code if isinstance(rules.scheme, FixedSlots) else None
            if code is None and isinstance(rules.scheme, FixedSlots):
                code = rules.scheme.match(s, e, cal.tz)
                if code is None:
                    continue
            req = BookingRequest(r.id, s, e, attendees, group_class, code)
            if not check_request(req, rules, cal, held, now):
                same_time.append(Alternative(r, s, e, code, facility.id == room.facility_id))
            if len(same_time) >= limit:
                break
        if len(same_time) >= limit:
            break

    later: list[Alternative] = []
    fr = _facility_rooms(room.facility)
    rules = fr.rules(room)
    cal = facility_calendar(room.facility)
    first = local_day(start, cal.tz)
    span_start, span_end = local_bounds(first, first + timedelta(days=days_ahead), cal.tz)
    held = load_occupied(session, rules.units, span_start, span_end)
    length = end - start
    for n in range(days_ahead + 1):
        d = first + timedelta(days=n)
        if isinstance(rules.scheme, FixedSlots):
            later.extend(
                Alternative(room, c.start, c.end, c.slot_code, True)
                for c in day_cells(rules, cal, d, held, now, group_class)
                if c.state == CellState.FREE and c.start > start
            )
        else:
            for free in free_intervals(rules, cal, d, held, now):
                s = max(free.start, start) if n == 0 else free.start
                if free.end - s >= length and s != start:
                    later.append(Alternative(room, s, s + length, None, True))
        if len(later) >= limit:
            break
    return same_time[:limit], later[:limit]


def occupied_in(session: Session, units: Iterable[int], start: datetime, end: datetime) -> list[Occupied]:
    return load_occupied(session, units, start, end)
