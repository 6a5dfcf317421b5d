"""Turning stored rows into the domain core's dataclasses."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Integer,
    Text,
    and_,
    any_,
    bindparam,
    cast,
    select,
    text,
)
from sqlalchemy.orm import Session

from ..domain.calendar import Closure as DomainClosure
from ..domain.calendar import FacilityCalendar
from ..domain.fees import CancellationTier, Exemption, Extra, FeeTable
from ..domain.rules import MAX_BOOKING_HOURS, ClaimPolicy, Occupied, RoomRules
from ..domain.slots import FixedSlots, FreeTime, JoinedSlot, Slot, SlotScheme
from ..domain.windows import DEFAULT_WINDOWS, BookingWindow
from ..models import Booking, Closure, Facility, OccupiedUnit, Room, room_parts


def _t(value: str) -> time:
    return time.fromisoformat(value)


def slot_scheme(data: dict[str, Any]) -> SlotScheme:
    if data.get("kind") == "free":
        return FreeTime(
            granularity_minutes=int(data.get("granularity", 30)),
            min_minutes=int(data.get("min_minutes", 60)),
            max_minutes=int(data.get("max_minutes", 480)),
        )
    slots = tuple(
        Slot(s["code"], s["name_ja"], s.get("name_en", s["code"]), _t(s["start"]), _t(s["end"]))
        for s in data.get("slots", [])
    )
    joined = tuple(
        JoinedSlot(j["code"], j["name_ja"], j.get("name_en", j["code"]), tuple(j["parts"]))
        for j in data.get("joined", [])
    )
    return FixedSlots(slots, joined)


def fee_table(data: dict[str, Any]) -> FeeTable:
    return FeeTable(
        per_slot={k: int(v) for k, v in (data.get("per_slot") or {}).items()},
        per_hour=data.get("per_hour"),
        extras=tuple(
            Extra(e["code"], e["name_ja"], e.get("name_en", e["code"]), int(e["price"]),
                  e.get("per", "booking"), bool(e.get("exemptible", True)))
            for e in data.get("extras", [])
        ),
    )


def exemptions(room: Room) -> dict[str, Exemption]:
    return {
        e["code"]: Exemption(e["code"], e["name_ja"], e.get("name_en", e["code"]), int(e["percent"]))
        for e in (room.fee_table or {}).get("exemptions", [])
    }


def facility_calendar(facility: Facility, closures: Iterable[DomainClosure] | None = None) -> FacilityCalendar:
    """The facility's calendar; with ``closures`` (``load_closures``) instead of all its closures."""
    hours = {
        int(k): (_t(v[0]), _t(v[1])) for k, v in (facility.opening_hours or {}).items() if v
    }
    rows = tuple(closures) if closures is not None else tuple(
        _closure(c.start_date, c.end_date, c.reason_ja, c.reason_en, c.room_id) for c in facility.closures)
    return FacilityCalendar(
        tz=facility.timezone,
        hours=hours,
        closed_weekdays=frozenset(facility.closed_weekdays or ()),
        closed_on_holidays=facility.closed_on_holidays,
        new_year_break=facility.new_year_break,
        closures=rows,
    )


def _closure(start: date, end: date, reason_ja: str, reason_en: str | None, room_id: int | None) -> DomainClosure:
    return DomainClosure(start, end, reason_ja, reason_en or reason_ja, room_id)


