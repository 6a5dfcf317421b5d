"""The booking service against a real database: create, lifecycle, overlap, divisible rooms."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from reservations.domain.errors import DomainError, IllegalTransition
from reservations.extensions import db
from reservations.models import AuditEvent, Booking, OutboxMessage
from reservations.services import bookings as svc
from reservations.services.permissions import Forbidden, NotFound
from tests.factories import NOW, at, make_facility, make_group, make_room, make_user

DAY = date(2026, 12, 8)  # a Tuesday, inside a registered group's window


@pytest.fixture
def world(session):  # type: ignore[no-untyped-def]
    facility = make_facility()
    room = make_room(facility)
    member = make_user()
    other = make_user()
    staff = make_user("staff", facilities=[facility])
    group = make_group(member, exemption_code="civic_50")
    other_group = make_group(other)
    return {"facility": facility, "room": room, "member": member, "other": other, "staff": staff,
            "group": group, "other_group": other_group}


def _inp(w, slot="evening", day=DAY, group=None, **kw):  # type: ignore[no-untyped-def]
    return svc.BookingInput(room_id=w["room"].id, group_id=(group or w["group"]).id, day=day, slot_code=slot,
                            purpose="定例会", attendees=10, **kw)


@pytest.mark.both_databases
def test_create_prices_with_exemption_and_holds_provisionally(session, world) -> None:  # type: ignore[no-untyped-def]
    [b] = svc.create_booking(session, _inp(world, extras=["aircon"]), actor=world["member"], now=NOW)
    session.commit()
    assert b.status == "provisional"
    assert b.start_at == at(DAY, 17, 30)
    assert b.end_at == at(DAY, 21, 0)
    assert b.fee_total == (880 + 220) // 2
    assert [line["code"] for line in b.fee_breakdown["lines"]] == ["room", "extra:aircon", "exemption:civic_50"]
    assert b.claim_deadline == at(DAY - timedelta(days=2), 0, 0)  # end of the day three days before
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == 1
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) >= 1


@pytest.mark.both_databases
def test_overlap_is_a_clear_conflict_and_adjacent_is_fine(session, world) -> None:  # type: ignore[no-untyped-def]
    svc.create_booking(session, _inp(world, slot="afternoon"), actor=world["member"], now=NOW)
    session.commit()
    with pytest.raises(DomainError) as err:
        svc.create_booking(session, _inp(world, slot="morning_afternoon", group=world["other_group"]),
                           actor=world["other"], now=NOW)
    assert err.value.codes == ["conflict"]
    session.rollback()
    [b] = svc.create_booking(session, _inp(world, slot="evening", group=world["other_group"]),
                             actor=world["other"], now=NOW)
    session.commit()
    assert b.id


@pytest.mark.both_databases
def test_database_refuses_overlap_even_without_the_python_check(session, world) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy.exc import IntegrityError

    from reservations.models import OccupiedUnit

    [b] = svc.create_booking(session, _inp(world), actor=world["member"], now=NOW)
    session.commit()
    session.add(OccupiedUnit(booking_id=b.id, unit_id=world["room"].id, start_at=b.start_at + timedelta(hours=1),
                             end_at=b.end_at + timedelta(hours=1), active=True))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


@pytest.mark.both_databases
def test_database_guard_sees_a_long_hold_that_started_the_day_before(session, world) -> None:  # type: ignore[no-untyped-def]
    """The guard looks back a bounded stretch (24 h): a 20-hour hold from yesterday still counts."""
    from sqlalchemy.exc import IntegrityError

    from reservations.models import OccupiedUnit

    [b] = svc.create_booking(session, _inp(world), actor=world["member"], now=NOW)
    session.commit()
    long_start = at(DAY, 0, 0)
    session.add(OccupiedUnit(booking_id=b.id, unit_id=world["room"].id, start_at=long_start,
                             end_at=long_start + timedelta(hours=20), active=False))
    session.commit()
    b.status = "cancelled"
    for unit in session.scalars(select(OccupiedUnit).where(OccupiedUnit.start_at == b.start_at)):
        unit.active = False
    session.commit()
    session.execute(OccupiedUnit.__table__.update().where(OccupiedUnit.start_at == long_start).values(active=True))
    session.commit()
    later = long_start + timedelta(hours=19)
    session.add(OccupiedUnit(booking_id=b.id, unit_id=world["room"].id, start_at=later,
                             end_at=later + timedelta(hours=2), active=True))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


@pytest.mark.both_databases
def test_database_refuses_a_hold_longer_than_a_day(session, world) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy.exc import IntegrityError

    from reservations.models import OccupiedUnit

    [b] = svc.create_booking(session, _inp(world), actor=world["member"], now=NOW)
    session.commit()
    start = at(DAY + timedelta(days=3), 9, 0)
    session.add(OccupiedUnit(booking_id=b.id, unit_id=world["room"].id, start_at=start,
                             end_at=start + timedelta(hours=25), active=False))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_divisible_room_both_ways(session, world) -> None:  # type: ignore[no-untyped-def]
    f = world["facility"]
    a, b_ = make_room(f, code="ha"), make_room(f, code="hb")
    hall = make_room(f, code="hall", capacity=100, parts=[a, b_])
    member, group = world["member"], world["group"]

    def book(room, slot="afternoon"):  # type: ignore[no-untyped-def]
        return svc.create_booking(session, svc.BookingInput(room_id=room.id, group_id=group.id, day=DAY,
                                  slot_code=slot, purpose="x", attendees=5), actor=member, now=NOW)

    book(a)
    session.commit()
    with pytest.raises(DomainError) as err:  # part booked: the whole is blocked
        book(hall)
    assert "conflict" in err.value.codes
    session.rollback()
    book(b_)  # the other part is free
    session.commit()
    book(hall, "morning")  # the whole in another slot
    session.commit()
    with pytest.raises(DomainError):  # whole booked: every part is blocked
        book(a, "morning")
    session.rollback()


def test_lifecycle_through_service(session, world) -> None:  # type: ignore[no-untyped-def]
    [b] = svc.create_booking(session, _inp(world), actor=world["member"], now=NOW)
    svc.confirm(session, b, actor=world["staff"], now=NOW, method="cash", receipt="R1")
    assert b.status == "confirmed" and b.paid_amount == b.fee_total and b.sequence == 1
    with pytest.raises(IllegalTransition):
        svc.release(session, b, now=NOW)
    svc.check_in(session, b, actor=world["staff"], now=b.start_at + timedelta(minutes=10))
    assert b.late_minutes == 10
    svc.complete(session, b, now=b.end_at)
    session.commit()
    assert b.status == "completed"
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.booking_id == b.id).order_by(AuditEvent.id)).all()
    assert actions == ["booking.created", "booking.confirm", "booking.check_in", "booking.complete"]


def test_cancel_frees_the_slot_and_other_groups_cannot_touch_it(session, world) -> None:  # type: ignore[no-untyped-def]
    [b] = svc.create_booking(session, _inp(world), actor=world["member"], now=NOW)
    session.commit()
    with pytest.raises(NotFound):
        svc.get_booking_for(session, b.id, world["other"])
    with pytest.raises(NotFound):
        svc.cancel(session, b, actor=world["other"], now=NOW)
    with pytest.raises(Forbidden):
        svc.confirm(session, b, actor=world["member"], now=NOW)
    svc.cancel(session, b, actor=world["member"], now=NOW, reason="都合")
    session.commit()
    assert b.status == "cancelled" and all(not u.active for u in b.units)
    [again] = svc.create_booking(session, _inp(world, group=world["other_group"]), actor=world["other"], now=NOW)
    session.commit()
    assert again.id != b.id


def test_member_of_another_group_cannot_book_for_it(session, world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Forbidden):
        svc.create_booking(session, _inp(world, group=world["other_group"]), actor=world["member"], now=NOW)


def test_series_books_free_dates_and_reports_the_rest(session, world) -> None:  # type: ignore[no-untyped-def]
    from reservations.domain.recurrence import RecurrenceSpec

    svc.create_booking(session, _inp(world, day=DAY + timedelta(days=7)), actor=world["member"], now=NOW)
    session.commit()
    spec = RecurrenceSpec("weekly", until=date(2026, 12, 29))
    with pytest.raises(DomainError):
        svc.create_booking(session, _inp(world, group=world["other_group"], recurrence=spec), actor=world["other"], now=NOW)
    session.rollback()
    made = svc.create_booking(session, _inp(world, group=world["other_group"], recurrence=spec, book_free_only=True),
                              actor=world["other"], now=NOW)
    session.commit()
    days = [b.start_at.astimezone(at(DAY, 0).tzinfo).date() for b in made]
    # Dec 15 taken; Dec 29 is in the New Year break
    assert days == [date(2026, 12, 8), date(2026, 12, 22)]
    codes = {e["date"]: e["codes"] for e in made[0].series.exceptions}
    assert codes == {"2026-12-15": ["conflict"], "2026-12-29": ["closed"]}


@pytest.mark.both_databases
def test_cancel_following_cancels_this_and_the_later_open_dates_only(session, world) -> None:  # type: ignore[no-untyped-def]
    """A group stopping its weekly meetings from one date: that date and every later one still open
    are cancelled in one go, each with its own fee, audit event and notice; earlier dates, and a
    later one already cancelled, are left as they were. Another group cannot, and nothing changes."""
    from reservations.domain.recurrence import RecurrenceSpec

    made = svc.create_booking(session, _inp(world, recurrence=RecurrenceSpec("weekly", until=date(2026, 12, 22))),
                              actor=world["member"], now=NOW)
    session.commit()
    first, second, third = made  # Dec 8, 15, 22
    svc.confirm(session, third, actor=world["staff"], now=NOW, method="cash")
    svc.cancel(session, first, actor=world["member"], now=NOW)
    session.commit()
    assert [b.id for b in svc.later_dates_to_cancel(first)] == [second.id, third.id]
    assert [b.id for b in svc.later_dates_to_cancel(second)] == [third.id]
    with pytest.raises(NotFound):
        svc.cancel_following(session, second, actor=world["other"], now=NOW)
    session.rollback()
    assert {b.status for b in (second, third)} == {"provisional", "confirmed"}

    later = NOW + timedelta(days=10)  # Dec 11: the paid date on the 22nd is 11 days ahead, 20%
    done = svc.cancel_following(session, second, actor=world["member"], now=later, reason="活動休止")
    session.commit()
    assert [b.id for b in done] == [second.id, third.id]
    assert all(b.status == "cancelled" and b.cancel_reason == "活動休止" for b in done)
    assert third.cancellation_fee == third.paid_amount * 20 // 100 > 0  # paid: its own fee
    assert second.cancellation_fee == 0  # not paid
    assert first.sequence == 1  # cancelled before, left alone
    actions = session.execute(select(AuditEvent.booking_id, func.count()).where(
        AuditEvent.action == "booking.cancel").group_by(AuditEvent.booking_id)).all()
    assert dict(actions) == {first.id: 1, second.id: 1, third.id: 1}
    notices = set(session.scalars(select(OutboxMessage.booking_id).where(OutboxMessage.kind == "cancelled")))
    assert notices == {first.id, second.id, third.id}
    assert svc.later_dates_to_cancel(first) == []
    with pytest.raises(IllegalTransition):
        svc.cancel_following(session, second, actor=world["member"], now=NOW)
    session.rollback()
    [single] = svc.create_booking(session, _inp(world, day=date(2027, 1, 12)), actor=world["member"], now=NOW)
    assert svc.later_dates_to_cancel(single) == []
    assert svc.cancel_following(session, single, actor=world["member"], now=NOW) == [single]


def test_staff_override_window_but_never_closure(session, world) -> None:  # type: ignore[no-untyped-def]
    far = date(2027, 6, 1)
    with pytest.raises(DomainError) as err:
        svc.create_booking(session, _inp(world, day=far), actor=world["member"], now=NOW)
    assert err.value.codes == ["window_not_open"]
    session.rollback()
    with pytest.raises(Forbidden):
        svc.create_booking(session, _inp(world, day=far), actor=world["member"], now=NOW, overrides=frozenset({"window"}))
    [b] = svc.create_booking(session, _inp(world, day=far), actor=world["staff"], now=NOW, overrides=frozenset({"window"}))
    session.commit()
    assert b.booked_by_id == world["staff"].id
    with pytest.raises(DomainError) as err:
        svc.create_booking(session, _inp(world, day=date(2027, 1, 2)), actor=world["staff"], now=NOW,
                           overrides=frozenset({"window", "lead_time"}))
    assert err.value.codes == ["closed"]
    session.rollback()
    assert db.session.get(Booking, b.id) is not None


def test_grid_search_and_alternatives(session, world) -> None:  # type: ignore[no-untyped-def]
    from reservations.domain.availability import CellState
    from reservations.services import availability as av

    f, room = world["facility"], world["room"]
    other = make_room(f, code="big", capacity=60)
    svc.create_booking(session, _inp(world), actor=world["member"], now=NOW)
    session.commit()
    view = av.facility_availability(session, f, DAY, DAY, now=NOW, group_class="registered")
    states = {row.room.id: [c.state for c in row.days[DAY]] for row in view.rows}
    assert states[room.id] == [CellState.FREE, CellState.FREE, CellState.TAKEN]
    assert states[other.id] == [CellState.FREE] * 3
    far = av.room_availability(session, room, date(2027, 2, 9), date(2027, 2, 9), now=NOW, group_class="general")
    assert {c.state for c in far.days[date(2027, 2, 9)]} == {CellState.NOT_OPEN}
    hits = av.search(session, av.SearchFilters(first=DAY, last=DAY, min_capacity=40, slot_codes=("evening",)),
                     now=NOW, group_class="registered")
    assert [(h.room.id, h.cell.slot_code) for h in hits] == [(other.id, "evening")]
    same, later = av.suggest_alternatives(session, room, at(DAY, 17, 30), at(DAY, 21), slot_code="evening",
                                          attendees=10, now=NOW, group_class="registered")
    assert [a.room.id for a in same] == [other.id]
    assert later[0].start > at(DAY, 17, 30) and later[0].room.id == room.id
