"""Delivering the outbox: claim with a lease, render, send, mark; retry with backoff.

A row is claimed by an UPDATE that repeats the state it expects (pending, due,
lease free or expired), so two senders never claim the same row. The claim and
each result are committed at once, in short transactions: the SMTP conversation
happens outside any database transaction. Crash windows: a crash after claiming
leaves the row leased until ``lease_until`` and it is retried after; a crash
after the server accepted but before "sent" is committed sends it once more
(at-least-once; the deterministic Message-ID lets mail software drop the copy).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ..database import write_transaction
from ..jobs.lease import new_owner
from ..jobs.result import JobResult
from ..jobs.settings import JobSettings
from ..models import OutboxMessage
from .render import RenderError, build_email, envelope_sender, message_id, render
from .transport import Transport, classify, make_transport

log = logging.getLogger("reservations.mail")
MAX_BATCHES_PER_RUN = 20


def backoff(attempts: int, settings: JobSettings) -> timedelta:
    """Wait after the ``attempts``-th failure: 1, 2, 4, 8 … minutes (base configurable)."""
    return timedelta(minutes=settings.mail_backoff_minutes * 2 ** max(attempts - 1, 0))


def claim(session: Session, now: datetime, settings: JobSettings, owner: str) -> list[int]:
    """Lease up to a batch of due pending rows to ``owner``; committed."""
    session.rollback()
    with write_transaction(session):
        free = or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now)
        due = (OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now, free)
        ids = list(session.scalars(
            select(OutboxMessage.id).where(*due)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(settings.mail_batch_size)))
        claimed: list[int] = []
        if ids:
            res: Any = session.execute(
                update(OutboxMessage).where(OutboxMessage.id.in_(ids), *due)
                .values(lease_owner=owner, lease_until=now + timedelta(seconds=settings.mail_lease_seconds))
                .returning(OutboxMessage.id)
                .execution_options(synchronize_session=False))
            claimed = sorted(res.scalars().all())
    session.commit()
    return claimed


def _finish(session: Session, outbox_id: int, owner: str, values: dict[str, Any]) -> bool:
    with write_transaction(session):
        res: Any = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == outbox_id, OutboxMessage.lease_owner == owner,
                   OutboxMessage.status == "pending")
            .values(lease_owner=None, lease_until=None, **values)
            .execution_options(synchronize_session=False))
    session.commit()
    return bool(res.rowcount == 1)


def deliver_one(session: Session, outbox_id: int, *, now: datetime, settings: JobSettings,
                transport: Transport, owner: str) -> str:
    """Send one claimed row; returns 'sent', 'retry' or 'failed'."""
    msg = session.scalars(select(OutboxMessage).where(OutboxMessage.id == outbox_id)
                          .execution_options(populate_existing=True)).one()
    attempts = msg.attempts + 1
    try:
        rendered = render(session, msg, settings)
        email = build_email(msg, rendered, settings, now=now)
    except RenderError as exc:
        session.rollback()
        log.error("mail #%s cannot be rendered: %s", outbox_id, exc)
        _finish(session, outbox_id, owner, {"status": "failed", "attempts": attempts, "last_error": str(exc)})
        return "failed"
    mid = message_id(msg, settings.host)
    recipient = msg.recipient
    # one-time links (password reset, invitation) must not outlive their mail in the outbox
    scrubbed = {k: v for k, v in (msg.context or {}).items() if k != "url"} if carries_one_time_link(msg) else None
    session.rollback()  # end the read transaction before talking to the server
    try:
        transport.send(email, outbox_id=outbox_id, sender=envelope_sender(settings), recipient=recipient)
    except Exception as exc:
        transient, why = classify(exc)
        if transient and attempts < settings.mail_max_attempts:
            when = now + backoff(attempts, settings)
            log.warning("mail #%s to %s: %s; retry %s at %s", outbox_id, recipient, why, attempts, when.isoformat())
            _finish(session, outbox_id, owner, {"attempts": attempts, "last_error": why, "next_attempt_at": when})
            return "retry"
        log.error("mail #%s to %s failed after %s attempt(s): %s", outbox_id, recipient, attempts, why)
        _finish(session, outbox_id, owner, {"status": "failed", "attempts": attempts, "last_error": why})
        return "failed"
    done: dict[str, Any] = {"status": "sent", "attempts": attempts, "sent_at": now, "message_id": mid,
                            "last_error": None}
    if scrubbed is not None:
        done["context"] = scrubbed
    _finish(session, outbox_id, owner, done)
    return "sent"


def deliver_mail(session: Session, now: datetime, settings: JobSettings, *,
                 transport: Transport | None = None) -> JobResult:
    """The ``deliver-mail`` job. Unlike the other jobs it commits as it goes (see module doc)."""
    result = JobResult("deliver-mail", now)
    owner = new_owner()
    transport = transport or make_transport(settings)
    try:
        for _ in range(MAX_BATCHES_PER_RUN):
            ids = claim(session, now, settings, owner)
            if not ids:
                break
            for outbox_id in ids:
                outcome = deliver_one(session, outbox_id, now=now, settings=settings, transport=transport,
                                      owner=owner)
                result.add(outcome, 1)
    finally:
        transport.close()
    return result


def carries_one_time_link(msg: OutboxMessage) -> bool:
    """A password-reset or invitation mail: its link works for whoever holds it, so it goes only
    to the address it was made for (never redirected) and leaves the outbox once sent."""
    return "url" in (msg.context or {})


def failed_messages(session: Session) -> list[OutboxMessage]:
    return list(session.scalars(
        select(OutboxMessage).where(OutboxMessage.status == "failed").order_by(OutboxMessage.id)))


def retry(session: Session, *, now: datetime, ids: Sequence[int] | None = None) -> int:
    """Put failed rows back in the queue, due now, with a fresh attempt count. ``ids=None``: all.
    Works in the caller's transaction (the CLI commits)."""
    with write_transaction(session):
        stmt = update(OutboxMessage).where(OutboxMessage.status == "failed")
        if ids is not None:
            stmt = stmt.where(OutboxMessage.id.in_(list(ids)))
        res: Any = session.execute(
            stmt.values(status="pending", attempts=0, next_attempt_at=now, lease_owner=None, lease_until=None)
            .execution_options(synchronize_session=False))
    return int(res.rowcount)