class UnitMap:
    """The leaf units of rooms, computed from room ids and part links only: the one place that
    says which rooms share space (a divided hall and its parts).

    Booking a room needs the units and related rooms of that one room, which depend on how
    every room of its facility is divided; loading all those rooms as ORM objects (with
    their JSON rule tables) and their parts cost more than the rest of a booking.
    """

    def __init__(self, parts: dict[int, list[int]]) -> None:
        self.parts = parts
        self.units = {rid: self._leaves(rid, frozenset()) for rid in parts}

    @classmethod
    def from_links(cls, links: Iterable[tuple[int, int | None]]) -> UnitMap:
        """From (room id, direct part id) rows as rooms LEFT JOIN their parts give them: a room
        without parts comes once, with None."""
        parts: dict[int, list[int]] = {}
        for whole, part in links:
            children = parts.setdefault(whole, [])
            if part is not None:
                children.append(part)
        return cls(parts)

    def _leaves(self, room_id: int, seen: frozenset[int]) -> frozenset[int]:
        """The leaf parts a room occupies: itself when not divisible."""
        if room_id in seen:
            raise ValueError(f"room {room_id} is part of itself")
        children = self.parts.get(room_id) or []
        if not children:
            return frozenset({room_id})
        out: set[int] = set()
        for p in children:
            out |= self._leaves(p, seen | {room_id})
        return frozenset(out)

    def related(self, room_id: int, among: Iterable[int] | None = None) -> frozenset[int]:
        """The rooms (of ``among``, default all) sharing a unit with ``room_id`` (the whole hall
        for a part, every part for the hall), itself included."""
        mine = self.units.get(room_id) or self._leaves(room_id, frozenset())
        ids = self.units if among is None else among
        return frozenset(rid for rid in ids if self.units[rid] & mine) | {room_id}

    def rules(self, room: Room) -> RoomRules:
        return room_rules(room, self.units.get(room.id) or self._leaves(room.id, frozenset()), self.related(room.id))


def _part_links(rooms: Iterable[Room]) -> dict[int, list[int]]:
    """Part links of ``rooms`` and of every part reachable from them, read from the ORM."""
    links: dict[int, list[int]] = {}
    todo = list(rooms)
    while todo:
        r = todo.pop()
        if r.id in links:
            continue
        links[r.id] = [p.id for p in r.parts]
        todo.extend(r.parts)
    return links


def leaf_units(room: Room) -> frozenset[int]:
    """The leaf parts a room occupies: itself when not divisible."""
    return UnitMap(_part_links([room])).units[room.id]


class FacilityRooms:
    """The rooms of one facility (as ORM objects) with their units, so related rooms are
    computed once; the rule itself is :class:`UnitMap`'s."""

    def __init__(self, rooms: Iterable[Room]) -> None:
        self.rooms = list(rooms)
        self._map = UnitMap(_part_links(self.rooms))
        self.units = {r.id: self._map.units[r.id] for r in self.rooms}

    def related(self, room: Room) -> frozenset[int]:
        known = self._map if room.id in self._map.units else UnitMap(_part_links([*self.rooms, room]))
        return known.related(room.id, among=self.units)

    def rules(self, room: Room) -> RoomRules:
        units = self.units.get(room.id) or leaf_units(room)
        return room_rules(room, units, self.related(room))


def load_unit_map(session: Session, facility_ids: int | Iterable[int]) -> UnitMap:
    """Every room of the facility (or facilities: parts never cross one) with its direct parts,
    in one query of ids."""
    ids = [facility_ids] if isinstance(facility_ids, int) else list(facility_ids)
    return UnitMap.from_links(session.execute(_UNIT_LINKS, {"ids": ids}))


# built once: each booking reads these, and building a statement costs as much as running it
_UNIT_LINKS = (
    select(Room.id, room_parts.c.part_id)
    .outerjoin(room_parts, room_parts.c.whole_id == Room.id)
    .where(Room.facility_id.in_(bindparam("ids", expanding=True)))
)


def rules_of(session: Session, room: Room) -> RoomRules:
    """A room's rules, its units and related rooms read from its facility's ids and part links
    (``load_unit_map``) rather than from every room of the facility as an ORM object."""
    return load_unit_map(session, room.facility_id).rules(room)


def load_closures(session: Session, facility_id: int, first: date, last: date) -> list[DomainClosure]:
    """The facility's closures touching ``first``–``last``, in the order of ``Facility.closures``."""
    return load_closures_of(session, [facility_id], first, last)[facility_id]


