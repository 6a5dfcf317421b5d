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

from sqlalchemy import Text, bindparam, cast, select
from sqlalchemy.orm import Session

from ..domain.availability import Cell, CellState, SlotFilter, day_cells, free_intervals
from ..domain.calendar import FacilityCalendar, local_day
from ..domain.rules import BookingRequest, Occupied, RoomRules, check_request
from ..domain.slots import FixedSlots
from ..domain.timeranges import TimeRange
from ..models import Facility, Room, room_parts
from .mapping import (
    UnitMap,
    facility_calendar,
    load_closures_of,
    load_occupied,
    local_bounds,
    rule_columns,
    rules_from_columns,
    rules_of,
)

MAX_RANGE_DAYS = 62


@dataclass(frozen=True)
class RoomRow:
    room: RoomSummary
    rules: RoomRules
    days: dict[date, list[Cell]]
    free: dict[date, list[TimeRange]] | None = None  # free stretches per day, when asked for


@dataclass(frozen=True)
class FacilityView:
    facility: Facility
    calendar: FacilityCalendar
    rows: list[RoomRow]


def _room_summaries(session: Session, facilities: Sequence[Facility]) -> dict[int, list[RoomSummary]]:
    """Active rooms per facility in display order (sort order, id), with their rules: the rooms and
    part links of any number of facilities in one query, the rooms read as columns
    (``rules_from_columns``). The grid, the month view, search and the alternatives of a refused
    booking all need rules, names and capacities only; rooms as ORM objects (with their parts
    loaded) were half of a day grid's time, and the city's rooms most of the alternatives'."""
    by_id = {f.id: f for f in facilities}
    out: dict[int, list[RoomSummary]] = {fid: [] for fid in by_id}
    if not by_id:
        return out
    # every room (a hall's part may be out of use) once per direct part: its units come from
    # the part links, its rules from its first row
    rows = session.execute(_SUMMARY_ROWS, {"ids": list(by_id)}).all()
    links: list[tuple[int, int | None]] = []
    first: dict[int, tuple[int, int, str | None, tuple[Any, ...]]] = {}  # active room → its first row
    among: dict[int, list[int]] = {}
    for fid, sort_order, active, part_id, equipment, *columns in rows:
        room_id = columns[0]
        links.append((room_id, part_id))
        if active and room_id not in first:
            first[room_id] = (fid, sort_order, equipment, tuple(columns))
            among.setdefault(fid, []).append(room_id)
    units = UnitMap.from_links(links)
    for room_id, (fid, sort_order, equipment, stored) in first.items():
        rules = rules_from_columns(stored, units.units[room_id], units.related(room_id, among=among[fid]))
        out[fid].append(RoomSummary(by_id[fid], sort_order, rules, equipment))
    return out


# built once: every grid, month view and search reads it, and building it cost as much as running it
_SUMMARY_ROWS = (
    select(Room.facility_id, Room.sort_order, Room.active, room_parts.c.part_id, cast(Room.equipment, Text),
           *rule_columns())
    .outerjoin(room_parts, room_parts.c.whole_id == Room.id)
    .where(Room.facility_id.in_(bindparam("ids", expanding=True)))
    .order_by(Room.facility_id, Room.sort_order, Room.id)
)


def _summary_of(session: Session, room: Room, summaries: Sequence[RoomSummary]) -> RoomSummary:
    """One room's summary from its facility's ``summaries``; a room taken out of use is not among
    them, and gets the rules booking it would apply (``rules_of``)."""
    for summary in summaries:
        if summary.id == room.id:
            return summary
    return RoomSummary(room.facility, room.sort_order, rules_of(session, room))


def facility_availability(
    session: Session, facility: Facility, first: date, last: date, *, now: datetime, group_class: str,
    room_ids: Iterable[int] | None = None, weekdays: Sequence[int] = (),
    keep: SlotFilter | None = None, with_free: bool = False,
) -> FacilityView:
    """Cells for every (or the given) room of ``facility`` from ``first`` to ``last`` inclusive
    (only on ``weekdays``, Mon=0, when given: search asks for "Tuesdays in January"); with
    ``with_free``, each day's free stretches too (the API's view of a free-time room), from the
    same holds."""
    if (last - first).days > MAX_RANGE_DAYS:
        last = first + timedelta(days=MAX_RANGE_DAYS)
    wanted = set(room_ids) if room_ids is not None else None
    rooms = [r for r in _room_summaries(session, [facility])[facility.id] if wanted is None or r.id in wanted]
    cal = facility_calendar(facility, load_closures_of(session, [facility.id], first, last)[facility.id])
    start, end = local_bounds(first, last, cal.tz)
    all_units: set[int] = set()
    rules_by_room = {r.id: r.rules for r in rooms}
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
        free_by_day: dict[date, list[TimeRange]] = {}
        for d in days:
            mine = {id(o): o for u in rules.units for o in by_unit_day.get((u, d), ())}
            cells_by_day[d] = day_cells(rules, cal, d, list(mine.values()), now, group_class, keep)
            if with_free:
                # the day's opening minus the union of holds: the day's list (which also holds
                # some that end before it or start after it) gives the same stretches
                free_by_day[d] = free_intervals(rules, cal, d, list(mine.values()), now)
        rows.append(RoomRow(room, rules, cells_by_day, free_by_day if with_free else None))
    return FacilityView(facility, cal, rows)


