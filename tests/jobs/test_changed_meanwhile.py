"""A booking changed by another transaction after this one loaded it.

A desk records a payment while the scheduler releases the same expired hold; a group cancels
while staff approve. Each service loads the booking first (the view needs it for permissions and
the page) and writes later: it must decide on the booking as it is when it writes, not as it was
loaded. Otherwise, on PostgreSQL (read committed), the payment would turn the released booking
back into "confirmed" while its units stay freed — a paid booking whose time anyone can book.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reservations.domain.errors import DomainError
from reservations.extensions import db
from reservations.jobs.booking_jobs import release_unclaimed
from reservations.jobs.result import JobResult
from reservations.jobs.runner import run_job
from reservations.models import AuditEvent, Booking, Facility, OccupiedUnit, SentReminder, User
from reservations.services import bookings as svc
from reservations.services import closures, desk
from tests.concurrency import outcome_once_it_waits
from tests.factories import NOW

from .conftest import DAY, book


def _other_session() -> Session:
    """A second connection, as another request or the scheduler's process would have."""
    return Session(db.engine)


@pytest.mark.both_databases
def test_payment_after_the_job_released_the_hold_is_refused(session, world, settings) -> None:  # type: ignore[no-untyped-def]
    b = book(session, world)
    deadline = b.claim_deadline
    assert deadline is not None
    at_desk = session.get(Booking, b.id)  # the desk's request has loaded it: still provisional
    assert at_desk.status == "provisional"
    with _other_session() as scheduler:
        run_job(scheduler, "release-unclaimed", now=deadline, settings=settings, lease_now=deadline)
    with pytest.raises(DomainError) as refused:
        svc.confirm(session, at_desk, actor=world["staff"], now=deadline + timedelta(seconds=1), method="cash")
    session.rollback()
    assert refused.value.codes == ["illegal_transition"]
    assert "released" in str(refused.value.failures[0].message_en).lower()
    session.expire_all()
    b = session.get(Booking, b.id)
    assert (b.status, b.sequence, b.paid_amount) == ("released", 1, None)
    assert not any(u.active for u in b.units)


@pytest.mark.both_databases
def test_cancel_after_staff_approved_counts_both_changes(session, world) -> None:  # type: ignore[no-untyped-def]
    world["room"].requires_approval = True
    session.commit()
    b = book(session, world)
    assert b.status == "pending"
    mine = session.get(Booking, b.id)  # the group's request has loaded it: still pending
    with _other_session() as desk:
        staff_view = desk.get(Booking, b.id)
        svc.approve(desk, staff_view, actor=desk.merge(world["staff"]), now=NOW + timedelta(hours=1))
        desk.commit()
    svc.cancel(session, mine, actor=world["member_en"], now=NOW + timedelta(hours=2), reason="中止")
    session.commit()
    session.expire_all()
    b = session.get(Booking, b.id)
    assert (b.status, b.sequence) == ("cancelled", 2)  # approve was 1; the cancel came after it
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.booking_id == b.id)
                              .order_by(AuditEvent.id)).all()
    assert actions == ["booking.created", "booking.approve", "booking.cancel"]
    before = session.scalars(select(AuditEvent.before).where(AuditEvent.action == "booking.cancel")).one()
    assert before["status"] == "provisional"
    assert session.scalar(select(func.count()).select_from(OccupiedUnit)
                          .where(OccupiedUnit.booking_id == b.id, OccupiedUnit.active.is_(True))) == 0


@pytest.mark.both_databases
def test_bulk_approval_skips_a_request_cancelled_since_the_queue_was_loaded(session, world) -> None:  # type: ignore[no-untyped-def]
    world["room"].requires_approval = True
    session.commit()
    first, second = book(session, world, slot="morning"), book(session, world, slot="evening")
    queue = [session.get(Booking, first.id), session.get(Booking, second.id)]  # the staff's page: both pending
    with _other_session() as group_request:
        svc.cancel(group_request, group_request.get(Booking, first.id),
                   actor=group_request.merge(world["member_en"]), now=NOW + timedelta(hours=1), reason="中止")
        group_request.commit()
    result = desk.bulk_approve(session, queue, actor=world["staff"], now=NOW + timedelta(hours=2))
    session.commit()
    assert [b.id for b in result.approved] == [second.id]
    assert [(b.id, [f.code for f in why]) for b, why in result.skipped] == [(first.id, ["not_pending"])]
    session.expire_all()
    first, second = session.get(Booking, first.id), session.get(Booking, second.id)
    assert (first.status, first.sequence, first.claim_deadline) == ("cancelled", 1, None)
    assert second.status == "provisional" and second.claim_deadline is not None


