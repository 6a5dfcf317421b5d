"""Queueing notifications in the outbox, in the same transaction as their cause.

Rendering and delivery happen later (``reservations.mail``); here we only
decide who is told what, under a dedupe key that makes a retried action or a
rerun job harmless.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Booking, OutboxMessage, User

KINDS = (
    "booking_received", "approved", "rejected", "confirmed", "claim_reminder", "reminder",
    "released", "cancelled", "cancelled_by_staff", "cancelled_closure", "no_show",
)


def recipients(booking: Booking) -> list[tuple[str, str]]:
    """(email, language) pairs: whoever booked, and the group's contact address."""
    out: dict[str, str] = {}
    if booking.booked_by is not None and not booking.booked_by.is_staff:
        out[booking.booked_by.email] = booking.booked_by.language
    if booking.group is not None:
        for m in booking.group.memberships:
            if m.role == "representative" and m.user.active:
                out.setdefault(m.user.email, m.user.language)
        if booking.group.contact_email:
            out.setdefault(booking.group.contact_email.lower(), "ja")
    return sorted(out.items())


def queue(
    session: Session, kind: str, booking: Booking, *, now: datetime,
    key_suffix: str | None = None, context: dict[str, Any] | None = None,
) -> list[OutboxMessage]:
    """Queue ``kind`` for every recipient of ``booking``; an existing key is left alone."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind}")
    suffix = key_suffix if key_suffix is not None else str(booking.sequence)
    made = []
    for email, language in recipients(booking):
        key = f"{kind}:{booking.id}:{suffix}:{email}"
        exists = session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key))
        if exists:
            continue
        msg = OutboxMessage(
            dedupe_key=key, kind=kind, booking_id=booking.id, group_id=booking.group_id,
            recipient=email, language=language, context=dict(context or {}),
            status="pending", attempts=0, next_attempt_at=now, created_at=now,
        )
        session.add(msg)
        made.append(msg)
    return made


def queue_to_user(session: Session, kind: str, user: User, *, now: datetime, key: str,
                  context: dict[str, Any]) -> OutboxMessage | None:
    """Mail that is about an account rather than a booking (password reset, member added)."""
    return queue_to_address(session, kind, user.email, user.language, now=now, key=key, context=context)


def queue_to_address(session: Session, kind: str, email: str, language: str, *, now: datetime, key: str,
                     context: dict[str, Any]) -> OutboxMessage | None:
    """Mail to an address that has no account (group invitations)."""
    dedupe = f"{kind}:{key}"
    if session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe)):
        return None
    msg = OutboxMessage(dedupe_key=dedupe, kind=kind, recipient=email, language=language,
                        context=context, status="pending", attempts=0, next_attempt_at=now, created_at=now)
    session.add(msg)
    return msg
