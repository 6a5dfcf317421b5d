"""Queueing booking notices for many bookings at once.

The same rules as ``services.notify.queue`` (recipients, dedupe key
``<kind>:<booking_id>:<suffix>:<email>``, pending row due now), but one query for
the keys that exist and one bulk INSERT, instead of a query per recipient.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from ..models import Booking, Group, Membership, OutboxMessage
from ..services import notify

Item = tuple[Booking, str, dict[str, Any]]  # booking, key suffix, context


def booking_loads() -> Sequence[LoaderOption]:
    """Eager loads for what recipients, audit and mail read from a booking."""
    return (
        selectinload(Booking.booked_by),
        selectinload(Booking.room),
        selectinload(Booking.group).selectinload(Group.memberships).selectinload(Membership.user),
    )


def queue_bulk(session: Session, kind: str, items: Iterable[Item], *, now: datetime) -> int:
    """Queue ``kind`` for each (booking, suffix, context); existing keys are left alone.
    Returns the number of rows inserted."""
    if kind not in notify.KINDS:
        raise ValueError(f"unknown notification kind {kind}")
    rows: dict[str, dict[str, Any]] = {}
    for booking, suffix, context in items:
        for email, language in notify.recipients(booking):
            key = f"{kind}:{booking.id}:{suffix}:{email}"
            rows.setdefault(key, {
                "dedupe_key": key, "kind": kind, "booking_id": booking.id, "group_id": booking.group_id,
                "recipient": email, "language": language, "context": dict(context), "status": "pending",
                "attempts": 0, "next_attempt_at": now, "created_at": now,
            })
    if not rows:
        return 0
    keys = list(rows)
    existing: set[str] = set()
    for i in range(0, len(keys), 500):
        existing.update(session.scalars(
            select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(keys[i:i + 500]))))
    new = [row for key, row in rows.items() if key not in existing]
    if new:
        session.execute(insert(OutboxMessage), new)
    return len(new)
