"""Availability as the grid, the API, search and conflict suggestions all need it.

Holds are loaded once per facility and date range (one query bounded on both
sides), then the domain core computes cells per room in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session, selectinload

from ..domain.availability import Cell, CellState, SlotFilter, day_cells, free_intervals
from ..domain.calendar import FacilityCalendar, local_day
from ..domain.rules import BookingRequest, Occupied, RoomRules, check_request
from ..domain.slots import FixedSlots
from ..domain.timeranges import TimeRange
from ..models import Facility, Room
from .mapping import (
    FacilityRooms,
    facility_calendar,
    load_closures_of,
    load_occupied,
    load_unit_map,
    local_bounds,
    rule_columns,
    rules_from_columns,
)

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


def _active_rooms(session: Session, facility_ids: Sequence[int]) -> dict[int, list[Room]]:
    """Active rooms per facility, in the relationship's order, with their parts: two queries for
    any number of facilities (``facility.rooms`` and then ``room.parts`` per room were lazy loads,
    one query per room and per facility)."""
    out: dict[int, list[Room]] = {fid: [] for fid in facility_ids}
    if not facility_ids:
        return out
    rows = session.scalars(
        select(Room).where(Room.facility_id.in_(facility_ids))
        .options(selectinload(Room.parts))
        .order_by(Room.facility_id, Room.sort_order, Room.id)
    )
    for r in rows:
        if r.active:
            out[r.facility_id].append(r)
    return out


def facility_availability(
    session: Session, facility: Facility, first: date, last: date, *, now: datetime, group_class: str,
    room_ids: Iterable[int] | None = None, weekdays: Sequence[int] = (),
    keep: SlotFilter | None = None,
) -> FacilityView:
    """Cells for every (or the given) room of ``facility`` from ``first`` to ``last`` inclusive
    (only on ``weekdays``, Mon=0, when given: search asks for "Tuesdays in January")."""
    if (last - first).days > MAX_RANGE_DAYS:
        last = first + timedelta(days=MAX_RANGE_DAYS)
    fr = FacilityRooms(_active_rooms(session, [facility.id])[facility.id])
    wanted = set(room_ids) if room_ids is not None else None
    rooms = [r for r in fr.rooms if wanted is None or r.id in wanted]
    cal = facility_calendar(facility, load_closures_of(session, [facility.id])[facility.id])
    start, end = local_bounds(first, last, cal.tz)
    all_units: set[int] = set()
    rules_by_room = {r.id: fr.rules(r) for r in rooms}
    for rules in rules_by_room.values():
        all_units |= rules.units
    held = load_occupied(session, all_units, start - timedelta(hours=1), end + _reach(rules_by_room.values()))
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
    fr = FacilityRooms(_active_rooms(session, [room.facility_id])[room.facility_id])
    rules = fr.rules(room)
    cal = facility_calendar(room.facility, load_closures_of(session, [room.facility_id])[room.facility_id])
    start, end = local_bounds(first, last, cal.tz)
    held = load_occupied(session, rules.units, start, end + rules.buffer)  # a late hold's buffer reaches back
    # each day gets the holds that touch it (buffer included), not the whole range's: the result
    # is the day's opening minus the union of holds, which holds on other days do not change
    by_day: dict[date, list[Occupied]] = {}
    for o in held:
        d, d_end = local_day(o.start - rules.buffer, cal.tz), local_day(o.end, cal.tz)
        while d <= d_end:
            by_day.setdefault(d, []).append(o)
            d += timedelta(days=1)
    out = {}
    d = first
    while d <= last:
        out[d] = free_intervals(rules, cal, d, by_day.get(d, []), now)
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


@dataclass(frozen=True, eq=False)
class RoomSummary:
    """What a search hit shows of its room, read as columns into its rules: the rooms of the whole
    city as ORM objects cost more than the search itself."""

    facility: Facility
    sort_order: int
    rules: RoomRules

    @property
    def id(self) -> int:
        return self.rules.room_id

    @property
    def facility_id(self) -> int:
        return self.facility.id

    @property
    def name_ja(self) -> str:
        return self.rules.name_ja

    @property
    def name_en(self) -> str:
        return self.rules.name_en

    @property
    def capacity(self) -> int:
        return self.rules.capacity

    def name(self, language: str) -> str:
        return self.rules.name(language)


@dataclass(frozen=True)
class SearchHit:
    room: RoomSummary
    cell: Cell


def _longest_buffer(rules: Iterable[RoomRules]) -> timedelta:
    return max((r.buffer for r in rules), default=timedelta(0))


def _reach(rules: Iterable[RoomRules]) -> timedelta:
    """How far past a range its holds must be read: a cell ending at the range's end is taken by a
    hold that starts within the room's cleanup buffer of it (and an hour, as always read)."""
    return timedelta(hours=1) + _longest_buffer(rules)


