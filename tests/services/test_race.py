"""32 threads book the same slot at once: exactly one wins, 31 get a clean conflict."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import func, select

from reservations.domain.errors import DomainError
from reservations.extensions import db
from reservations.models import Booking, OccupiedUnit, User
from reservations.services import bookings as svc
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
