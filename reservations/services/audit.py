"""Writing the audit trail. Every state change and staff action comes through ``record``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ..models import AuditEvent, Booking, User


def booking_snapshot(b: Booking) -> dict[str, Any]:
    return {
        "status": b.status,
        "room_id": b.room_id,
        "start": b.start_at.isoformat(),
        "end": b.end_at.isoformat(),
        "claim_deadline": b.claim_deadline.isoformat() if b.claim_deadline else None,
        "fee_total": b.fee_total,
        "sequence": b.sequence,
    }


def record(
    session: Session,
    action: str,
    *,
    now: datetime,
    actor: User | None = None,
    booking: Booking | None = None,
    group_id: int | None = None,
    facility_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    note: str = "",
) -> AuditEvent:
    if booking is not None:
        group_id = group_id if group_id is not None else booking.group_id
        if facility_id is None and booking.room is not None:
            facility_id = booking.room.facility_id
    event = AuditEvent(
        at=now,
        actor_id=actor.id if actor else None,
        action=action,
        booking_id=booking.id if booking else None,
        group_id=group_id,
        facility_id=facility_id,
        before=before,
        after=after,
        note=note,
    )
    session.add(event)
    return event