def _slot_filter(codes: Sequence[str], tz: str) -> SlotFilter | None:
    return SlotFilter(tuple(codes), tz) if codes else None


@dataclass
class _Site:
    """One facility's candidate rooms, ready for search to compute cells day by day."""

    index: int
    facility: Facility
    cal: FacilityCalendar
    rooms: list[tuple[int, RoomSummary]]  # (position among the facility's active rooms, room)
    keep: SlotFilter | None
    reach: timedelta  # the longest cleanup buffer of the rooms: how far past a day its cells look
    lo: datetime  # holds must overlap [lo, hi): what facility_availability loaded for the range
    hi: datetime

    def midnight(self, d: date) -> datetime:
        return datetime.combine(d, time(0), ZoneInfo(self.cal.tz)).astimezone(UTC)

    def window(self, d: date) -> tuple[datetime, datetime]:
        """The holds that can touch a cell of day ``d``: ending after its local midnight, starting
        before the day's end plus the longest cleanup buffer (a cell ends within its day, and a
        hold reaches it when it starts before the cell's end plus the room's buffer)."""
        return max(self.lo, self.midnight(d)), min(self.hi, self.midnight(d + timedelta(days=1)) + self.reach)


def _sites(session: Session, facilities: Sequence[Facility], filters: SearchFilters, last: date) -> list[_Site]:
    """The facilities that have a room matching the capacity and equipment filters, with the
    rooms' rules; rooms, part links and closures of all facilities in three queries, the rooms as
    columns (``rules_from_columns``)."""
    by_id = {f.id: f for f in facilities}
    units = load_unit_map(session, by_id)
    active: dict[int, list[tuple[int, str | None, tuple[Any, ...]]]] = {fid: [] for fid in by_id}
    for fid, sort_order, equipment, *stored in session.execute(
        select(Room.facility_id, Room.sort_order, cast(Room.equipment, Text), *rule_columns())
        .where(Room.facility_id.in_(by_id), Room.active)
        .order_by(Room.facility_id, Room.sort_order, Room.id)
    ):
        active[fid].append((sort_order, equipment, tuple(stored)))
    closures = load_closures_of(session, [f.id for f in facilities if active[f.id]], filters.first, last)
    sites = []
    for i, facility in enumerate(facilities):
        rows = active[facility.id]
        among = [columns[0] for _s, _e, columns in rows]
        rooms = []
        for n, (sort_order, equipment, columns) in enumerate(rows):
            room_id = columns[0]
            rules = rules_from_columns(columns, units.units[room_id], units.related(room_id, among=among))
            if rules.capacity < filters.min_capacity:
                continue
            if filters.equipment and not set(filters.equipment) <= set(json.loads(equipment or "[]") or ()):
                continue
            rooms.append((n, RoomSummary(facility, sort_order, rules)))
        if not rooms:
            continue
        cal = facility_calendar(facility, closures[facility.id])
        start, end = local_bounds(filters.first, last, cal.tz)
        rules_of = [r.rules for _n, r in rooms]
        sites.append(_Site(
            i, facility, cal, rooms, _slot_filter(filters.slot_codes, facility.timezone), _longest_buffer(rules_of),
            (start - timedelta(hours=1)).astimezone(UTC), (end + _reach(rules_of)).astimezone(UTC),
        ))
    return sites