def load_closures_of(session: Session, facility_ids: Iterable[int],
                     first: date | None = None, last: date | None = None) -> dict[int, list[DomainClosure]]:
    """Closures per facility in the order of ``Facility.closures`` (start date), one query of
    columns for all; only those touching ``first``–``last`` when given. A calendar built from these
    answers exactly as one built from every closure for the days of that range; the full list
    grows with the years."""
    ids = list(facility_ids)
    out: dict[int, list[DomainClosure]] = {fid: [] for fid in ids}
    if not ids:
        return out
    if first is not None and last is not None:
        rows = session.execute(_CLOSURES_IN_RANGE, {"ids": ids, "first": first, "last": last})
    else:
        rows = session.execute(_CLOSURES, {"ids": ids})
    for facility_id, start, end, reason_ja, reason_en, room_id in rows:
        out[facility_id].append(_closure(start, end, reason_ja, reason_en, room_id))
    return out


_CLOSURES = (
    select(Closure.facility_id, Closure.start_date, Closure.end_date, Closure.reason_ja, Closure.reason_en,
           Closure.room_id)
    .where(Closure.facility_id.in_(bindparam("ids", expanding=True)))
    .order_by(Closure.facility_id, Closure.start_date, Closure.id)
)
_CLOSURES_IN_RANGE = _CLOSURES.where(Closure.end_date >= bindparam("first"), Closure.start_date <= bindparam("last"))


_PLAIN_RULE_FIELDS = ("id", "name_ja", "name_en", "capacity", "min_lead_minutes", "buffer_minutes",
                      "requires_approval", "checkin_required", "checkin_grace_minutes")
_JSON_RULE_FIELDS = ("slot_scheme", "windows", "claim_policy", "cancellation_tiers", "fee_table")


def rule_columns() -> list[ColumnElement[Any]]:
    """The columns ``rules_from_columns`` takes, in its order, the room's id first; the JSON ones
    as their stored text, so the values are hashable and nothing is parsed until a room's rules
    are first built."""
    return [getattr(Room, f) for f in _PLAIN_RULE_FIELDS] + [cast(getattr(Room, f), Text) for f in _JSON_RULE_FIELDS]


@dataclass(frozen=True)
class StoredRules:
    """A room's rule columns as ``rule_columns`` reads them, JSON parsed: what ``room_rules`` reads
    of a ``Room``."""

    id: int
    name_ja: str
    name_en: str
    capacity: int
    min_lead_minutes: int
    buffer_minutes: int
    requires_approval: bool
    checkin_required: bool
    checkin_grace_minutes: int
    slot_scheme: dict[str, Any]
    windows: dict[str, Any]
    claim_policy: dict[str, Any]
    cancellation_tiers: list[list[int]] | None
    fee_table: dict[str, Any]

    @classmethod
    def parse(cls, values: tuple[Any, ...]) -> StoredRules:
        n = len(_PLAIN_RULE_FIELDS)
        parsed = [json.loads(v) if v is not None else None for v in values[n:]]
        return cls(*values[:n], *parsed)


@lru_cache(maxsize=4096)
def rules_from_columns(values: tuple[Any, ...], units: frozenset[int], related: frozenset[int]) -> RoomRules:
    """``room_rules`` of a room read as ``rule_columns``. Search needs the rules of every room of
    the city; building them from ORM rows was most of its time. The stored values themselves are
    the key, so an edited room is a new key and there is nothing to invalidate."""
    rules = room_rules(StoredRules.parse(values), units, related)
    return replace(rules, scheme=_canonical_scheme(rules.scheme))


@lru_cache(maxsize=1024)
def _canonical_scheme(scheme: SlotScheme) -> SlotScheme:
    """One instance per distinct scheme, so the domain core's caches keyed by scheme find theirs
    by identity instead of comparing slot by slot (most rooms of a city share a few schemes)."""
    return scheme


