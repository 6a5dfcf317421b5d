"""What an administrator checks when a group says "I never got the mail": the scheduler's
last runs, the outbox, and the messages the SMTP server refused for good.

A retry goes through ``mail.outbox.retry`` (the same as ``flask mail retry``) and is
written to the audit trail, so the log shows who sent a failed notice again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..domain.errors import DomainError, RuleFailure
from ..jobs.registry import JOBS
from ..mail import outbox
from ..models import JobLease, OutboxMessage, User
from . import audit
from .accounts import check_email, normalize_email
from .permissions import NotFound, require_admin


@dataclass(frozen=True)
class JobStatus:
    name: str
    description: str
    interval_seconds: int
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_result: dict[str, Any] | None
    late: bool  # not finished within three intervals: is the scheduler running?


@dataclass(frozen=True)
class MailCounts:
    pending: int
    failed: int
    sent_last_day: int


def jobs(session: Session, actor: User, *, now: datetime) -> list[JobStatus]:
    require_admin(actor)
    leases = {row.name: row for row in session.scalars(select(JobLease))}
    out = []
    for name, spec in JOBS.items():
        row = leases.get(name)
        finished = row.last_finished_at if row else None
        late = finished is None or now - finished > timedelta(seconds=3 * spec.interval_seconds)
        out.append(JobStatus(name, spec.description, spec.interval_seconds,
                             row.last_started_at if row else None, finished,
                             row.last_result if row else None, late))
    return out


def mail_counts(session: Session, actor: User, *, now: datetime) -> MailCounts:
    require_admin(actor)
    by_status: dict[str, int] = {status: n for status, n in session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))}
    sent = session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.status == "sent", OutboxMessage.sent_at >= now - timedelta(days=1))) or 0
    return MailCounts(by_status.get("pending", 0), by_status.get("failed", 0), int(sent))


def failed_mail(session: Session, actor: User) -> list[OutboxMessage]:
    require_admin(actor)
    return outbox.failed_messages(session)


def can_redirect(message: OutboxMessage) -> bool:
    """Whether ``resend_to`` may send this message to another address (not a one-time link)."""
    return not outbox.carries_one_time_link(message)


def retry_failed_mail(session: Session, actor: User, *, now: datetime, ids: Sequence[int] | None = None) -> int:
    """Queue failed messages again (``ids=None``: all of them); returns how many. One transaction."""
    require_admin(actor)
    count = outbox.retry(session, now=now, ids=ids)
    if count:
        audit.record(session, "mail.retry", now=now, actor=actor,
                     after={"count": count, "ids": sorted(ids) if ids is not None else "all"})
    return count


_ONE_TIME_LINK = RuleFailure(
    "one_time_link", "このメールには宛先の本人だけが使えるリンクが入っているため、別の宛先には送れません。"
    "本人にもう一度手続きしてもらってください（パスワードの再設定、または招待のやり直し）。",
    "This message carries a link only its addressee may use, so it cannot go to another address. Ask the "
    "person to start again (reset the password, or be invited again).", "recipient")


def resend_to(session: Session, actor: User, message_id: int, recipient: str, *, now: datetime) -> OutboxMessage:
    """Send a failed message again to a corrected address (a typo in a group's contact address,
    a mailbox that moved). Only the message changes: the group's or user's stored address is
    corrected where it lives (the group's details, the account), so the next message goes right
    too. One transaction; the old and new address go into the audit trail."""
    require_admin(actor)
    message = session.get(OutboxMessage, message_id)
    if message is None or message.status != "failed":
        raise NotFound()
    if not can_redirect(message):  # whoever received it could set a password or join a group
        raise DomainError(_ONE_TIME_LINK)
    address = normalize_email(recipient)
    bad = check_email(address, "recipient")
    if bad:
        raise DomainError(bad)
    before = message.recipient
    if not outbox.retry(session, now=now, ids=[message.id]):  # takes the write transaction first
        raise NotFound()  # retried by someone else meanwhile
    message.recipient = address
    audit.record(session, "mail.redirected", now=now, actor=actor, before={"recipient": before},
                 after={"recipient": address, "id": message.id})
    return message