def _day_holds(session: Session, sites: Sequence[_Site], d: date) -> list[Occupied]:
    """Every hold any site's cells of day ``d`` can meet (``_Site.window``), in one query for
    all facilities."""
    windows = [s.window(d) for s in sites]
    lo = min(w[0] for w in windows)
    hi = max(w[1] for w in windows)
    units: set[int] = set()
    for s in sites:
        for _n, r in s.rooms:
            units |= r.rules.units
    return load_occupied(session, units, lo, hi) if lo < hi else []


def _by_unit(held: Iterable[Occupied]) -> dict[int, list[Occupied]]:
    by_unit: dict[int, list[Occupied]] = {}
    for o in held:
        for u in o.units:
            by_unit.setdefault(u, []).append(o)
    return by_unit


def _site_day_hits(site: _Site, d: date, by_unit: dict[int, list[Occupied]], now: datetime,
                   group_class: str) -> list[tuple[tuple[Any, ...], SearchHit]]:
    """Free cells of one facility on one day with their sort keys; each room gets the holds
    of its units in the site's window of ``d``."""
    lo, hi = site.window(d)
    out = []
    f_order = site.facility.sort_order
    for n, room in site.rooms:
        rules = room.rules
        mine = {id(o): o for u in rules.units for o in by_unit.get(u, ())
                if o.end > lo and o.start < hi}
        cells = day_cells(rules, site.cal, d, list(mine.values()), now, group_class, site.keep)
        for k, c in enumerate(cells):
            if c.state == CellState.FREE:
                out.append(((c.start, f_order, room.sort_order, site.index, n, k), SearchHit(room, c)))
    return out


def search(session: Session, filters: SearchFilters, *, now: datetime, group_class: str) -> list[SearchHit]:
    """Free room-slots across facilities, earliest first then by facility order.

    Free-time rooms contribute their free steps; consecutive steps are not
    merged here (the grid links each step to the booking form).

    Works day by day over all facilities at once (one query for the day's holds) and stops as
    soon as ``limit`` hits are certain to precede anything a later day can add: every cell of a
    later day starts after that day's local midnight. The order is the one a stable sort of all
    hits by (start, facility order, room order) in facility, room, day order gives.
    """
    q = select(Facility).order_by(Facility.sort_order, Facility.id)
    if filters.facility_ids:
        q = q.where(Facility.id.in_(filters.facility_ids))
    facilities = session.scalars(q).all()
    last = min(filters.last, filters.first + timedelta(days=MAX_RANGE_DAYS))
    sites = _sites(session, facilities, filters, last)
    days = [filters.first + timedelta(days=n) for n in range((last - filters.first).days + 1)]
    if filters.weekdays:
        days = [d for d in days if d.weekday() in filters.weekdays]
    found: list[tuple[tuple[Any, ...], SearchHit]] = []
    for i, d in enumerate(days):
        if not sites:
            break
        by_unit = _by_unit(_day_holds(session, sites, d))
        for site in sites:
            found.extend(_site_day_hits(site, d, by_unit, now, group_class))
        if 0 < filters.limit <= len(found) and i + 1 < len(days):
            found.sort(key=lambda kh: kh[0])
            nxt = min(s.midnight(days[i + 1]) for s in sites)
            if found[filters.limit - 1][0][0] < nxt:
                break
    found.sort(key=lambda kh: kh[0])
    return [h for _k, h in found][: filters.limit]


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
        rules_of = {r.id: fr.rules(r) for r in candidates}
        # a slot room's span is that slot on the same local day, which may start and end at
        # other times than the request: the whole day's holds, and as far past it as a buffer reaches
        day_start, day_end = local_bounds(local_day(start, cal.tz), local_day(start, cal.tz), cal.tz)
        held = load_occupied(session, units, min(start, day_start) - timedelta(hours=1),
                             max(end, day_end) + _reach(rules_of.values()))
        for r in candidates:
            rules = rules_of[r.id]
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