def room_rules(room: Room | StoredRules, units: frozenset[int] | None = None,
               related: frozenset[int] | None = None) -> RoomRules:
    if units is None or related is None:
        assert isinstance(room, Room), "units and related are needed for a room read as columns"
        fr = FacilityRooms(room.facility.rooms)
        units, related = fr.units.get(room.id) or leaf_units(room), fr.related(room)
    windows = {
        k: BookingWindow(int(v.get("months_ahead", 1)), bool(v.get("from_first_of_month", True)))
        for k, v in (room.windows or {}).items()
    } or dict(DEFAULT_WINDOWS)
    cp = room.claim_policy or {}
    tiers = tuple(CancellationTier(int(d), int(p)) for d, p in room.cancellation_tiers) \
        if room.cancellation_tiers is not None else None
    rules = RoomRules(
        room_id=room.id,
        name_ja=room.name_ja,
        name_en=room.name_en,
        capacity=room.capacity,
        scheme=slot_scheme(room.slot_scheme),
        units=units,
        related=related,
        windows=windows,
        min_lead_minutes=room.min_lead_minutes,
        buffer_minutes=room.buffer_minutes,
        requires_approval=room.requires_approval,
        claim=ClaimPolicy(
            mode=cp.get("mode", "if_fee"),
            days_after_booking=int(cp.get("days_after_booking", 7)),
            days_before_use=int(cp.get("days_before_use", 3)),
            on_expiry=cp.get("on_expiry", "release"),
        ),
        checkin_required=room.checkin_required,
        checkin_grace_minutes=room.checkin_grace_minutes,
        fees=fee_table(room.fee_table or {}),
    )
    if tiers is not None:
        rules = replace(rules, cancellation_tiers=tiers)
    return rules


def load_occupied(session: Session, units: Iterable[int], start: datetime, end: datetime) -> list[Occupied]:
    """Active holds on ``units`` overlapping ``[start, end)``.

    Bounded on both sides (a hold starts no earlier than the longest booking
    before ``start``) so the index on (unit, start) serves the query however
    long the history grows.
    """
    unit_ids = list(units)
    if not unit_ids:
        return []
    earliest = start - timedelta(hours=MAX_BOOKING_HOURS + 2)
    # plain columns through the connection: the ORM's result machinery cost more than the query.
    # The connection does not autoflush, so pending changes (a hold freed, a time moved) go first.
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()
    connection = session.connection()
    rows = connection.execute(_holds_statement(connection.dialect.name),
                              {"unit_ids": unit_ids, "start": start, "end": end, "earliest": earliest}).all()
    grouped: dict[int, tuple[int, set[int], datetime, datetime]] = {}
    for booking_id, room_id, unit_id, s, e in rows:
        if booking_id in grouped:
            grouped[booking_id][1].add(unit_id)
        else:
            grouped[booking_id] = (room_id, {unit_id}, s, e)
    return [Occupied(bid, rid, frozenset(u), s, e) for bid, (rid, u, s, e) in grouped.items()]


@cache
def _holds_statement(dialect: str) -> Any:
    """``load_occupied``'s statement, built once per database kind (built per call, it cost about as
    much as running it). On PostgreSQL the units are one array parameter (``= ANY(…)``): a search
    over the city's 300 rooms sent 300 parameters for the driver to adapt one by one and the
    server to plan (the same plan: both are an index condition on the array)."""
    if dialect == "postgresql":
        units = OccupiedUnit.unit_id == any_(bindparam("unit_ids", type_=ARRAY(Integer)))
    else:
        units = OccupiedUnit.unit_id.in_(bindparam("unit_ids", expanding=True))
    return (
        select(OccupiedUnit.booking_id, Booking.room_id, OccupiedUnit.unit_id,
               OccupiedUnit.start_at, OccupiedUnit.end_at)
        .join(Booking, Booking.id == OccupiedUnit.booking_id)
        .where(
            and_(
                units,
                # written exactly as the partial index's predicate (``WHERE active``): an
                # ``active IS 1`` / ``active = true`` form makes both databases skip that index
                text("occupied_units.active"),
                OccupiedUnit.start_at < bindparam("end"),
                OccupiedUnit.start_at >= bindparam("earliest"),
                OccupiedUnit.end_at > bindparam("start"),
            )
        )
    )


def local_bounds(first: date, last: date, tz: str) -> tuple[datetime, datetime]:
    from zoneinfo import ZoneInfo

    z = ZoneInfo(tz)
    return datetime.combine(first, time(0), z), datetime.combine(last + timedelta(days=1), time(0), z)
