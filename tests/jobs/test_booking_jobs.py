"""release-unclaimed, release-no-shows and complete-past against a real database, with an injected clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from reservations.jobs import booking_jobs
from reservations.jobs.runner import run_job
from reservations.models import AuditEvent, Booking, OccupiedUnit, OutboxMessage
from reservations.services import bookings as svc
from tests.factories import NOW

from .conftest import DAY, book, outbox

US = timedelta(microseconds=1)


def _state(session):  # type: ignore[no-untyped-def]
    session.expire_all()
    return (
        sorted(session.execute(select(Booking.id, Booking.status, Booking.sequence)).all()),
        sorted(session.execute(select(OccupiedUnit.id, OccupiedUnit.active)).all()),
        session.scalar(select(func.count()).select_from(AuditEvent)),
        sorted(session.scalars(select(OutboxMessage.dedupe_key))),
    )


def _set_deadline(session, booking, deadline) -> None:  # type: ignore[no-untyped-def]
    session.execute(update(Booking).where(Booking.id == booking.id).values(claim_deadline=deadline))
    session.commit()


@pytest.mark.both_databases
@pytest.mark.parametrize(("offset", "released"), [(-US, True), (timedelta(0), True), (US, False)])
def test_release_at_the_deadline_boundary(session, world, settings, offset, released) -> None:  # type: ignore[no-untyped-def]
    b = book(session, world)
    assert b.status == "provisional"
    now = NOW + timedelta(days=1)
    _set_deadline(session, b, now + offset)
    result = run_job(session, "release-unclaimed", now=now, settings=settings, lease_now=now)
    session.expire_all()
    b = session.get(Booking, b.id)
    if not released:
        assert b.status == "provisional" and b.sequence == 0
        assert result.count("released") == 0
        assert all(u.active for u in b.units)
        return
    assert result.booking_ids["released"] == [b.id]
    assert b.status == "released"
    assert b.sequence == 1
    assert b.updated_at == now
    assert not any(u.active for u in b.units)  # the slot is free again
    events = session.scalars(select(AuditEvent).where(AuditEvent.booking_id == b.id,
                                                      AuditEvent.action == "booking.release")).all()
    assert len(events) == 1
    assert events[0].before["status"] == "provisional" and events[0].after["status"] == "released"
    assert events[0].actor_id is None
    keys = sorted(m.dedupe_key for m in outbox(session, "released"))
    assert keys == sorted(f"released:{b.id}:1:{email}" for email in
                          (world["member"].email, world["member_en"].email, world["group"].contact_email))
    langs = {m.recipient: m.language for m in outbox(session, "released")}
    assert langs[world["member_en"].email] == "en"


@pytest.mark.both_databases
def test_released_slot_can_be_booked_again(session, world, settings) -> None:  # type: ignore[no-untyped-def]
    b = book(session, world)
    run_job(session, "release-unclaimed", now=b.claim_deadline, settings=settings, lease_now=NOW)
    again = book(session, world, now=b.claim_deadline + timedelta(minutes=1))
    assert again.status == "provisional"


@pytest.mark.both_databases
def test_running_a_job_twice_changes_nothing_the_second_time(session, world, settings) -> None:  # type: ignore[no-untyped-def]
    bookings = [book(session, world, slot=s) for s in ("morning", "afternoon", "evening")]
    now = max(b.claim_deadline for b in bookings)
    first = run_job(session, "release-unclaimed", now=now, settings=settings, lease_now=NOW)
    assert first.count("released") == 3
    before = _state(session)
    second = run_job(session, "release-unclaimed", now=now + timedelta(minutes=1), settings=settings, lease_now=NOW)
    assert second.count("released") == 0
    assert _state(session) == before


def test_paid_booking_is_not_released(session, world, settings) -> None:  # type: ignore[no-untyped-def]
    b = book(session, world)
    svc.confirm(session, b, actor=world["staff"], now=NOW + timedelta(hours=1))
    session.commit()
    result = run_job(session, "release-unclaimed", now=b.claim_deadline, settings=settings, lease_now=NOW)
    assert result.count("released") == 0
    session.expire_all()
    assert session.get(Booking, b.id).status == "confirmed"


def test_auto_confirm_policy(session, world, settings) -> None:  # type: ignore[no-untyped-def]
    b = book(session, world, room="confirm_room")
    other = book(session, world)
    now = max(b.claim_deadline, other.claim_deadline)
    result = run_job(session, "release-unclaimed", now=now, settings=settings, lease_now=NOW)
    assert result.booking_ids["auto_confirmed"] == [b.id]
    assert result.booking_ids["released"] == [other.id]
    session.expire_all()
    b = session.get(Booking, b.id)
    assert b.status == "confirmed" and b.sequence == 1 and all(u.active for u in b.units)
    assert b.paid_at is None  # auto-confirm records no payment
    assert {m.booking_id for m in outbox(session, "confirmed")} == {b.id}
    note = session.scalar(select(AuditEvent.note).where(AuditEvent.booking_id == b.id,
                                                        AuditEvent.action == "booking.confirm"))
    assert "auto-confirm" in note


def test_job_that_dies_half_way_loses_nothing_and_duplicates_nothing(session, world, settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    small = replace(settings, batch_size=1)
    bookings = [book(session, world, slot=s) for s in ("morning", "afternoon", "evening")]
    now = max(b.claim_deadline for b in bookings)
    before = _state(session)
    calls = []

    def die_after_first_batch(result) -> None:  # type: ignore[no-untyped-def]
        calls.append(result.count("released"))
        if len(calls) == 1:
            raise RuntimeError("killed half way")

    monkeypatch.setattr(booking_jobs, "_batch_done", die_after_first_batch)
    with pytest.raises(RuntimeError):
        run_job(session, "release-unclaimed", now=now, settings=small, lease_now=NOW)
    assert calls == [1]  # it did release one booking before dying…
    assert _state(session) == before  # …and all of it was rolled back

    result = run_job(session, "release-unclaimed", now=now, settings=small, lease_now=NOW)  # lease was given back
    assert result.count("released") == 3
    session.expire_all()
    assert {b.status for b in session.scalars(select(Booking))} == {"released"}
    keys = [m.dedupe_key for m in outbox(session, "released")]
    assert len(keys) == len(set(keys)) == 3 * 3  # three bookings × three recipients, once each
    assert session.scalar(select(func.count()).select_from(AuditEvent)
                          .where(AuditEvent.action == "booking.release")) == 3


@pytest.mark.both_databases
def test_no_show_after_grace(session, world, settings) -> None:  # type: ignore[no-untyped-def]
    b = book(session, world, room="checkin_room", slot="morning")
    present = book(session, world, room="checkin_room", slot="afternoon")
    assert b.status == "confirmed"
    start = b.start_at
    r = run_job(session, "release-no-shows", now=start + timedelta(minutes=30) - US, settings=settings, lease_now=NOW)
    assert r.count("no_show") == 0
    svc.check_in(session, session.get(Booking, present.id), actor=world["staff"], now=present.start_at)
    session.commit()
    r = run_job(session, "release-no-shows", now=present.start_at + timedelta(hours=1), settings=settings,
                lease_now=NOW)
    assert r.booking_ids["no_show"] == [b.id]
    session.expire_all()
    b = session.get(Booking, b.id)
    assert b.status == "no_show" and not any(u.active for u in b.units)
    assert session.get(Booking, present.id).status == "checked_in"
    assert {m.booking_id for m in outbox(session, "no_show")} == {b.id}
    # it counts against the group: a no-show of the group, with an audit event naming the group
    assert session.scalar(select(func.count()).select_from(Booking)
                          .where(Booking.group_id == world["group"].id, Booking.status == "no_show")) == 1
    assert session.scalar(select(AuditEvent.group_id).where(AuditEvent.action == "booking.no_show")) == world["group"].id
    # rooms without check-in are never touched
    plain = book(session, world, room="room", slot="morning", day=DAY + timedelta(days=7))
    svc.confirm(session, plain, actor=world["staff"], now=NOW)
    session.commit()
    r = run_job(session, "release-no-shows", now=plain.end_at, settings=settings, lease_now=NOW)
    assert r.count("no_show") == 0


def test_complete_past(session, world, settings) -> None:  # type: ignore[no-untyped-def]
    b = book(session, world, room="checkin_room", slot="morning")
    svc.check_in(session, b, actor=world["staff"], now=b.start_at)
    session.commit()
    assert run_job(session, "complete-past", now=b.end_at - US, settings=settings, lease_now=NOW).count("completed") == 0
    r = run_job(session, "complete-past", now=b.end_at, settings=settings, lease_now=NOW)
    assert r.booking_ids["completed"] == [b.id]
    session.expire_all()
    assert session.get(Booking, b.id).status == "completed"
    assert outbox(session, "completed") == []
