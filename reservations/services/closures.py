"""One-off closures of a room or a whole facility, and the emergency closure of a day.

An emergency closure (a storm warning: 暴風警報) cancels every booking of that day through
``services.bookings.cancel(..., closure=True)`` — no cancellation fee, a ``cancelled_closure``
notice queued for each group by the booking service — and records the Closure row, all in one
transaction. A booking already in use (checked in) cannot be cancelled by the lifecycle; it is
counted and left to the staff on the spot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..database import write_transaction
from ..domain.errors import DomainError, RuleFailure
from ..domain.lifecycle import ACTIVE, Status
from ..models import Booking, Closure, Facility, Room, User
from . import audit
from . import bookings as svc
from .mapping import FacilityRooms, local_bounds
from .permissions import require_staff_for

MAX_CLOSURE_DAYS = 366


def _fail(code: str, ja: str, en: str, fld: str | None = None) -> RuleFailure:
    return RuleFailure(code, ja, en, field=fld)


def _check(session: Session, facility: Facility, room_id: int | None, start: date, end: date,
           reason_ja: str) -> Room | None:
    failures = []
    room = None
    if room_id is not None:
        room = session.get(Room, room_id)
        if room is None or room.facility_id != facility.id:
            failures.append(_fail("room_not_in_facility", "この施設の部屋を選んでください。",
                                  "Choose a room of this facility.", "room_id"))
    if end < start:
        failures.append(_fail("end_before_start", "終了日は開始日以降にしてください。",
                              "The last day must not be before the first day.", "end_date"))
    elif (end - start).days >= MAX_CLOSURE_DAYS:
        failures.append(_fail("too_long", "休館期間は1年以内にしてください。",
                              "A closure can last at most a year.", "end_date"))
    if not reason_ja.strip():
        failures.append(_fail("reason_required", "休館の理由を入力してください。", "Give the reason.", "reason_ja"))
    if failures:
        raise DomainError(failures)
    return room


def affected_bookings(session: Session, facility: Facility, start: date, end: date,
                      room: Room | None = None, *, lock: bool = False) -> list[Booking]:
    """Active bookings at ``facility`` (or of ``room`` and the rooms sharing a part with it)
    that start on a day from ``start`` to ``end``. ``lock``: read them as they are now and keep
    them from changing until the transaction ends (see ``write_transaction``)."""
    lo, hi = local_bounds(start, end, facility.timezone)
    if room is not None:
        room_ids = list(FacilityRooms(facility.rooms).related(room))
    else:
        room_ids = [r.id for r in facility.rooms]
    if not room_ids:
        return []
    query = (select(Booking).where(Booking.room_id.in_(room_ids), Booking.start_at >= lo, Booking.start_at < hi,
                                   Booking.status.in_([s.value for s in ACTIVE]))
             .order_by(Booking.start_at, Booking.id))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return list(session.scalars(query))


def add_closure(session: Session, facility: Facility, *, actor: User, now: datetime, start: date, end: date,
                reason_ja: str, reason_en: str = "", room_id: int | None = None) -> Closure:
    """A planned closure: new bookings on those days are refused by the rules from now on.
    Bookings already made are left alone (listed for the staff to handle)."""
    require_staff_for(actor, facility.id)
    _check(session, facility, room_id, start, end, reason_ja)
    with write_transaction(session, facility):  # bookings being made wait (see bookings._hold_rules_still)
        closure = Closure(facility_id=facility.id, room_id=room_id, start_date=start, end_date=end,
                          reason_ja=reason_ja.strip(), reason_en=reason_en.strip(), kind="planned",
                          created_by_id=actor.id, created_at=now)
        session.add(closure)
        session.flush()
        audit.record(session, "closure.added", now=now, actor=actor, facility_id=facility.id,
                     after={"closure_id": closure.id, "room_id": room_id, "start": start.isoformat(),
                            "end": end.isoformat(), "kind": "planned"}, note=reason_ja.strip())
        session.expire(facility, ["closures"])
    return closure


@dataclass
class EmergencyPreview:
    cancellable: list[Booking]
    in_use: list[Booking]  # checked in: the lifecycle does not cancel these


def emergency_preview(session: Session, facility: Facility, day: date, *, actor: User,
                      lock: bool = False) -> EmergencyPreview:
    require_staff_for(actor, facility.id)
    rows = affected_bookings(session, facility, day, day, lock=lock)
    in_use = [b for b in rows if b.status == Status.CHECKED_IN.value]
    return EmergencyPreview([b for b in rows if b.status != Status.CHECKED_IN.value], in_use)


@dataclass
class EmergencyResult:
    closure: Closure
    cancelled: list[Booking]
    in_use: list[Booking]


def emergency_close(session: Session, facility: Facility, day: date, *, actor: User, now: datetime,
                    reason_ja: str = "暴風警報による臨時休館", reason_en: str = "Emergency closure (storm warning)",
                    expected: int | None = None) -> EmergencyResult:
    """Close ``facility`` on ``day`` and cancel every active booking of that day, fee waived.

    ``expected`` is the count the confirm page showed; when bookings were made since, the
    closure is refused so staff confirm the new number (DomainError ``count_changed``).
    """
    require_staff_for(actor, facility.id)
    _check(session, facility, None, day, day, reason_ja)
    with write_transaction(session, facility):  # bookings being made wait (see bookings._hold_rules_still)
        preview = emergency_preview(session, facility, day, actor=actor, lock=True)
        if expected is not None and expected != len(preview.cancellable):
            raise DomainError(_fail(
                "count_changed", f"対象の予約が{len(preview.cancellable)}件に変わりました。もう一度確認してください。",
                f"The number of bookings affected is now {len(preview.cancellable)}. Please confirm again."))
        closure = Closure(facility_id=facility.id, room_id=None, start_date=day, end_date=day,
                          reason_ja=reason_ja.strip(), reason_en=reason_en.strip(), kind="emergency",
                          created_by_id=actor.id, created_at=now)
        session.add(closure)
        session.flush()
        for b in preview.cancellable:
            # the reason staff gave is what the groups are told, each in their language
            svc.cancel(session, b, actor=actor, now=now, reason=reason_ja, reason_en=reason_en or reason_ja,
                       closure=True)
        audit.record(session, "closure.emergency", now=now, actor=actor, facility_id=facility.id,
                     after={"closure_id": closure.id, "day": day.isoformat(),
                            "cancelled": [b.id for b in preview.cancellable],
                            "in_use": [b.id for b in preview.in_use]},
                     note=reason_ja.strip())
        session.flush()
        session.expire(facility, ["closures"])
    return EmergencyResult(closure, preview.cancellable, preview.in_use)


def upcoming_closures(session: Session, facility: Facility, today: date) -> list[Closure]:
    return list(session.scalars(select(Closure).where(Closure.facility_id == facility.id, Closure.end_date >= today)
                                .order_by(Closure.start_date, Closure.id)))