@pytest.mark.parametrize("db_kind", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_payment_while_the_job_is_releasing_waits_for_it_and_is_refused(app, session, world, settings) -> None:  # type: ignore[no-untyped-def]
    """The job has released the hold but not committed yet when the desk records the payment.
    Re-reading the row is not enough then (it would still say provisional): the desk's
    ``SELECT … FOR UPDATE`` waits for the job's transaction and reads what it committed."""

    b = book(session, world)
    booking_id, staff_id, deadline = b.id, world["staff"].id, b.claim_deadline
    session.commit()
    job = _other_session()
    assert release_unclaimed(job, deadline, settings).count("released") == 1  # row locked, not committed

    def desk() -> None:
        at_desk = db.session.get(Booking, booking_id)
        svc.confirm(db.session, at_desk, actor=db.session.get(User, staff_id), now=deadline + timedelta(seconds=1),
                    method="cash")

    try:
        said = outcome_once_it_waits(app, desk, query_like="%FOR UPDATE%", then=job.commit, ok="confirmed")
    finally:
        job.close()
    assert said == "illegal_transition"
    session.expire_all()
    b = session.get(Booking, booking_id)
    assert (b.status, b.paid_amount) == ("released", None)
    assert not any(u.active for u in b.units)


@pytest.mark.parametrize("db_kind", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_booking_made_while_an_emergency_closure_commits_is_refused(app, session, world) -> None:  # type: ignore[no-untyped-def]
    """The desk closes the facility for the day (storm warning) and its transaction has not
    committed when a group books that day. The booking waits for the closure (a shared lock on
    the facility against the closure's update lock) and is then refused as on a closed day,
    instead of landing on it unseen by the closure's list of cancelled bookings."""
    facility_id, room_id, group_id, member_id = (world["facility"].id, world["room"].id, world["group"].id,
                                                 world["member_en"].id)
    desk_session = _other_session()
    closing = closures.emergency_close(desk_session, desk_session.get(Facility, facility_id), DAY,
                                       actor=desk_session.merge(world["staff"]), now=NOW, expected=0)
    assert closing.cancelled == []  # the closure has listed the day's bookings: none yet

    def group_books() -> None:
        svc.create_booking(db.session, svc.BookingInput(room_id=room_id, group_id=group_id, day=DAY,
                                                        slot_code="evening", purpose="定例会", attendees=10),
                           actor=db.session.get(User, member_id), now=NOW)

    try:
        said = outcome_once_it_waits(app, group_books, query_like="%FOR SHARE%", then=desk_session.commit)
    finally:
        desk_session.close()
    assert said == "closed"
    assert session.scalar(select(func.count()).select_from(Booking)) == 0


@pytest.mark.parametrize("db_kind", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_booking_cancelled_while_the_reminders_run_gets_no_reminder(app, session, world, settings) -> None:  # type: ignore[no-untyped-def]
    """The job read the booking as confirmed while the group's cancel had not committed yet. It
    waits for the cancel (``FOR UPDATE``), finds the booking cancelled, and sends no reminder:
    a group is not told to come to a booking it has just been told is cancelled."""
    b = book(session, world)
    svc.confirm(session, b, actor=world["staff"], now=NOW)
    session.commit()
    booking_id, due = b.id, b.start_at - timedelta(hours=24)
    svc.cancel(session, b, actor=world["member_en"], now=due)  # holds the row, not committed
    results: list[JobResult] = []

    def job() -> None:
        results.append(run_job(db.session, "send-reminders", now=due, settings=settings, lease_now=due))

    assert outcome_once_it_waits(app, job, query_like="%FOR UPDATE%", then=session.commit) == "ok"
    assert [r.count("reminders") for r in results] == [0], [r.to_dict() for r in results]
    assert session.scalar(select(func.count()).select_from(SentReminder)
                          .where(SentReminder.booking_id == booking_id)) == 0
