"""The front desk's day: what is on today, what waits for approval or payment, booking on behalf,
and the audit log.

Reads are plain queries; every state change goes through ``services.bookings`` (the lifecycle,
fees, notices and audit events live there, and so does the approval re-check, which the desk's
queue shows: a pending request is run through ``domain.rules.check_request`` again *now*, because
the facility may have been closed, or the day passed, since it was made.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from ..domain.calendar import local_day
from ..domain.errors import DomainError, IllegalTransition, RuleFailure
from ..domain.fees import FeeQuote
from ..domain.lifecycle import Status
from ..models import AuditEvent, Booking, Facility, Group, Room, User
from . import bookings as svc
from .mapping import facility_calendar, local_bounds
from .permissions import Forbidden, require_staff_for

OVERRIDE_CHOICES = ("window", "lead_time", "approval")
HIDDEN_ON_BOARD = frozenset({Status.CANCELLED.value, Status.REJECTED.value, Status.RELEASED.value})


def _fail(code: str, ja: str, en: str, fld: str | None = None) -> RuleFailure:
    return RuleFailure(code, ja, en, field=fld)


# --- which facilities ------------------------------------------------------------------------


def require_staff(user: User | None) -> User:
    if user is None or not user.is_authenticated or not user.is_staff:
        raise Forbidden()
    return user


def served_facilities(session: Session, user: User) -> list[Facility]:
    """The facilities ``user`` works at (admins: all), in display order."""
    require_staff(user)
    if user.is_admin:
        return list(session.scalars(select(Facility).order_by(Facility.sort_order, Facility.id)))
    return sorted(user.facilities, key=lambda f: (f.sort_order, f.id))


def choose_facility(session: Session, user: User, facility_id: int | None) -> Facility:
    """The facility asked for, if ``user`` serves it (Forbidden otherwise); else the first served."""
    require_staff(user)
    if facility_id is not None:
        facility = session.get(Facility, facility_id)
        if facility is None or not user.serves(facility.id):
            raise Forbidden()
        return facility
    served = served_facilities(session, user)
    if not served:
        raise Forbidden()
    return served[0]


def _facility_ids(session: Session, user: User, facility_id: int | None) -> list[int]:
    if facility_id is not None:
        return [choose_facility(session, user, facility_id).id]
    return [f.id for f in served_facilities(session, user)]


# --- today -----------------------------------------------------------------------------------


@dataclass
class RoomDay:
    room: Room
    bookings: list[Booking]


@dataclass
class DayBoard:
    facility: Facility
    day: date
    rooms: list[RoomDay]
    closed_label: tuple[str, str] | None  # (ja, en) when the facility is closed that day
    hidden_count: int  # cancelled / rejected / released that day, not shown

    @property
    def sheet(self) -> list[Booking]:
        """The key handover list: every booking of the day that will (or did) use a room."""
        return sorted((b for r in self.rooms for b in r.bookings), key=lambda b: (b.start_at, b.room.sort_order))


def day_board(session: Session, user: User, facility: Facility, day: date) -> DayBoard:
    require_staff_for(user, facility.id)
    start, end = local_bounds(day, day, facility.timezone)
    rooms = [r for r in facility.rooms if r.active]
    rows = list(session.scalars(
        select(Booking).where(Booking.room_id.in_([r.id for r in rooms]), Booking.start_at < end,
                              Booking.end_at > start).order_by(Booking.start_at)))
    shown = [b for b in rows if b.status not in HIDDEN_ON_BOARD]
    by_room: dict[int, list[Booking]] = {r.id: [] for r in rooms}
    for b in shown:
        by_room[b.room_id].append(b)
    closed = facility_calendar(facility).closed_reason(day)
    return DayBoard(facility, day, [RoomDay(r, by_room[r.id]) for r in rooms],
                    (closed.label_ja, closed.label_en) if closed else None, len(rows) - len(shown))


def check_in(session: Session, booking: Booking, *, actor: User, now: datetime) -> Booking:
    """Hand over the key. Lateness (minutes after the start) is recorded by the booking service."""
    return svc.check_in(session, booking, actor=actor, now=now)


def mark_no_show(session: Session, booking: Booking, *, actor: User, now: datetime) -> Booking:
    """A no-show can only be recorded once the booking has started (the booking service says so)."""
    return svc.mark_no_show(session, booking, actor=actor, now=now)


# --- approval queue --------------------------------------------------------------------------


@dataclass
class QueueItem:
    booking: Booking
    no_shows: int
    problems: list[RuleFailure] = field(default_factory=list)

    @property
    def clear(self) -> bool:
        return not self.problems


def no_show_counts(session: Session, group_ids: Iterable[int]) -> dict[int, int]:
    ids = list({g for g in group_ids if g is not None})
    if not ids:
        return {}
    rows = session.execute(
        select(Booking.group_id, func.count()).where(Booking.group_id.in_(ids), Booking.status == Status.NO_SHOW.value)
        .group_by(Booking.group_id)).all()
    return {int(gid or 0): int(n) for gid, n in rows}


def approval_queue(session: Session, user: User, *, now: datetime, facility_id: int | None = None) -> list[QueueItem]:
    """Pending bookings at the facilities ``user`` serves, oldest request first."""
    ids = _facility_ids(session, user, facility_id)
    rows = list(session.scalars(
        select(Booking).join(Room).where(Room.facility_id.in_(ids), Booking.status == Status.PENDING.value)
        .order_by(Booking.created_at, Booking.id)))
    counts = no_show_counts(session, (b.group_id for b in rows if b.group_id is not None))
    return [QueueItem(b, counts.get(b.group_id or 0, 0), svc.approval_problems(session, b, now)) for b in rows]


def approve(session: Session, booking: Booking, *, actor: User, now: datetime, note: str = "") -> Booking:
    """Approve after the re-check (``bookings.approval_problems``, in the booking service, so the
    API approves by the same rules); a request that now breaks a rule is refused with the reasons."""
    return svc.approve(session, booking, actor=actor, now=now, note=note)


_NOT_PENDING = RuleFailure("not_pending", "承認待ちではありません。", "Not pending any more.")


@dataclass
class BulkResult:
    approved: list[Booking]
    skipped: list[tuple[Booking, list[RuleFailure]]]


def bulk_approve(session: Session, bookings: Sequence[Booking], *, actor: User, now: datetime) -> BulkResult:
    """Approve each selected booking that passes the re-check; skip the others (they stay pending).

    Every booking must be at a facility ``actor`` serves (Forbidden otherwise, nothing approved).
    """
    for b in bookings:
        require_staff_for(actor, b.room.facility_id)
    result = BulkResult([], [])
    for b in bookings:
        if b.status != Status.PENDING.value:
            result.skipped.append((b, [_NOT_PENDING]))
            continue
        try:
            svc.approve(session, b, actor=actor, now=now, audit_note="bulk")
        except IllegalTransition:  # changed by someone else since the list was loaded; nothing written
            result.skipped.append((b, [_NOT_PENDING]))
            continue
        except DomainError as exc:  # breaks a rule now (the re-check); nothing written
            result.skipped.append((b, exc.failures))
            continue
        result.approved.append(b)
    return result


# --- claims and payment ----------------------------------------------------------------------


def claims_queue(session: Session, user: User, *, facility_id: int | None = None) -> list[Booking]:
    """Provisional bookings at the facilities ``user`` serves, soonest claim deadline first."""
    ids = _facility_ids(session, user, facility_id)
    return list(session.scalars(
        select(Booking).join(Room).where(Room.facility_id.in_(ids), Booking.status == Status.PROVISIONAL.value)
        .order_by(Booking.claim_deadline.is_(None), Booking.claim_deadline, Booking.start_at)))


def quote_of(booking: Booking) -> FeeQuote:
    return FeeQuote.from_dict(booking.fee_breakdown)


def record_payment(session: Session, booking: Booking, *, actor: User, now: datetime, amount: int | None,
                   method: str, receipt: str) -> Booking:
    """Payment or claim at the desk → confirmed. A short amount is refused by the booking service."""
    return svc.confirm(session, booking, actor=actor, now=now, amount=amount, method=method, receipt=receipt)


# --- booking on behalf -----------------------------------------------------------------------


def book_on_behalf(session: Session, inp: svc.BookingInput, *, actor: User, now: datetime,
                   overrides: Iterable[str] = ()) -> list[Booking]:
    """Staff book for a registered group, or for a one-off contact (``group_id`` None: name and
    phone required). Overrides are limited to window, lead time and approval; the booking
    service refuses overlaps and closures whatever is chosen, and notes the overrides in the audit."""
    require_staff(actor)
    room = session.get(Room, inp.room_id)
    if room is None:
        raise DomainError(_fail("room_not_found", "部屋が見つかりません。", "Room not found.", "room"))
    require_staff_for(actor, room.facility_id)
    chosen = frozenset(overrides)
    unknown = chosen - set(OVERRIDE_CHOICES)
    if unknown:
        raise DomainError(_fail("override_invalid", "指定できない例外扱いです。", "That override is not allowed.",
                                "overrides"))
    if inp.group_id is None:
        failures = []
        if not inp.contact_name.strip():
            failures.append(_fail("contact_name_required", "団体を選ばない場合は連絡先の氏名を入力してください。",
                                  "Without a group, enter the contact's name.", "contact_name"))
        if not inp.contact_phone.strip():
            failures.append(_fail("contact_phone_required", "団体を選ばない場合は連絡先の電話番号を入力してください。",
                                  "Without a group, enter the contact's phone number.", "contact_phone"))
        if failures:
            raise DomainError(failures)
    return svc.create_booking(session, inp, actor=actor, now=now, overrides=chosen)


def bookable_groups(session: Session) -> list[Group]:
    """Groups staff may book for: every group that is not suspended, by name."""
    return list(session.scalars(select(Group).where(Group.status != "suspended").order_by(Group.name, Group.id)))


# --- audit -----------------------------------------------------------------------------------


@dataclass
class LogPage:
    events: list[AuditEvent]
    page: int
    pages: int
    total: int


def audit_log(session: Session, user: User, *, facility_id: int | None = None, action: str = "",
              first: date | None = None, last: date | None = None, page: int = 1, per_page: int = 50,
              tz: str = "Asia/Tokyo") -> LogPage:
    """Staff log, newest first: events at the facilities ``user`` serves, and the groups' events
    (registration is every facility's work: any staff member registers, renews or renames a group,
    and its page shows them too); admins also see every other event with no facility."""
    q = select(AuditEvent).where(_visible_events(session, user, facility_id))
    if action:
        q = q.where(AuditEvent.action.like(f"{action.replace('%', '')}%"))
    if first is not None:
        q = q.where(AuditEvent.at >= local_bounds(first, first, tz)[0])
    if last is not None:
        q = q.where(AuditEvent.at < local_bounds(last, last, tz)[1])
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    events = list(session.scalars(q.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
                                  .offset((page - 1) * per_page).limit(per_page)))
    return LogPage(events, page, pages, total)


def booking_events(session: Session, booking: Booking) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.booking_id == booking.id)
                                .order_by(AuditEvent.at, AuditEvent.id)))


def _visible_events(session: Session, user: User, facility_id: int | None) -> ColumnElement[bool]:
    """The events ``user`` may read in the log (see ``audit_log``)."""
    ids = _facility_ids(session, user, facility_id)
    cond: ColumnElement[bool] = AuditEvent.facility_id.in_(ids)
    if facility_id is None:
        no_facility = AuditEvent.facility_id.is_(None)
        cond = or_(cond, no_facility if user.is_admin else and_(no_facility, AuditEvent.action.like("group.%")))
    return cond


def action_names(session: Session, user: User) -> list[str]:
    """The actions of the events ``user`` can see: the log's filter offers no action it would show
    nothing for (a staff member does not see the admins' or the members' own events)."""
    return list(session.scalars(select(AuditEvent.action).where(_visible_events(session, user, None))
                                .distinct().order_by(AuditEvent.action)))


def staff_booking(session: Session, user: User, booking_id: int) -> Booking:
    """A booking for the desk: Forbidden unless ``user`` serves its facility."""
    require_staff(user)
    booking = session.get(Booking, booking_id)
    if booking is None:
        from .permissions import NotFound

        raise NotFound()
    require_staff_for(user, booking.room.facility_id)
    return booking


def local_date(booking: Booking) -> date:
    return local_day(booking.start_at, booking.room.facility.timezone)
