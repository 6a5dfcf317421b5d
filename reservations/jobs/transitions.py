"""Set-based lifecycle changes for the scheduler's jobs.

The same effects as ``services.bookings._change`` — status through the
lifecycle table, SEQUENCE + 1, ``updated_at``, freed units for final states,
one audit event per booking and a notice — but as one UPDATE per batch. The
UPDATE repeats the state it acts on in its WHERE clause, so a booking changed
meanwhile (paid, cancelled, already released by another runner) is left
alone, and only the ids the database actually changed get audit events and mail.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, insert, select, update
from sqlalchemy.orm import Session

from ..domain.lifecycle import Action, Status, is_active, transition
from ..models import AuditEvent, Booking, OccupiedUnit
from ..services import audit
from .notices import booking_loads, queue_bulk

NOTE = "scheduler"


def bulk_transition(
    session: Session, ids: Sequence[int], *, frm: Status, action: Action, now: datetime,
    notice: str | None, where: Sequence[ColumnElement[bool]] = (),
) -> list[Booking]:
    """Move the bookings ``ids`` that are still in ``frm`` (and match ``where``) on by ``action``.
    Returns the bookings changed, loaded fresh."""
    if not ids:
        return []
    to = transition(frm, action)  # refuses a transition the lifecycle table does not allow
    res: Any = session.execute(
        update(Booking)
        .where(Booking.id.in_(list(ids)), Booking.status == frm.value, *where)
        .values(status=to.value, sequence=Booking.sequence + 1, updated_at=now)
        .returning(Booking.id)
        .execution_options(synchronize_session=False)
    )
    done = sorted(res.scalars().all())
    if not done:
        return []
    if not is_active(to):
        session.execute(
            update(OccupiedUnit).where(OccupiedUnit.booking_id.in_(done)).values(active=False)
            .execution_options(synchronize_session=False)
        )
    changed = list(session.scalars(
        select(Booking).where(Booking.id.in_(done)).order_by(Booking.id)
        .options(*booking_loads()).execution_options(populate_existing=True)
    ))
    events = []
    for b in changed:
        after = audit.booking_snapshot(b)
        before = dict(after, status=frm.value, sequence=b.sequence - 1)
        events.append({
            "at": now, "actor_id": None, "action": f"booking.{action.value}", "booking_id": b.id,
            "group_id": b.group_id, "facility_id": b.room.facility_id, "before": before, "after": after,
            "note": NOTE,
        })
    session.execute(insert(AuditEvent), events)
    if notice:
        queue_bulk(session, notice, [(b, str(b.sequence), {}) for b in changed], now=now)
    return changed
