"""Search (all facilities at once, day by day, stopping at the limit) returns exactly what the
straightforward search returns: every facility's cells over the whole range, sorted, cut."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from reservations.api.serialize import instant
from reservations.domain.availability import CellState
from reservations.extensions import db
from reservations.models import Closure, Facility, Room
from reservations.services import availability as avail
from reservations.services import bookings as svc
from reservations.services.mapping import (
    FacilityRooms,
    load_unit_map,
    rule_columns,
    rules_from_columns,
)
from tests.booking.conftest import HOURLY
from tests.booking.helpers import book
from tests.factories import NOW, make_facility, make_group, make_room, make_user, tokyo


def reference_search(filters: avail.SearchFilters, group_class: str) -> list[avail.SearchHit]:
    """Search as it was first written: facility_availability per facility over the whole range."""
    session = db.session()
    facilities = session.query(Facility).order_by(Facility.sort_order, Facility.id).all()
    if filters.facility_ids:
        facilities = [f for f in facilities if f.id in filters.facility_ids]
    last = min(filters.last, filters.first + timedelta(days=avail.MAX_RANGE_DAYS))
    hits: list[avail.SearchHit] = []
    for facility in facilities:
        rooms = [r.id for r in facility.rooms if r.active and r.capacity >= filters.min_capacity
                 and all(e in (r.equipment or []) for e in filters.equipment)]
        if not rooms:
            continue
        view = avail.facility_availability(
            session, facility, filters.first, last, now=NOW, group_class=group_class, room_ids=rooms,
            weekdays=filters.weekdays, keep=avail._slot_filter(filters.slot_codes, facility.timezone))
        for row in view.rows:
            for cells in row.days.values():
                hits.extend(avail.SearchHit(row.room, c) for c in cells if c.state == CellState.FREE)
    hits.sort(key=lambda h: (h.cell.start, h.room.facility.sort_order, h.room.sort_order))
    return hits[: filters.limit]


def _key(hits: list[avail.SearchHit]) -> list[tuple[int, object]]:
    return [(h.room.id, h.cell) for h in hits]


@pytest.fixture
def town(app):  # type: ignore[no-untyped-def]
    rng = random.Random(8)
    owner = make_user(email="owner@example.jp")
    group = make_group(owner, name="検索の会")
    rooms = []
    for n in range(4):
        f = make_facility(name_ja=f"施設{n}", name_en=f"Facility {n}", sort_order=n % 2)  # ties in sort order
        a = make_room(f, name_ja=f"A{n}", capacity=10 + 10 * n, sort_order=1, equipment=["projector"] if n % 2 else [])
        b = make_room(f, name_ja=f"B{n}", capacity=30, sort_order=1, buffer_minutes=30 * (n % 2))  # same sort order
        hall = make_room(f, name_ja=f"ホール{n}", capacity=80, sort_order=3, parts=[a, b])
        hourly = make_room(f, name_ja=f"交流{n}", capacity=20, slot_scheme=HOURLY, sort_order=4)
        rooms += [a, b, hall]
        db.session.add(Closure(facility=f, room_id=a.id if n % 2 else None, start_date=date(2026, 12, 9 + n),
                               end_date=date(2026, 12, 9 + n), reason_ja="点検", reason_en="Check", created_at=NOW))
        _ = hourly
    db.session.commit()
    made = 0
    for _i in range(60):
        r = rng.choice(rooms)
        day = date(2026, 12, 2) + timedelta(days=rng.randint(0, 40))
        try:
            book(r, group, day, rng.choice(["morning", "afternoon", "evening"]), actor=owner)
            made += 1
        except Exception:  # noqa: BLE001 - a random booking may break a rule (taken, closed): skip it
            db.session.rollback()
    assert made >= 20
    return rooms


@pytest.mark.both_databases
@pytest.mark.parametrize("kw", [
    {},
    {"limit": 5},
    {"limit": 37, "weekdays": (1, 3, 5)},
    {"limit": 1000, "slot_codes": ("evening",), "min_capacity": 20},
    {"limit": 60, "slot_codes": ("morning", "afternoon"), "equipment": ("projector",)},
    {"limit": 100000, "weekdays": (5, 6)},
    {"limit": 25, "first": date(2026, 12, 28), "last": date(2027, 1, 6)},
    {"limit": 50, "facility_ids": (1, 3)},
    {"limit": 0},
    {"first": date(2026, 12, 10), "last": date(2026, 12, 9)},
])
def test_search_equals_the_reference(town, kw):  # type: ignore[no-untyped-def]
    args = {"first": date(2026, 12, 1), "last": date(2027, 1, 20)} | kw
    if "facility_ids" in args:
        ids = [f.id for f in db.session.query(Facility).order_by(Facility.id)]
        args["facility_ids"] = tuple(ids[i] for i in args["facility_ids"])
    filters = avail.SearchFilters(**args)
    for group_class in ("general", "registered"):
        fast = avail.search(db.session(), filters, now=NOW, group_class=group_class)
        assert _key(fast) == _key(reference_search(filters, group_class))
    if kw == {}:
        assert any(h.cell.slot_code is None for h in fast) and any(h.cell.slot_code for h in fast)


@pytest.mark.both_databases
def test_rules_from_stored_columns_equal_the_orm_rules(town):  # type: ignore[no-untyped-def]
    """Search reads rooms as columns (JSON as its text) into cached rules; they must be the rules
    the ORM room gives, for every kind of room, and a changed room must give new rules."""
    odd = town[0]
    odd.cancellation_tiers = [[10, 0], [3, 50], [0, 100]]
    odd.claim_policy = {"mode": "always", "on_expiry": "confirm"}
    odd.windows = {"general": {"months_ahead": 2, "from_first_of_month": False}}
    db.session.commit()
    session = db.session()
    for facility in session.query(Facility):
        fr = FacilityRooms([r for r in facility.rooms if r.active])
        units = load_unit_map(session, facility.id)
        stored = {row[0]: tuple(row) for row in session.execute(
            select(*rule_columns()).where(Room.facility_id == facility.id))}
        for room in fr.rooms:
            cached = rules_from_columns(stored[room.id], units.units[room.id],
                                        units.related(room.id, among=[r.id for r in fr.rooms]))
            assert cached == fr.rules(room)
    before = rules_from_columns(tuple(session.execute(select(*rule_columns()).where(Room.id == odd.id)).one()),
                                frozenset({odd.id}), frozenset({odd.id}))
    odd.buffer_minutes = 45
    db.session.commit()
    after = rules_from_columns(tuple(session.execute(select(*rule_columns()).where(Room.id == odd.id)).one()),
                               frozenset({odd.id}), frozenset({odd.id}))
    assert (before.buffer_minutes, after.buffer_minutes) == (0, 45)


def test_api_search_pages_add_up_to_the_whole_result(town, client):  # type: ignore[no-untyped-def]
    """The API searches only as far as the page asked for needs; walking the pages still gives
    exactly the whole result, in order."""
    whole = avail.search(db.session(), avail.SearchFilters(first=date(2026, 12, 1), last=date(2026, 12, 7),
                                                           slot_codes=("evening",), limit=1000),
                         now=NOW, group_class="general")
    assert 40 < len(whole) < 1000
    seen: list[tuple[int, str]] = []
    url = "/api/v1/search?from=2026-12-01&to=2026-12-07&slot=evening&limit=17"
    cursor = None
    while True:
        body = client.get(url + (f"&cursor={cursor}" if cursor else "")).get_json()
        seen += [(h["room_id"], h["cell"]["start"]) for h in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == [(h.room.id, instant(h.cell.start, "Asia/Tokyo")) for h in whole]


@pytest.mark.both_databases
def test_a_long_cleanup_buffer_reaches_past_the_last_day_of_a_range(app):  # type: ignore[no-untyped-def]
    """A late cell on the last day shown is taken by a hold that starts after midnight within the
    room's cleanup buffer; the grid, search and the alternatives read holds that far (they read
    only an hour past the range, and alternatives two)."""
    owner = make_user(email="late@example.jp")
    group = make_group(owner, name="深夜の会")
    f = make_facility(opening_hours={str(d): ["00:00", "23:30"] for d in range(7)}, closed_on_holidays=False)
    room = make_room(f, name_ja="夜の部屋", slot_scheme=HOURLY, buffer_minutes=240)
    db.session.commit()
    day = date(2026, 12, 10)
    svc.create_booking(db.session(), svc.BookingInput(
        room_id=room.id, group_id=group.id, start=tokyo(2026, 12, 11, 1, 0), end=tokyo(2026, 12, 11, 2, 0),
        purpose="夜勤明け", attendees=5), actor=owner, now=NOW)
    db.session.commit()
    late = tokyo(2026, 12, 10, 22, 30)
    view = avail.facility_availability(db.session(), f, day, day, now=NOW, group_class="registered")
    (cell,) = [c for c in view.rows[0].days[day] if c.start == late]
    assert cell.state == CellState.TAKEN
    hits = avail.search(db.session(), avail.SearchFilters(first=day, last=day, limit=1000), now=NOW,
                        group_class="registered")
    free = {h.cell.start for h in hits if h.room.id == room.id}
    assert late not in free and tokyo(2026, 12, 10, 20, 30) in free
    other = make_room(f, name_ja="隣の部屋", slot_scheme=HOURLY, buffer_minutes=240)
    db.session.commit()
    same_time, _later = avail.suggest_alternatives(
        db.session(), other, late, late + timedelta(minutes=30), slot_code=None, attendees=5, now=NOW,
        group_class="registered")
    assert room.id not in {a.room.id for a in same_time}


def test_free_intervals_of_the_last_day_end_a_buffer_before_the_next_days_first_hold(app):  # type: ignore[no-untyped-def]
    owner = make_user(email="late2@example.jp")
    group = make_group(owner, name="早朝の会")
    f = make_facility(opening_hours={str(d): ["00:00", "23:30"] for d in range(7)}, closed_on_holidays=False)
    room = make_room(f, slot_scheme=HOURLY, buffer_minutes=240)
    db.session.commit()
    svc.create_booking(db.session(), svc.BookingInput(
        room_id=room.id, group_id=group.id, start=tokyo(2026, 12, 11, 1, 0), end=tokyo(2026, 12, 11, 2, 0),
        purpose="早朝練習", attendees=5), actor=owner, now=NOW)
    db.session.commit()
    day = date(2026, 12, 10)
    row = avail.room_availability(db.session(), room, day, day, now=NOW, group_class="registered", with_free=True)
    assert row.free is not None
    (last,) = row.free[day][-1:]
    assert last.end == tokyo(2026, 12, 10, 21, 0)  # the hold at 01:00 less the room's 4 hours


@pytest.mark.both_databases
def test_room_summaries_equal_the_orm_rooms(town):  # type: ignore[no-untyped-def]
    """The grid, search and alternatives read rooms and part links as columns of one query: the
    active rooms in the relationship's order, each with the rules the ORM room gives, its related
    rooms among the active ones; a part taken out of use still divides its hall."""
    town[1].active = False  # part B of the first hall
    db.session.commit()
    session = db.session()
    facilities = list(session.query(Facility).order_by(Facility.id))
    summaries = avail._room_summaries(session, facilities)
    assert set(summaries) == {f.id for f in facilities}
    for facility in facilities:
        fr = FacilityRooms([r for r in facility.rooms if r.active])
        assert [s.id for s in summaries[facility.id]] == [r.id for r in fr.rooms]
        for s, room in zip(summaries[facility.id], fr.rooms, strict=True):
            assert s.rules == fr.rules(room)
            assert (s.facility, s.sort_order, s.capacity, s.name("en")) == (facility, room.sort_order,
                                                                            room.capacity, room.name_en)
            assert s.has_equipment(room.equipment or []) and (s.has_equipment(["projector"]) ==
                                                              ("projector" in (room.equipment or [])))
    hall = town[2]
    (hall_summary,) = [s for s in summaries[hall.facility_id] if s.id == hall.id]
    assert hall_summary.rules.units == {town[0].id, town[1].id}
    assert avail._room_summaries(session, []) == {}


@pytest.mark.both_databases
def test_free_stretches_equal_each_days_own_reading(app):  # type: ignore[no-untyped-def]
    """A free-time room's free stretches come from the holds the month's cells are computed from:
    they must equal what each day's own reading of its holds gives, with a cleanup buffer that
    reaches across midnight and holds on neighbouring days."""
    from reservations.domain.availability import free_intervals
    from reservations.services.mapping import facility_calendar, load_occupied, local_bounds

    owner = make_user(email="stretch@example.jp")
    group = make_group(owner, name="区切りの会")
    f = make_facility(opening_hours={str(d): ["06:00", "23:30"] for d in range(7)}, closed_on_holidays=False)
    room = make_room(f, slot_scheme=HOURLY, buffer_minutes=90)
    db.session.commit()
    rng = random.Random(3)
    for _ in range(25):
        day = date(2026, 12, 8) + timedelta(days=rng.randint(0, 6))
        hour = rng.randint(6, 21)
        try:
            svc.create_booking(db.session(), svc.BookingInput(
                room_id=room.id, group_id=group.id, start=tokyo(day.year, day.month, day.day, hour, 0),
                end=tokyo(day.year, day.month, day.day, hour + rng.randint(1, 2), 0), purpose="練習",
                attendees=3), actor=owner, now=NOW)
            db.session.commit()
        except Exception:  # noqa: BLE001 - a random booking may overlap another: skip it
            db.session.rollback()
    first, last = date(2026, 12, 7), date(2026, 12, 15)
    row = avail.room_availability(db.session(), room, first, last, now=NOW, group_class="registered",
                                  with_free=True)
    assert row.free is not None and set(row.free) == set(row.days)
    rules = FacilityRooms(room.facility.rooms).rules(room)
    cal = facility_calendar(room.facility)
    d = first
    while d <= last:
        lo, hi = local_bounds(d, d, cal.tz)
        held = load_occupied(db.session(), rules.units, lo - timedelta(days=1), hi + timedelta(days=1))
        assert row.free[d] == free_intervals(rules, cal, d, held, NOW), d
        d += timedelta(days=1)
    assert any(len(stretches) > 1 for stretches in row.free.values())