def room_availability(
    session: Session, room: Room, first: date, last: date, *, now: datetime, group_class: str,
    with_free: bool = False,
) -> RoomRow:
    view = facility_availability(session, room.facility, first, last, now=now, group_class=group_class,
                                 room_ids=[room.id], with_free=with_free)
    return view.rows[0]


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
    """A room as the grid, search and alternatives show it, read as columns into its rules
    (``_room_summaries``); ``equipment`` is the stored JSON text, parsed only when a search asks."""

    facility: Facility
    sort_order: int
    rules: RoomRules
    equipment: str | None = None

    def has_equipment(self, wanted: Iterable[str]) -> bool:
        return set(wanted) <= set(json.loads(self.equipment or "[]") or ())

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
    summaries = _room_summaries(session, facilities)
    closures = load_closures_of(session, [f.id for f in facilities if summaries[f.id]], filters.first, last)
    sites = []
    for i, facility in enumerate(facilities):
        rooms = [(n, r) for n, r in enumerate(summaries[facility.id])
                 if r.capacity >= filters.min_capacity
                 and (not filters.equipment or r.has_equipment(filters.equipment))]
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
    room: RoomSummary
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
    summaries = _room_summaries(session, facilities)
    candidates_of = {f.id: [r for r in summaries[f.id] if r.id != room.id and r.capacity >= attendees]
                     for f in facilities}
    # the request's local day in any zone lies within a day of its instants
    closures = load_closures_of(session, [fid for fid, rooms in candidates_of.items() if rooms],
                                (start - timedelta(days=1)).astimezone(UTC).date(),
                                (end + timedelta(days=1)).astimezone(UTC).date())
    for facility in facilities:
        candidates = candidates_of[facility.id]
        if not candidates:
            continue
        cal = facility_calendar(facility, closures[facility.id])
        units: set[int] = set()
        for r in candidates:
            units |= r.rules.units
        # a slot room's span is that slot on the same local day, which may start and end at
        # other times than the request: the whole day's holds, and as far past it as a buffer reaches
        day_start, day_end = local_bounds(local_day(start, cal.tz), local_day(start, cal.tz), cal.tz)
        held = load_occupied(session, units, min(start, day_start) - timedelta(hours=1),
                             max(end, day_end) + _reach(r.rules for r in candidates))
        for r in candidates:
            rules = r.rules
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
    mine = _summary_of(session, room, summaries.get(room.facility_id, []))
    rules = mine.rules
    tz = room.facility.timezone
    first = local_day(start, tz)
    cal = facility_calendar(room.facility,
                            load_closures_of(session, [room.facility_id], first,
                                             first + timedelta(days=days_ahead))[room.facility_id])
    span_start, span_end = local_bounds(first, first + timedelta(days=days_ahead), cal.tz)
    held = load_occupied(session, rules.units, span_start, span_end)
    length = end - start
    for n in range(days_ahead + 1):
        d = first + timedelta(days=n)
        if isinstance(rules.scheme, FixedSlots):
            later.extend(
                Alternative(mine, c.start, c.end, c.slot_code, True)
                for c in day_cells(rules, cal, d, held, now, group_class)
                if c.state == CellState.FREE and c.start > start
            )
        else:
            for free in free_intervals(rules, cal, d, held, now):
                s = max(free.start, start) if n == 0 else free.start
                if free.end - s >= length and s != start:
                    later.append(Alternative(mine, s, s + length, None, True))
        if len(later) >= limit:
            break
    return same_time[:limit], later[:limit]


def occupied_in(session: Session, units: Iterable[int], start: datetime, end: datetime) -> list[Occupied]:
    return load_occupied(session, units, start, end)
