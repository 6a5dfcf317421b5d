"""The fast path of ``create_booking`` (issue 8) gives what the full check gives.

A single booking is checked without loading the room's holds and the database's overlap
guard refuses a taken time; these tests hold that path to the reference, ``plan_booking``
(which always loads the holds): the same failures, messages and details, nothing left behind,
and the room's units and closures computed from ids as from the ORM objects.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select

from reservations.domain.errors import DomainError, RuleFailure
from reservations.extensions import db
from reservations.models import AuditEvent, Booking, Closure, OccupiedUnit, OutboxMessage
from reservations.services import bookings as svc
from reservations.services import notify
from reservations.services.mapping import (
    FacilityRooms,
    UnitMap,
    facility_calendar,
    load_closures,
    load_unit_map,
)
from tests.factories import NOW, make_facility, make_group, make_room, make_user

DAY = date(2026, 12, 8)  # a Tuesday, inside a registered group's window


@pytest.fixture
def world(session):  # type: ignore[no-untyped-def]
    facility = make_facility()
    part_a, part_b = make_room(facility, code="a"), make_room(facility, code="b")
    hall = make_room(facility, code="hall", capacity=100, parts=[part_a, part_b])
    first, second = make_user(), make_user()
    session.commit()
    return {"facility": facility, "a": part_a, "b": part_b, "hall": hall,
            "first": first, "first_group": make_group(first), "second": second, "second_group": make_group(second)}


def _inp(room, group, slot="afternoon", **kw):  # type: ignore[no-untyped-def]
    return svc.BookingInput(room_id=room.id, group_id=group.id, day=DAY, slot_code=slot, purpose="定例会",
                            attendees=kw.pop("attendees", 10), **kw)


def _shown(failures: list[RuleFailure]) -> list[tuple[Any, ...]]:
    """What a caller sees of a failure, details included (they carry the taken times)."""
    return [(f.code, f.message_ja, f.message_en, f.field, f.details) for f in failures]


def _reference(session, inp, actor) -> list[RuleFailure]:  # type: ignore[no-untyped-def]
    """The failures of the full check, as ``create_booking`` raised them before the fast path."""
    plan = svc.plan_booking(session, inp, actor=actor, now=NOW)
    session.rollback()
    if plan.failures:
        return list(plan.failures)
    return svc._dedupe([f for o in plan.occurrences for f in o.failures])


def _refused(session, inp, actor) -> list[RuleFailure]:  # type: ignore[no-untyped-def]
    with pytest.raises(DomainError) as err:
        svc.create_booking(session, inp, actor=actor, now=NOW)
    session.rollback()
    return err.value.failures


@pytest.mark.both_databases
@pytest.mark.parametrize(("taken", "wanted", "slot", "attendees"), [
    ("a", "a", "morning_afternoon", 10),  # the same room, overlapping slots
    ("a", "hall", "afternoon", 10),  # a part is taken: the whole is refused
    ("hall", "b", "afternoon", 10),  # the whole is taken: each part is refused
    ("a", "a", "afternoon", 500),  # taken and over capacity: both failures, in the check's order
])
def test_refused_booking_has_the_full_checks_failures(session, world, taken, wanted, slot, attendees) -> None:  # type: ignore[no-untyped-def]
    [held] = svc.create_booking(session, _inp(world[taken], world["first_group"]), actor=world["first"], now=NOW)
    session.commit()
    inp = _inp(world[wanted], world["second_group"], slot=slot, attendees=attendees)

    expected = _reference(session, inp, world["second"])
    got = _refused(session, inp, world["second"])

    assert "conflict" in [f.code for f in expected]
    assert _shown(got) == _shown(expected)
    conflict = next(f for f in got if f.code == "conflict")
    assert [c["booking_id"] for c in conflict.details["conflicts"]] == [held.id]
    # nothing of the refused booking stays: no row, no hold, no audit event, no notice
    assert session.scalar(select(func.count()).select_from(Booking)) == 1
    assert session.scalar(select(func.count()).select_from(OccupiedUnit)) == len(
        FacilityRooms(world["facility"].rooms).units[world[taken].id])
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == 1
    assert session.scalar(select(func.count(func.distinct(OutboxMessage.booking_id)))) == 1


@pytest.mark.both_databases
def test_other_failures_are_the_full_checks_without_writing(session, world) -> None:  # type: ignore[no-untyped-def]
    svc.create_booking(session, _inp(world["a"], world["first_group"]), actor=world["first"], now=NOW)
    session.commit()
    for inp in (
        _inp(world["b"], world["second_group"], attendees=500),  # free, but too many people
        _inp(world["b"], world["second_group"], slot="nonsense"),  # no such slot
        svc.BookingInput(room_id=world["b"].id, group_id=world["second_group"].id, day=DAY + timedelta(days=365),
                         slot_code="afternoon", purpose="定例会", attendees=10),  # window not open yet
    ):
        expected = _reference(session, inp, world["second"])
        assert expected
        assert _shown(_refused(session, inp, world["second"])) == _shown(expected)
    assert session.scalar(select(func.count()).select_from(Booking)) == 1


@pytest.mark.both_databases
def test_free_booking_goes_through_and_the_slot_is_then_taken(session, world) -> None:  # type: ignore[no-untyped-def]
    [b] = svc.create_booking(session, _inp(world["hall"], world["first_group"]), actor=world["first"], now=NOW)
    assert b.room is world["hall"] and b.group is world["first_group"] and b.booked_by is world["first"]
    assert sorted(u.unit_id for u in b.units) == sorted([world["a"].id, world["b"].id])
    session.commit()
    assert session.scalars(select(AuditEvent.action).where(AuditEvent.booking_id == b.id)).all() == ["booking.created"]
    assert sorted(session.scalars(select(OutboxMessage.recipient).where(OutboxMessage.booking_id == b.id))) == sorted(
        [world["first"].email, world["first_group"].contact_email])
    assert _refused(session, _inp(world["a"], world["second_group"]), world["second"])[0].code == "conflict"


@pytest.mark.both_databases
def test_a_single_booking_does_not_load_the_holds(app, session, world) -> None:  # type: ignore[no-untyped-def]
    """The statements of one booking: the overlap is left to the database's guard."""
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(" ".join(statement.split()))

    inp = _inp(world["a"], world["first_group"])
    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        svc.create_booking(session, inp, actor=world["first"], now=NOW)
        session.commit()
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert not [s for s in statements if s.startswith("SELECT occupied_units")]
    assert not [s for s in statements if s.startswith("SELECT outbox")]  # the unique key decides
    # BEGIN IMMEDIATE; room with facility, group with members, actor with memberships, the
    # facility's part links, closures; booking, holds; audit event; both notices in one INSERT;
    # on PostgreSQL also the shared locks on the facility and the group (_hold_rules_still)
    assert len([s for s in statements if s.startswith("INSERT INTO outbox")]) == 1
    locks = [s for s in statements if s.endswith("FOR SHARE") or " FOR SHARE OF " in s]
    assert len(locks) == (2 if db.engine.dialect.name == "postgresql" else 0), statements
    assert len(statements) - len(locks) <= 10, statements


