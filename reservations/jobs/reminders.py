"""Reminders before use and before a claim deadline, each sent once per booking and kind.

Rules (chosen, and tested):

- A reminder with offset *o* is **due** when ``start - o <= now < start`` (catch-up: a run
  after the scheduler was down still sends it; no exact-minute matching), for bookings still
  active and not yet begun (pending, provisional, confirmed).
- It is due only if the booking already existed at ``start - o``: someone who books 30 hours
  ahead gets the 24-hour reminder but not the 72-hour one right after the booking mail.
- When several use-reminders are due at once (the scheduler was down across the 72-hour
  mark into the 24-hour window), only the nearest (smallest offset) is sent; the larger one is
  then never sent, because it is always due together with the smaller one from then on.
- Claim reminder: provisional bookings with ``deadline - CLAIM_REMINDER_HOURS <= now < deadline``,
  same "existed then" rule.
- A booking picked for a reminder is read again and locked before the reminder is recorded
  (``_still_active``): one cancelled or released while the job ran gets none, and a cancel that
  comes after waits for the job, so its cancellation notice follows the reminder rather than
  crossing it.
- Each reminder is recorded in ``sent_reminders`` (unique booking + kind, e.g. ``reminder_24h``,
  ``claim_48h``) in the same transaction as its outbox rows (dedupe key
  ``reminder:<booking>:24h:<email>``), so a rerun or a second runner finds it recorded.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ..domain.lifecycle import Status
from ..models import Booking, SentReminder
from .notices import Item, booking_loads, queue_bulk
from .result import JobResult
from .settings import JobSettings

BEFORE_USE = (Status.PENDING.value, Status.PROVISIONAL.value, Status.CONFIRMED.value)


def _batch_done(result: JobResult) -> None:
    """Called after each batch; a seam for tests that make a job die half way."""


def use_reminder_due(booking: Booking, now: datetime, offsets: tuple[int, ...]) -> int | None:
    """The offset (hours) of the use-reminder due for ``booking`` at ``now``, if any."""
    if booking.status not in BEFORE_USE or not now < booking.start_at:
        return None
    due = [o for o in offsets
           if booking.start_at - timedelta(hours=o) <= now
           and booking.created_at <= booking.start_at - timedelta(hours=o)]
    return min(due) if due else None


def claim_reminder_due(booking: Booking, now: datetime, hours: int) -> bool:
    deadline = booking.claim_deadline
    if booking.status != Status.PROVISIONAL.value or deadline is None or hours <= 0:
        return False
    due_at = deadline - timedelta(hours=hours)
    return due_at <= now < deadline and booking.created_at <= due_at


def _sent(session: Session, ids: list[int]) -> set[tuple[int, str]]:
    if not ids:
        return set()
    rows = session.execute(
        select(SentReminder.booking_id, SentReminder.kind).where(SentReminder.booking_id.in_(ids))).all()
    return {(int(r[0]), str(r[1])) for r in rows}


def _still_active(session: Session, picked: list[tuple[Booking, str, str, dict[str, Any]]],
                  statuses: tuple[str, ...]) -> list[tuple[Booking, str, str, dict[str, Any]]]:
    """The picked bookings still in one of ``statuses``, each locked until the job commits.

    On PostgreSQL (read committed) the batch was read before a cancel committed; ``FOR UPDATE``
    waits for a cancel in progress and re-checks the status on the row as committed. On SQLite
    the job's write transaction already keeps every other writer out."""
    if not picked:
        return picked
    ids = [b.id for b, _, _, _ in picked]
    kept = set(session.scalars(select(Booking.id).where(Booking.id.in_(ids), Booking.status.in_(statuses))
                               .order_by(Booking.id).with_for_update()))
    return [p for p in picked if p[0].id in kept]


def _record(session: Session, now: datetime, kind: str, picked: list[tuple[Booking, str, str, dict[str, Any]]],
            result: JobResult, label: str, statuses: tuple[str, ...]) -> None:
    picked = _still_active(session, picked, statuses)
    if not picked:
        return
    session.execute(insert(SentReminder), [
        {"booking_id": b.id, "kind": rkind, "sent_at": now} for b, rkind, _, _ in picked])
    items: list[Item] = [(b, suffix, ctx) for b, _, suffix, ctx in picked]
    result.add(f"{label}_mails", queue_bulk(session, kind, items, now=now))
    result.add(label, [b.id for b, _, _, _ in picked])


def send_reminders(session: Session, now: datetime, settings: JobSettings) -> JobResult:
    result = JobResult("send-reminders", now)
    offsets = tuple(sorted({int(o) for o in settings.reminder_offsets_hours if int(o) > 0}))
    if offsets:
        horizon = now + timedelta(hours=max(offsets))
        last_id = 0
        while True:
            batch = list(session.scalars(
                select(Booking)
                .where(Booking.status.in_(BEFORE_USE), Booking.start_at > now, Booking.start_at <= horizon,
                       Booking.id > last_id)
                .order_by(Booking.id).limit(settings.batch_size).options(*booking_loads())
            ))
            if not batch:
                break
            last_id = batch[-1].id
            done = _sent(session, [b.id for b in batch])
            picked = []
            for b in batch:
                o = use_reminder_due(b, now, offsets)
                if o is not None and (b.id, f"reminder_{o}h") not in done:
                    picked.append((b, f"reminder_{o}h", f"{o}h", {"hours": o}))
            _record(session, now, "reminder", picked, result, "reminders", BEFORE_USE)
            _batch_done(result)

    hours = settings.claim_reminder_hours
    if hours > 0:
        last_id = 0
        while True:
            batch = list(session.scalars(
                select(Booking)
                .where(Booking.status == Status.PROVISIONAL.value, Booking.claim_deadline > now,
                       Booking.claim_deadline <= now + timedelta(hours=hours), Booking.id > last_id)
                .order_by(Booking.id).limit(settings.batch_size).options(*booking_loads())
            ))
            if not batch:
                break
            last_id = batch[-1].id
            done = _sent(session, [b.id for b in batch])
            kind = f"claim_{hours}h"
            picked = [(b, kind, f"{hours}h", {"hours": hours}) for b in batch
                      if claim_reminder_due(b, now, hours) and (b.id, kind) not in done]
            _record(session, now, "claim_reminder", picked, result, "claim_reminders", (Status.PROVISIONAL.value,))
            _batch_done(result)
    return result
