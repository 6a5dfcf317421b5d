"""Jobs that move bookings along the lifecycle: unclaimed, no-shows, past.

Each is a plain function ``(session, now, settings) -> JobResult`` that works in the
caller's transaction and never commits (the runner does). Every batch selects only
rows still in the state the job acts on, so a rerun, or a run after a crash that
rolled back, does exactly what is left to do.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.lifecycle import Action, Status
from ..models import Booking, Room
from ..services import bookings as booking_service
from .result import JobResult
from .settings import JobSettings
from .transitions import bulk_transition


def _batch_done(result: JobResult) -> None:
    """Called after each batch; a seam for tests that make a job die half way."""


def release_unclaimed(session: Session, now: datetime, settings: JobSettings) -> JobResult:
    """Provisional bookings whose claim deadline is at or before ``now``: released (slot free
    again, group told), or auto-confirmed where the room's claim policy says ``on_expiry: confirm``.

    The boundary is inclusive: a deadline equal to ``now`` has passed.
    """
    result = JobResult("release-unclaimed", now)
    confirm_rooms = _auto_confirm_rooms(session)
    while True:
        rows = session.execute(
            select(Booking.id, Booking.room_id)
            .where(Booking.status == Status.PROVISIONAL.value, Booking.claim_deadline.is_not(None),
                   Booking.claim_deadline <= now)
            .order_by(Booking.claim_deadline, Booking.id)
            .limit(settings.set_batch)
        ).all()
        if not rows:
            break
        to_confirm = [bid for bid, room_id in rows if room_id in confirm_rooms]
        to_release = [bid for bid, room_id in rows if room_id not in confirm_rooms]
        released = bulk_transition(
            session, to_release, frm=Status.PROVISIONAL, action=Action.RELEASE, now=now, notice="released",
            where=(Booking.claim_deadline <= now,),
        )
        result.add("released", released)
        confirmed = _auto_confirm(session, to_confirm, now) if to_confirm else []
        result.add("auto_confirmed", confirmed)
        _batch_done(result)
        if len(released) + len(confirmed) == 0:
            break  # nothing could change (should not happen): never loop forever
    return result


def _auto_confirm(session: Session, ids: list[int], now: datetime) -> list[int]:
    """Auto-confirm goes through the booking service, one by one: few rooms use it, and it
    must do exactly what a confirmation does (audit, "confirmed" mail)."""
    confirmed = []
    for booking in session.scalars(select(Booking).where(
            Booking.id.in_(ids), Booking.status == Status.PROVISIONAL.value).order_by(Booking.id)):
        booking_service.confirm(session, booking, actor=None, now=now, system=True)
        confirmed.append(booking.id)
    session.flush()
    return confirmed


def _auto_confirm_rooms(session: Session) -> set[int]:
    """Rooms whose claim policy confirms, rather than releases, a hold nobody claimed.
    Read once per run: a few hundred rooms, instead of a policy per expired booking."""
    return {room_id for room_id, policy in session.execute(select(Room.id, Room.claim_policy))
            if (policy or {}).get("on_expiry") == "confirm"}


def release_no_shows(session: Session, now: datetime, settings: JobSettings) -> JobResult:
    """In rooms that use check-in, confirmed bookings not checked in by start + grace minutes
    become ``no_show``: their units are freed for the rest of the time and the group is told.
    The no-show stays on the group's record (status ``no_show``, audit event with the group)."""
    result = JobResult("release-no-shows", now)
    by_grace: dict[int, list[int]] = defaultdict(list)
    for room_id, grace in session.execute(select(Room.id, Room.checkin_grace_minutes).where(Room.checkin_required)):
        by_grace[int(grace or 0)].append(room_id)
    for grace, room_ids in sorted(by_grace.items()):
        cutoff = now - timedelta(minutes=grace)
        while True:
            ids = list(session.scalars(
                select(Booking.id)
                .where(Booking.room_id.in_(room_ids), Booking.status == Status.CONFIRMED.value,
                       Booking.checked_in_at.is_(None), Booking.start_at <= cutoff)
                .order_by(Booking.start_at, Booking.id).limit(settings.set_batch)
            ))
            if not ids:
                break
            changed = bulk_transition(
                session, ids, frm=Status.CONFIRMED, action=Action.NO_SHOW, now=now, notice="no_show",
                where=(Booking.checked_in_at.is_(None), Booking.start_at <= cutoff),
            )
            result.add("no_show", changed)
            _batch_done(result)
            if not changed:
                break
    return result


def complete_past(session: Session, now: datetime, settings: JobSettings) -> JobResult:
    """Checked-in bookings whose end is at or before ``now`` become ``completed`` (no mail)."""
    result = JobResult("complete-past", now)
    while True:
        ids = list(session.scalars(
            select(Booking.id)
            .where(Booking.status == Status.CHECKED_IN.value, Booking.end_at <= now)
            .order_by(Booking.end_at, Booking.id).limit(settings.set_batch)
        ))
        if not ids:
            break
        changed = bulk_transition(session, ids, frm=Status.CHECKED_IN, action=Action.COMPLETE, now=now,
                                  notice=None, where=(Booking.end_at <= now,))
        result.add("completed", changed)
        _batch_done(result)
        if not changed:
            break
    return result