def test_unit_map_matches_facility_rooms(session) -> None:  # type: ignore[no-untyped-def]
    """Units and related rooms from ids are those from the ORM objects, nested divisions too."""
    f = make_facility()
    a, b, c = make_room(f, code="a"), make_room(f, code="b"), make_room(f, code="c")
    ab = make_room(f, code="ab", parts=[a, b])
    whole = make_room(f, code="abc", parts=[ab, c])
    lone = make_room(f, code="lone")
    other_facility = make_facility()
    make_room(other_facility, code="x", parts=[make_room(other_facility, code="y")])
    session.commit()

    reference = FacilityRooms(f.rooms)
    ids = load_unit_map(session, f.id)
    assert ids.units == reference.units
    for room in (a, b, c, ab, whole, lone):
        assert ids.related(room.id) == reference.related(room)
        assert ids.rules(room) == reference.rules(room)
    with pytest.raises(ValueError, match="part of itself"):
        UnitMap({1: [2], 2: [1]})


def test_closures_of_the_days_asked_answer_as_all_closures(session) -> None:  # type: ignore[no-untyped-def]
    f = make_facility()
    room, other = make_room(f), make_room(f)
    for start, end, room_id, reason in (
        (date(2026, 12, 1), date(2026, 12, 3), None, "点検"),
        (date(2026, 12, 3), date(2026, 12, 5), room.id, "工事"),  # overlaps the first on the 3rd
        (date(2026, 12, 3), date(2026, 12, 3), None, "選挙"),  # same start day as the room's
        (date(2026, 12, 9), date(2026, 12, 20), other.id, "改装"),
        (date(2027, 3, 1), date(2027, 3, 2), None, "春"),
    ):
        session.add(Closure(facility_id=f.id, room_id=room_id, start_date=start, end_date=end, reason_ja=reason,
                            reason_en=reason, created_at=NOW))
    session.commit()
    session.expire_all()
    everything = facility_calendar(f)
    for first, last in ((date(2026, 11, 28), date(2026, 12, 12)), (date(2026, 12, 3), date(2026, 12, 3)),
                        (date(2026, 12, 10), date(2027, 3, 5))):
        some = facility_calendar(f, load_closures(session, f.id, first, last))
        d = first
        while d <= last:
            for rooms in (frozenset({room.id}), frozenset({other.id}), frozenset()):
                assert some.closed_reason(d, rooms) == everything.closed_reason(d, rooms), (d, rooms)
            d += timedelta(days=1)


@pytest.mark.both_databases
def test_queue_lets_the_unique_key_keep_dedupe(session, world) -> None:  # type: ignore[no-untyped-def]
    """One INSERT for every recipient: a key queued already is left alone, the others go in (none
    new, all new, some new)."""
    [b] = svc.create_booking(session, _inp(world["a"], world["first_group"]), actor=world["first"], now=NOW)
    session.commit()
    both = sorted([world["first"].email, world["first_group"].contact_email])
    count = select(func.count()).select_from(OutboxMessage)
    before = session.scalar(count)
    notify.queue(session, "booking_received", b, now=NOW)  # the same keys again: nothing new
    assert session.scalar(count) == before
    notify.queue(session, "booking_received", b, now=NOW, key_suffix="again")
    session.commit()
    assert sorted(session.scalars(select(OutboxMessage.recipient).where(
        OutboxMessage.dedupe_key.like(f"booking_received:{b.id}:again:%")))) == both
    # one of the two addresses queued already under a third suffix: only the other goes in
    session.add(OutboxMessage(dedupe_key=f"booking_received:{b.id}:third:{world['first'].email}", kind="booking_received",
                              booking_id=b.id, group_id=b.group_id, recipient=world["first"].email, language="ja",
                              context={}, status="sent", attempts=1, next_attempt_at=NOW, created_at=NOW))
    session.flush()
    notify.queue(session, "booking_received", b, now=NOW, key_suffix="third")
    session.commit()
    assert session.scalar(count) == before + 4
    assert sorted(session.scalars(select(OutboxMessage.recipient).where(
        OutboxMessage.dedupe_key.like(f"booking_received:{b.id}:third:%")))) == both
    sent = session.scalar(select(OutboxMessage.status).where(
        OutboxMessage.dedupe_key == f"booking_received:{b.id}:third:{world['first'].email}"))
    assert sent == "sent"  # the row queued first is left as it was
