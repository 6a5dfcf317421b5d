"""32 threads book the same slot at once: exactly one wins, 31 get a clean conflict."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select, text

from reservations.domain.errors import DomainError
from reservations.extensions import db
from reservations.models import Booking, OccupiedUnit, User
from reservations.services import bookings as svc
from tests.concurrency import outcome, wait_until_waiting_for_lock
from tests.factories import NOW, make_facility, make_group, make_room, make_user

THREADS = 32


@pytest.mark.both_databases
def test_32_threads_one_slot(app, session) -> None:  # type: ignore[no-untyped-def]
    facility = make_facility()
    hall_a, hall_b = make_room(facility, code="a"), make_room(facility, code="b")
    hall = make_room(facility, code="hall", capacity=100, parts=[hall_a, hall_b])
    members = [make_user() for _ in range(THREADS)]
    groups = [make_group(m) for m in members]
    session.commit()
    ids = [(m.id, g.id) for m, g in zip(members, groups, strict=True)]
    # half the threads book the whole hall, half book part A: they all contend for unit A
    rooms = [hall.id if i % 2 else hall_a.id for i in range(THREADS)]
    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        user_id, group_id = ids[i]
        with app.app_context():
            user = db.session.get(User, user_id)
            inp = svc.BookingInput(room_id=rooms[i], group_id=group_id, day=date(2026, 12, 8), slot_code="evening",
                                   purpose="race", attendees=5)
            db.session.commit()  # hand the connection back: the pool is smaller than 32
            barrier.wait(timeout=60)
            try:
                svc.create_booking(db.session, inp, actor=user, now=NOW)
                db.session.commit()
                result = "ok"
            except DomainError as exc:
                db.session.rollback()
                result = ",".join(exc.codes)
            except Exception as exc:  # noqa: BLE001  (recorded and asserted below)
                db.session.rollback()
                result = f"error:{type(exc).__name__}:{exc}"
            finally:
                db.session.remove()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(set(outcomes)) == ["conflict", "ok"], outcomes
    assert outcomes.count("ok") == 1 and outcomes.count("conflict") == THREADS - 1
    session.rollback()  # end the main thread's read snapshot
    assert session.scalar(select(func.count()).select_from(Booking)) == 1
    active_a = session.scalar(select(func.count()).select_from(OccupiedUnit)
                              .where(OccupiedUnit.unit_id == hall_a.id, OccupiedUnit.active.is_(True)))
    assert active_a == 1


@pytest.mark.parametrize("db_kind", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_deadlock_in_the_overlap_guard_is_a_conflict(app, session) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL's exclusion constraint can deadlock two transactions that insert conflicting
    holds at the same moment (each finds the other's row and waits for it); the deadlock
    detector then ends one with 40P01 instead of an exclusion violation. That booking lost the
    race as surely as the others and gets the same conflict, not a 500 (CI's API race test met
    it: 12 of 24 clients). Made deterministic here: a rival transaction holds part B, the hall's
    booking takes part A and waits for B, and the rival then asks for A."""
    facility = make_facility()
    part_a, part_b = make_room(facility, code="a"), make_room(facility, code="b")
    hall = make_room(facility, code="hall", capacity=100, parts=[part_a, part_b])
    user = make_user()
    group = make_group(user)
    session.commit()
    other = svc.create_booking(session, svc.BookingInput(room_id=part_b.id, group_id=group.id, day=date(2026, 12, 9),
                                                         slot_code="morning", purpose="other", attendees=5),
                               actor=user, now=NOW)[0]
    session.commit()
    user_id, group_id, hall_id, other_id = user.id, group.id, hall.id, other.id
    evening = {"s": datetime(2026, 12, 8, 8, 0, tzinfo=UTC), "e": datetime(2026, 12, 8, 13, 0, tzinfo=UTC)}
    hold = text("INSERT INTO occupied_units (booking_id, unit_id, start_at, end_at, active) "
                "VALUES (:b, :u, :s, :e, true)")
    rival = db.engine.connect()
    tx = rival.begin()
    rival.execute(text("SET LOCAL deadlock_timeout = '60s'"))  # the booking, not the rival, ends the deadlock
    rival_pid = rival.execute(text("SELECT pg_backend_pid()")).scalar_one()
    rival.execute(hold, {"b": other_id, "u": part_b.id, **evening})
    outcomes: list[str] = []

    def book() -> None:
        svc.create_booking(db.session, svc.BookingInput(
            room_id=hall_id, group_id=group_id, day=date(2026, 12, 8), slot_code="evening", purpose="hall",
            attendees=5), actor=db.session.get(User, user_id), now=NOW)

    booking = threading.Thread(target=lambda: outcomes.append(outcome(app, book)))
    booking.start()
    try:
        # until the booking holds part A and waits for the rival's B, then close the cycle within
        # the booking's deadlock_timeout
        wait_until_waiting_for_lock("INSERT INTO occupied_units%", not_pid=rival_pid)
        rival.execute(hold, {"b": other_id, "u": part_a.id, **evening})  # returns once the booking is ended
    finally:
        tx.rollback()
        rival.close()
        booking.join(timeout=60)
    assert outcomes == ["conflict"], outcomes
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Booking).where(Booking.room_id == hall_id)) == 0
