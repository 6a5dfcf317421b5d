"""send-reminders: offsets, catch-up, once per booking and kind, never for past or inactive bookings."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from reservations.jobs import lease, reminders
from reservations.jobs.runner import run_job
from reservations.models import Booking, OutboxMessage, SentReminder
from reservations.services import bookings as svc
from tests.factories import NOW

from .conftest import DAY, book, outbox

H = timedelta(hours=1)
US = timedelta(microseconds=1)


def _sent(session):  # type: ignore[no-untyped-def]
    return sorted(session.execute(select(SentReminder.booking_id, SentReminder.kind)).all())


def _run(session, settings, now):  # type: ignore[no-untyped-def]
    return run_job(session, "send-reminders", now=now, settings=settings, lease_now=NOW)


def _confirmed(session, world, **kw):  # type: ignore[no-untyped-def]
    b = book(session, world, **kw)
    svc.confirm(session, b, actor=world["staff"], now=NOW)
    session.commit()
    return b


@pytest.mark.both_databases
def test_72_and_24_hour_reminders_each_once(session, world, settings) -> None:  # type: ignore[no-untyped-def]
    b = _confirmed(session, world)
    start = b.start_at
    assert _run(session, settings, start - 72 * H - US).count("reminders") == 0
    r = _run(session, settings, start - 72 * H)
    assert r.booking_ids["reminders"] == [b.id]
    assert _sent(session) == [(b.id, "reminder_72h")]
    mails = outbox(session, "reminder")
    assert sorted(m.dedupe_key for m in mails) == sorted(
        f"reminder:{b.id}:72h:{e}" for e in (world["member"].email, world["member_en"].email,
                                             world["group"].contact_email))
    assert all(m.context == {"hours": 72} for m in mails)
    # the next runs inside the 72-hour window send nothing more
    assert _run(session, settings, start - 72 * H + timedelta(minutes=10)).count("reminders") == 0
    assert _run(session, settings, start - 30 * H).count("reminders") == 0
    r = _run(session, settings, start - 24 * H + timedelta(minutes=7))  # not exact-minute matching
    assert r.booking_ids["reminders"] == [b.id]
    assert _sent(session) == [(b.id, "reminder_24h"), (b.id, "reminder_72h")]
    assert _run(session, settings, start - H).count("reminders") == 0
    assert _run(session, settings, start + H).count("reminders") == 0
    assert len(outbox(session, "reminder")) == 6


def test_reminder_due_while_the_scheduler_was_down_is_sent_on_the_next_run(session, world, settings) -> None:  # type: ignore[no-untyped-def]
    b = _confirmed(session, world)
    # the scheduler was down from before the 72-hour mark until 20 hours before the start
    r = _run(session, settings, b.start_at - 20 * H)
    assert r.booking_ids["reminders"] == [b.id]
    assert _sent(session) == [(b.id, "reminder_24h")]  # only the nearer one, not both at once
    assert _run(session, settings, b.start_at - 19 * H).count("reminders") == 0
    assert _sent(session) == [(b.id, "reminder_24h")]


def test_no_reminder_for_past_inactive_or_just_made_bookings(session, world, settings) -> None:  # type: ignore[no-untyped-def]
    cancelled = _confirmed(session, world, slot="morning")
    svc.cancel(session, cancelled, actor=world["member"], now=NOW + H)
    session.commit()
    past = _confirmed(session, world, slot="afternoon")
    late = book(session, world, slot="evening", day=DAY + timedelta(days=1), now=NOW)
    # a booking made 30 hours before its start: the 24-hour reminder yes, the 72-hour one never
    session.execute(update(Booking).where(Booking.id == late.id).values(created_at=late.start_at - 30 * H))
    session.commit()
    r = _run(session, settings, past.start_at + US)
    assert past.id not in r.booking_ids.get("reminders", [])
    assert cancelled.id not in r.booking_ids.get("reminders", [])
    assert late.id not in _run(session, settings, late.start_at - 30 * H).booking_ids.get("reminders", [])
    r = _run(session, settings, late.start_at - 24 * H)
    assert late.id in r.booking_ids["reminders"]
    assert (late.id, "reminder_72h") not in _sent(session)
    assert (late.id, "reminder_24h") in _sent(session)
    assert cancelled.id not in {bid for bid, _ in _sent(session)}


def test_claim_reminder_48_hours_before_the_deadline(session, world, settings) -> None:  # type: ignore[no-untyped-def]
    b = book(session, world)
    deadline = b.claim_deadline
    assert _run(session, settings, deadline - 48 * H - US).count("claim_reminders") == 0
    r = _run(session, settings, deadline - 48 * H)
    assert r.booking_ids["claim_reminders"] == [b.id]
    assert (b.id, "claim_48h") in _sent(session)
    assert _run(session, settings, deadline - H).count("claim_reminders") == 0
    assert {m.dedupe_key.split(":")[2] for m in outbox(session, "claim_reminder")} == {"48h"}
    paid = book(session, world, slot="morning")
    svc.confirm(session, paid, actor=world["staff"], now=NOW)
    session.commit()
    assert paid.id not in _run(session, settings, paid.start_at - 100 * H).booking_ids.get("claim_reminders", [])


def test_reminders_rerun_after_dying_half_way(session, world, settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    small = replace(settings, batch_size=1)
    bs = [_confirmed(session, world, slot=s) for s in ("morning", "afternoon", "evening")]
    now = min(b.start_at for b in bs) - 24 * H
    calls = []

    def die(result) -> None:  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("killed")

    monkeypatch.setattr(reminders, "_batch_done", die)
    with pytest.raises(RuntimeError):
        run_job(session, "send-reminders", now=now, settings=small, lease_now=NOW)
    session.expire_all()
    assert _sent(session) == [] and outbox(session, "reminder") == []
    monkeypatch.undo()
    r = run_job(session, "send-reminders", now=now, settings=small, lease_now=NOW)
    assert sorted(r.booking_ids["reminders"]) == sorted(b.id for b in bs)
    keys = [m.dedupe_key for m in outbox(session, "reminder")]
    assert len(keys) == len(set(keys)) == 9


def test_a_held_lease_makes_a_second_runner_skip(session, world, settings) -> None:  # type: ignore[no-untyped-def]
    b = _confirmed(session, world)
    now = b.start_at - 24 * H
    assert lease.acquire(session, "send-reminders", "other-scheduler", now=NOW, ttl=timedelta(minutes=5))
    r = run_job(session, "send-reminders", now=now, settings=settings, lease_now=NOW + timedelta(minutes=1))
    assert r.skipped and r.count("reminders") == 0
    assert _sent(session) == []
    # the other runner died: once its lease has expired, the job runs
    r = run_job(session, "send-reminders", now=now, settings=settings, lease_now=NOW + timedelta(minutes=6))
    assert r.booking_ids["reminders"] == [b.id]


def test_two_schedulers_at_once_send_each_reminder_once(app, session, world, settings) -> None:  # type: ignore[no-untyped-def]
    from reservations.extensions import db

    bs = [_confirmed(session, world, slot=s) for s in ("morning", "afternoon", "evening")]
    now = min(b.start_at for b in bs) - 24 * H
    session.remove()  # the main thread holds no transaction while the two runners race
    barrier = threading.Barrier(2)
    results, errors = [], []

    def scheduler() -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                results.append(run_job(db.session(), "send-reminders", now=now, settings=settings, lease_now=NOW))
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert len(results) == 2
    assert sum(r.count("reminders") for r in results) == 3
    assert db.session.scalar(select(func.count()).select_from(SentReminder)) == 3
    keys = list(db.session.scalars(select(OutboxMessage.dedupe_key).where(OutboxMessage.kind == "reminder")))
    assert len(keys) == len(set(keys)) == 9
