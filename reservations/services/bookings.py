"""The booking service: create, approve, reject, confirm, cancel, check in, no-show, release.

Each function is one action in the caller's transaction. The overlap check in
Python gives a clear message; the database constraint (exclusion constraint or
trigger) is what makes a lost race impossible, and a lost race comes back as
the same ``conflict`` failure.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, insert, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import InstanceState, Session, joinedload, scoped_session

from ..database import write_transaction
from ..domain.calendar import local, local_day
from ..domain.errors import DomainError, RuleFailure
from ..domain.fees import FeeQuote, UnknownExtra, cancellation_fee, quote_fee
from ..domain.lifecycle import (
    Action,
    Status,
    can,
    initial_status,
    is_active,
    status_after_approval,
    transition,
)
from ..domain.recurrence import RecurrenceSpec
from ..domain.rules import (
    BookingRequest,
    Occupied,
    RoomRules,
    check_in_refused,
    check_request,
    conflict_message,
)
from ..domain.slots import FixedSlots
from ..models import Booking, BookingSeries, Facility, Group, OccupiedUnit, Room, User
from . import audit, notify
from .availability import Alternative, suggest_alternatives
from .mapping import (
    FacilityRooms,
    exemptions,
    facility_calendar,
    load_closures,
    load_occupied,
    load_unit_map,
    rules_of,
)
from .permissions import Forbidden, is_member, require_staff_for, require_view

CONFLICT = RuleFailure("conflict", "この時間は既に予約があります。", "This time is already booked.", field="slot")
PAYMENT_METHODS = ("cash", "bank_transfer", "exempt")
_T = TypeVar("_T")
# the booking path's statements, built once: built on every booking, a statement with its eager
# loads (and its cache key) cost as much as running it
_ROOM_WITH_FACILITY = select(Room).options(joinedload(Room.facility)).where(Room.id == bindparam("id"))
_GROUP_WITH_MEMBERS = select(Group).options(joinedload(Group.memberships)).where(Group.id == bindparam("id"))
_USER_WITH_MEMBERSHIPS = select(User).options(joinedload(User.memberships)).where(User.id == bindparam("id"))
_INSERT_HOLDS = insert(OccupiedUnit.__table__)


@dataclass
class BookingInput:
    """What a user asks for; the slot or the times, the rest is the same for web and API."""

    room_id: int
    group_id: int | None
    day: date | None = None
    slot_code: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    purpose: str = ""
    attendees: int = 1
    extras: list[str] = field(default_factory=list)
    recurrence: RecurrenceSpec | None = None
    book_free_only: bool = False  # series: book the dates that pass, skip the rest
    contact_name: str = ""
    contact_phone: str = ""


@dataclass(frozen=True)
class Occurrence:
    day: date
    start: datetime
    end: datetime
    failures: tuple[RuleFailure, ...]

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class Plan:
    """A checked request: one occurrence, or one per date of a series, with its price."""

    room: Room
    group: Group | None
    group_class: str
    rules: RoomRules
    occurrences: tuple[Occurrence, ...]
    quote: FeeQuote
    failures: tuple[RuleFailure, ...] = ()  # failures that concern the request as a whole

    @property
    def bookable(self) -> list[Occurrence]:
        return [o for o in self.occurrences if o.ok]


def _fail(code: str, ja: str, en: str, fld: str | None = None) -> RuleFailure:
    return RuleFailure(code, ja, en, field=fld)


def _times(inp: BookingInput, rules: RoomRules, tz: str, day: date | None = None) -> tuple[datetime, datetime] | None:
    """The instants of the request on ``day`` (the first day when None)."""
    if inp.slot_code:
        d = day or inp.day
        if d is None or not isinstance(rules.scheme, FixedSlots):
            return None
        return rules.scheme.span(d, inp.slot_code, tz)
    if inp.start is None or inp.end is None:
        return None
    if day is None:
        return inp.start, inp.end
    zone = ZoneInfo(tz)
    ls, le = inp.start.astimezone(zone), inp.end.astimezone(zone)
    return local(day, ls.time(), tz), local(day + (le.date() - ls.date()), le.time(), tz)


def _get_with(session: Session, entity: type[_T], ident: int, statement: Select[Any]) -> _T | None:
    """``session.get`` with the eager loads of ``statement`` (one of the ``_…_WITH_…`` above), also
    for an expired copy in the identity map.

    ``write_transaction`` commits the read transaction these rows may have been loaded in,
    which expires them; a plain ``get`` then refreshes the row and leaves each relation to a
    lazy load of its own, while this reads the row and its relations again in one query.
    """
    own = session() if isinstance(session, scoped_session) else session
    held = own.identity_map.get(own.identity_key(entity, ident))
    if held is not None and not sa_inspect(held).expired:
        return held  # as session.get: no query for a row the session holds
    result = own.execute(statement, {"id": ident}, execution_options={"populate_existing": held is not None})
    found: _T | None = result.unique().scalar_one_or_none()
    return found


def _load_actor(session: Session, actor: User | None) -> None:
    """Read an expired actor and its memberships (the permission checks need both) in one query."""
    if actor is None:
        return
    state: InstanceState[User] = sa_inspect(actor)
    own = session() if isinstance(session, scoped_session) else session
    if state.session is own and state.expired and state.identity is not None:
        _get_with(own, User, state.identity[0], _USER_WITH_MEMBERSHIPS)


def _hold_rules_still(session: Session, inp: BookingInput) -> None:
    """PostgreSQL: a shared lock on the room's facility and on the booking group until this booking
    commits, and the group's row read as it is. A closure locks its facility (to list and cancel
    what it affects) and a suspension its group, so either waits for a booking being made, or the
    booking waits for it and then reads the closures and the group's status as they committed;
    without this a booking could land on a day an emergency closure had just cleared. Bookings
    take the lock shared, so they do not wait for one another. SQLite's write lock already
    serialises all of this."""
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(_FACILITY_SHARE, {"room_id": inp.room_id})
    if inp.group_id is not None:
        session.execute(select(Group).where(Group.id == inp.group_id).with_for_update(read=True)
                        .execution_options(populate_existing=True)).all()


_FACILITY_SHARE = (select(Facility.id).join(Room, Room.facility_id == Facility.id)
                   .where(Room.id == bindparam("room_id")).with_for_update(read=True, of=Facility))


def plan_booking(
    session: Session, inp: BookingInput, *, actor: User | None, now: datetime,
    overrides: frozenset[str] = frozenset(),
) -> Plan:
    """Check a request without writing anything: used for the price preview, the series preview
    and by :func:`create_booking` itself."""
    return _plan(session, inp, actor=actor, now=now, overrides=overrides, holds=True)


def _plan(
    session: Session, inp: BookingInput, *, actor: User | None, now: datetime,
    overrides: frozenset[str], holds: bool,
) -> Plan:
    """:func:`plan_booking`; without ``holds`` the occurrences are checked as if the room were
    free (the database's overlap guard then has the last word, see :func:`create_booking`)."""
    room = _get_with(session, Room, inp.room_id, _ROOM_WITH_FACILITY)
    if room is None:
        raise DomainError(_fail("room_not_found", "部屋が見つかりません。", "Room not found.", "room"))
    if not room.active:  # taken out of use, perhaps while the form was open
        raise DomainError(_fail("room_inactive", "この部屋は現在予約を受け付けていません。ほかの部屋をお選びください。",
                                "This room is not taking bookings at the moment. Please choose another room.",
                                "room"))
    facility = room.facility
    tz = facility.timezone
    # the group's members come along: the notice of a new booking goes to its representatives
    group = _get_with(session, Group, inp.group_id, _GROUP_WITH_MEMBERS) \
        if inp.group_id is not None else None
    _load_actor(session, actor)
    whole: list[RuleFailure] = []
    staff = actor is not None and actor.serves(facility.id)
    if overrides and not staff:
        raise Forbidden()
    if inp.group_id is not None and group is None:
        whole.append(_fail("group_not_found", "団体が見つかりません。", "Group not found.", "group"))
    elif group is not None and not staff and not is_member(actor, group):
        raise Forbidden()
    elif group is None and not staff:
        whole.append(_fail("group_required", "予約する団体を選んでください。", "Choose the group that books.", "group"))
    if group is not None and group.status == "suspended":
        whole.append(_fail("group_suspended", "この団体は登録停止中のため予約できません。",
                           "This group is suspended and cannot book.", "group"))
    today = local_day(now, tz)
    group_class = group.group_class(today) if group is not None else "general"

    # the room's units from the facility's ids and part links, not every room as an ORM object
    rules = load_unit_map(session, facility.id).rules(room)
    first = _times(inp, rules, tz)
    if first is None:
        whole.append(_fail("slot_required", "時間区分または開始・終了時刻を指定してください。",
                           "Choose a slot, or a start and end time.", "slot"))
        return Plan(room, group, group_class, rules, (), FeeQuote(()), tuple(whole))
    if not (inp.purpose or "").strip():
        whole.append(_fail("purpose_required", "利用目的を入力してください。", "Enter the purpose of use.", "purpose"))

    if inp.recurrence is not None:
        start_day = local_day(first[0], tz)
        problems = inp.recurrence.validate(start_day)
        if problems:
            return Plan(room, group, group_class, rules, (), FeeQuote(()), tuple(whole + problems))
        days = inp.recurrence.expand(start_day)
    else:
        days = [local_day(first[0], tz)]

    spans = []
    for d in days:
        t = _times(inp, rules, tz, d) if inp.recurrence is not None else first
        if t is not None:
            spans.append((d, t[0], t[1]))
    if not spans:
        return Plan(room, group, group_class, rules, (), FeeQuote(()), tuple(whole))
    # the rules look only at the local days of the requested times; closures of other days cannot matter
    cal = facility_calendar(facility, load_closures(
        session, facility.id, min(local_day(s, tz) for _, s, _ in spans), max(local_day(e, tz) for _, _, e in spans)))
    lo = min(s for _, s, _ in spans)
    hi = max(e for _, _, e in spans) + rules.buffer
    existing = load_occupied(session, rules.units, lo, hi) if holds else []

    occurrences = []
    for d, s, e in spans:
        req = BookingRequest(room.id, s, e, inp.attendees, group_class, inp.slot_code)
        occurrences.append(Occurrence(d, s, e, tuple(check_request(req, rules, cal, existing, now, overrides=overrides))))
    if any(f.code == "conflict" for o in occurrences for f in o.failures):
        occurrences = _name_conflicts(session, occurrences, room, group.id if group is not None else None, tz)

    exemption = None
    if group is not None and group_class == "registered" and group.exemption_code:
        exemption = exemptions(room).get(group.exemption_code)
    slot_label = None
    if inp.slot_code and isinstance(rules.scheme, FixedSlots):
        found = rules.scheme.find(inp.slot_code)
        if found is not None:
            slot_label = (found.name_ja, found.name_en)
    slot_count = 1
    if inp.slot_code and isinstance(rules.scheme, FixedSlots):
        found = rules.scheme.find(inp.slot_code)
        slot_count = len(getattr(found, "parts", ())) or 1
    try:
        quote = quote_fee(rules.fees, start=spans[0][1], end=spans[0][2], slot_code=inp.slot_code,
                          slot_label=slot_label, slot_count=slot_count, extras=list(inp.extras),
                          exemption=exemption)
    except UnknownExtra as exc:
        whole.append(_fail("unknown_extra", f"この部屋にない付帯設備です（{exc}）。",
                           f"This room does not offer that extra ({exc}).", "extras"))
        quote = FeeQuote(())
    return Plan(room, group, group_class, rules, tuple(occurrences), quote, tuple(whole))


def create_booking(
    session: Session, inp: BookingInput, *, actor: User | None, now: datetime,
    overrides: frozenset[str] = frozenset(),
) -> list[Booking]:
    """Create one booking or a series. Raises DomainError with every failure found.

    A series whose dates do not all pass is refused unless ``book_free_only``,
    in which case the passing dates are booked and the rest are recorded as the
    series' exceptions. A time the database refuses as taken rolls the session's
    transaction back (as the failed flush always did) before the conflict is raised.
    """
    with write_transaction(session):
        _hold_rules_still(session, inp)
        # a single booking is checked without loading the room's holds: the overlap guard of the
        # database refuses a taken time anyway, and only then are they loaded (see _refused)
        single = inp.recurrence is None
        plan = _plan(session, inp, actor=actor, now=now, overrides=overrides, holds=not single)
        if single and not _passes(plan):
            plan = plan_booking(session, inp, actor=actor, now=now, overrides=overrides)
        _raise_failures(plan, inp)
        bookable = plan.bookable

        room, rules = plan.room, plan.rules
        tz = room.facility.timezone
        series = None
        if inp.recurrence is not None:
            first_day = plan.occurrences[0].day
            series = BookingSeries(
                rrule=inp.recurrence.rrule_text(first_day), spec=inp.recurrence.to_dict(),
                exceptions=[{"date": o.day.isoformat(), "codes": [f.code for f in o.failures]}
                            for o in plan.occurrences if not o.ok],
                created_at=now,
            )
            session.add(series)
        needs_claim = rules.claim.needs_claim(plan.quote.total)
        approval = rules.requires_approval and "approval" not in overrides
        status = initial_status(approval, needs_claim)
        created: list[Booking] = []
        for occ in bookable:
            # ids rather than related objects: the room, group and actor are loaded already, and
            # setting them as relationships makes the flush process each of them (≈0.5 ms)
            booking = Booking(
                uid=f"{uuid.uuid4()}",
                room_id=room.id, group_id=plan.group.id if plan.group else None,
                booked_by_id=actor.id if actor else None,
                contact_name=inp.contact_name.strip(), contact_phone=inp.contact_phone.strip(),
                start_at=occ.start, end_at=occ.end, slot_code=inp.slot_code,
                purpose=inp.purpose.strip(), attendees=inp.attendees, status=status.value,
                group_class=plan.group_class,
                claim_deadline=rules.claim.deadline(now, occ.start, tz) if status == Status.PROVISIONAL else None,
                extras=list(inp.extras), exemption_code=plan.group.exemption_code if plan.group else None,
                fee_total=plan.quote.total, fee_breakdown=plan.quote.to_dict(),
                sequence=0, created_at=now, updated_at=now,
            )
            if series is not None:  # set only for a series: a relationship set, even to None, costs the flush
                booking.series = series
            session.add(booking)
            created.append(booking)
        try:
            session.flush()
            # the holds in one statement; the overlap guard of the database checks each row
            session.execute(_INSERT_HOLDS, [
                {"booking_id": b.id, "unit_id": u, "start_at": b.start_at, "end_at": b.end_at + rules.buffer,
                 "active": True}
                for b in created for u in sorted(rules.units)
            ])
        except DBAPIError as exc:
            # nothing of this booking may stay behind (a failed flush rolled back too; the holds'
            # statement fails on its own and leaves the booking's row in the transaction)
            session.rollback()
            if not isinstance(exc, (IntegrityError, OperationalError)) or not _is_overlap(exc):
                raise
            if single:
                raise _refused(session, inp, actor=actor, now=now, overrides=overrides) from exc
            raise DomainError(CONFLICT) from exc
        # each booking's audit event and notices are two INSERTs, run now; the lazy loads they make
        # (room, members) must not flush the session half way
        with session.no_autoflush:
            for b in created:
                audit.record(session, "booking.created", now=now, actor=actor, booking=b,
                             after=audit.booking_snapshot(b),
                             note=("override: " + ",".join(sorted(overrides))) if overrides else "")
                notify.queue(session, "booking_received", b, now=now)
        return created


def _name_conflicts(session: Session, occurrences: list[Occurrence], room: Room, group_id: int | None,
                    tz: str) -> list[Occurrence]:
    """Conflicts said the way the person booking needs them: the core names only the taken
    times. When the booking in the way is the same group's (a form sent twice, a date booked
    already) they are told so; when it holds another room sharing the space (a hall's part, or
    the whole hall), that room is named."""
    ids = {c["booking_id"] for o in occurrences for f in o.failures if f.code == "conflict"
           for c in f.details.get("conflicts", ())}
    rows = session.execute(select(Booking.id, Booking.group_id, Room.name_ja, Room.name_en, Room.id)
                           .join(Room, Room.id == Booking.room_id).where(Booking.id.in_(ids))).all()
    by_id = {r[0]: r for r in rows}
    zone = ZoneInfo(tz)
    out = []
    for o in occurrences:
        failures = []
        for f in o.failures:
            found = [by_id[c["booking_id"]] for c in f.details.get("conflicts", ()) if c["booking_id"] in by_id]
            if f.code != "conflict" or not found:
                failures.append(f)
                continue
            spans = [(datetime.fromisoformat(c["start"]), datetime.fromisoformat(c["end"]))
                     for c in f.details["conflicts"]]
            others = sorted({(name_ja, name_en) for _i, _g, name_ja, name_en, rid in found if rid != room.id})
            own = group_id is not None and any(g == group_id for _i, g, *_rest in found)
            message_ja, message_en = conflict_message(spans, zone, own_group=own, rooms=others)
            failures.append(replace(f, message_ja=message_ja, message_en=message_en,
                                    details={**f.details, "own_group": own,
                                             "rooms": [{"ja": a, "en": b} for a, b in others]}))
        out.append(replace(o, failures=tuple(failures)))
    return out


def _passes(plan: Plan) -> bool:
    return not plan.failures and bool(plan.occurrences) and all(o.ok for o in plan.occurrences)


def _raise_failures(plan: Plan, inp: BookingInput) -> None:
    """Refuse a plan that cannot be booked (as a whole, or for a date of a series that is not
    ``book_free_only``), with every failure found."""
    if plan.failures:
        raise DomainError(list(plan.failures))
    if not plan.occurrences:
        raise DomainError(_fail("slot_required", "予約する日時がありません。", "No date to book.", "slot"))
    if len(plan.occurrences) == 1:
        bad = [f for o in plan.occurrences for f in o.failures]
        if bad:
            raise DomainError(_dedupe(bad))
    elif not inp.book_free_only and any(o.failures for o in plan.occurrences):
        raise DomainError(_series_refused(plan.occurrences))
    if not plan.bookable:
        raise DomainError(_fail("nothing_bookable", "予約できる日がありません。", "None of the dates can be booked.", "recurrence"))


# what makes one date of a series fail while others pass; every other failure (capacity, a slot
# the room lacks…) is the whole request's, and every date repeats it
DATE_CODES = frozenset({"conflict", "closed", "in_past", "lead_time", "window_not_open", "outside_hours"})


def alternatives(session: Session, room: Room, rules: RoomRules, inp: BookingInput, *, now: datetime,
                 group_class: str) -> tuple[list[Alternative], list[Alternative]]:
    """What a refused request could take instead: other rooms free at the time it asked for, and
    the room's next free times (``availability.suggest_alternatives``); nothing when it named no
    time. The member's form and the desk's both offer these, each as links of its own."""
    span = _times(inp, rules, room.facility.timezone)
    if span is None or span[1] <= span[0]:
        return [], []
    return suggest_alternatives(session, room, span[0], span[1], slot_code=inp.slot_code,
                                attendees=max(inp.attendees, 1), now=now, group_class=group_class)


def alternatives_help(inp: BookingInput, codes: Sequence[str]) -> bool:
    """Whether other rooms or times are worth offering for a refused request: for one booking whose
    time or room did not work; not for a series, whose way out is booking its free dates."""
    return inp.recurrence is None and bool(set(codes) & ALTERNATIVE_CODES)


ALTERNATIVE_CODES = frozenset({
    "conflict", "closed", "over_capacity", "window_not_open", "lead_time", "in_past", "outside_hours",
    "nothing_bookable", "room_inactive",
})


def _series_refused(occurrences: Sequence[Occurrence]) -> list[RuleFailure]:
    """Why a series cannot be booked as a whole. A failure of the whole request (every date has
    it) is raised once, on its own field, as for a single booking. Failures of some dates go on the
    repeat settings: how many dates fail, then each date's reason (its code kept for the API), and
    that the free dates alone can be booked (``book_free_only``) when some are."""
    whole = _dedupe([f for o in occurrences for f in o.failures if f.code not in DATE_CODES])
    if whole:
        return whole
    refused = [o for o in occurrences if o.failures]
    total = len(occurrences)
    summary_ja = f"繰り返しの{total}日のうち{len(refused)}日は予約できません。"
    summary_en = f"{len(refused)} of the {total} dates cannot be booked."
    if len(refused) < total:
        summary_ja += "予約できる日だけを予約することもできます。"
        summary_en += " You can book only the dates that are free."
    out = [_fail("series_dates_refused", summary_ja, summary_en, "recurrence")]
    for o in refused:
        day_ja, day_en = f"{o.day.month}月{o.day.day}日", o.day.strftime("%d %b").lstrip("0")
        out += [RuleFailure(f.code, f"{day_ja}: {f.message_ja}", f"{day_en}: {f.message_en}", "recurrence", f.details)
                for f in _dedupe(o.failures)]
    return out


def _refused(
    session: Session, inp: BookingInput, *, actor: User | None, now: datetime, overrides: frozenset[str],
) -> DomainError:
    """The error for a booking the overlap guard refused: the full check's failures.

    The refused transaction has been rolled back; the check runs again in a new write
    transaction with the holds loaded, so the caller gets the same message (the taken times)
    as if they had been checked first. When the hold is gone again by then, or the guard saw
    what the check cannot (a hold from another transaction still running on PostgreSQL), it is
    the plain conflict a lost race always gave. That transaction only reads and is ended here,
    so the write lock is not held while the caller reports the conflict.
    """
    try:
        with write_transaction(session):
            plan = plan_booking(session, inp, actor=actor, now=now, overrides=overrides)
        _raise_failures(plan, inp)
    except DomainError as exc:
        return exc
    finally:
        session.rollback()
    return DomainError(CONFLICT)


def _dedupe(failures: Sequence[RuleFailure]) -> list[RuleFailure]:
    seen: dict[str, RuleFailure] = {}
    for f in failures:
        seen.setdefault(f.code, f)
    return list(seen.values())


def _is_overlap(exc: Exception) -> bool:
    """Whether the database refused the holds as taken: its overlap guard's violation, or on
    PostgreSQL a deadlock in the holds' INSERT. Two transactions inserting conflicting holds at
    the same moment each find the other's row in the exclusion constraint's index and wait for
    the other; the deadlock detector then ends one of them (SQLSTATE 40P01) rather than
    reporting the violation (23P01), and the API answered that loser with a 500. The holds'
    INSERT takes no other lock another booking could hold, so its deadlock is that race."""
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "sqlstate", None)
    if code == "40P01":
        return "occupied_units" in str(getattr(exc, "statement", "") or "")
    text = str(orig if orig is not None else exc)
    return code == "23P01" or "booking_overlap" in text or "occupied_units_no_overlap" in text


# --- lifecycle ---------------------------------------------------------------------------------


def _change(
    session: Session, booking: Booking, action: Action, *, actor: User | None, now: datetime,
    target: Status | None = None, note: str = "", notice: str | None = None, audit_note: str | None = None,
    mail_context: dict[str, Any] | None = None,
) -> Booking:
    """Apply one transition: status, iCal sequence, freed units, audit event, notification."""
    before = audit.booking_snapshot(booking)
    new = transition(booking.status, action, target)
    booking.status = new.value
    booking.sequence += 1
    booking.updated_at = now
    if not is_active(new):
        for u in booking.units:
            u.active = False
    session.flush()
    audit.record(session, f"booking.{action.value}", now=now, actor=actor, booking=booking,
                 before=before, after=audit.booking_snapshot(booking), note=note if audit_note is None else audit_note)
    if notice:
        context = {**({"note": note} if note else {}), **(mail_context or {})}
        notify.queue(session, notice, booking, now=now, context=context or None)
    return booking


def get_booking_for(session: Session, booking_id: int, user: User | None) -> Booking:
    """The booking if ``user`` may see it; NotFound otherwise (also for other groups' bookings)."""
    from .permissions import NotFound

    booking = session.get(Booking, booking_id)
    if booking is None:
        raise NotFound()
    require_view(user, booking)
    return booking


# Window and lead time were judged when the request was made; approval does not re-judge them.
RECHECK_OVERRIDES = frozenset({"window", "lead_time"})


def approval_problems(session: Session, booking: Booking, now: datetime) -> list[RuleFailure]:
    """The rules a pending request breaks if approved now (closures since, the day passed,
    a room changed, another hold on its units), by the same ``check_request`` as booking."""
    room = booking.room
    rules = rules_of(session, room)
    existing = load_occupied(session, rules.units, booking.start_at, booking.end_at + rules.buffer)
    req = BookingRequest(room.id, booking.start_at, booking.end_at, booking.attendees, booking.group_class,
                         booking.slot_code)
    return check_request(req, rules, facility_calendar(room.facility), existing, now,
                         overrides=RECHECK_OVERRIDES, ignore_booking=booking.id)


def approve(session: Session, booking: Booking, *, actor: User, now: datetime, note: str = "",
            audit_note: str | None = None) -> Booking:
    """Approve a pending request that still passes the rules now (``approval_problems``: the
    facility may have closed, or the day passed, since it was made); refused with the reasons
    otherwise. ``note`` goes to the group's mail and the audit trail; ``audit_note``, when given,
    to the trail instead (how it was approved, e.g. "bulk": nothing the group needs to read)."""
    require_staff_for(actor, booking.room.facility_id)
    with write_transaction(session, booking):
        rules = rules_of(session, booking.room)
        needs_claim = rules.claim.needs_claim(booking.fee_total)
        target = status_after_approval(needs_claim)
        transition(booking.status, Action.APPROVE, target)  # refused before anything is changed
        problems = approval_problems(session, booking, now)
        if problems:
            raise DomainError(problems)
        if target == Status.PROVISIONAL:
            booking.claim_deadline = rules.claim.deadline(now, booking.start_at, booking.room.facility.timezone)
        return _change(session, booking, Action.APPROVE, actor=actor, now=now, target=target,
                       note=note, notice="approved", audit_note=audit_note)


def reject(session: Session, booking: Booking, *, actor: User, now: datetime, reason: str) -> Booking:
    require_staff_for(actor, booking.room.facility_id)
    if not reason.strip():
        raise DomainError(_fail("reason_required", "理由を入力してください。", "Give a reason.", "reason"))
    with write_transaction(session, booking):
        transition(booking.status, Action.REJECT)  # refused before anything is changed
        booking.cancel_reason = reason.strip()
        return _change(session, booking, Action.REJECT, actor=actor, now=now, note=reason, notice="rejected")


MAX_PAYMENT = 10_000_000  # yen: far above any room's fee, well inside every integer column


def confirm(
    session: Session, booking: Booking, *, actor: User | None, now: datetime,
    amount: int | None = None, method: str = "cash", receipt: str = "", system: bool = False,
) -> Booking:
    """Record the claim/payment (staff), or auto-confirm after the deadline (``system``)."""
    if not system:
        require_staff_for(actor, booking.room.facility_id)
        if method not in PAYMENT_METHODS:
            raise DomainError(_fail("payment_method", "支払方法が正しくありません。", "Unknown payment method.", "method"))
        paid = booking.fee_total if amount is None else amount
        if not 0 <= paid <= MAX_PAYMENT:
            raise DomainError(_fail("payment_amount", "金額が正しくありません。", "Invalid amount.", "amount"))
        if method != "exempt" and paid < booking.fee_total:
            raise DomainError(_fail("payment_short", f"使用料は{booking.fee_total}円です。",
                                    f"The fee is {booking.fee_total} yen.", "amount"))
    with write_transaction(session, booking):
        transition(booking.status, Action.CONFIRM)  # refused before anything is changed
        if not system:
            booking.paid_amount = 0 if method == "exempt" else paid
            booking.payment_method = method
            booking.receipt_number = receipt.strip() or None
            booking.paid_at = now
        return _change(session, booking, Action.CONFIRM, actor=actor, now=now,
                       note="auto-confirm after claim deadline" if system else f"{method} {booking.paid_amount}",
                       notice="confirmed")


def cancellation_quote(booking: Booking, now: datetime, *, waived: bool = False) -> int:
    """The fee kept if ``booking`` is cancelled now: a share of what was paid."""
    rules = FacilityRooms(booking.room.facility.rooms).rules(booking.room)
    tz = booking.room.facility.timezone
    return cancellation_fee(booking.paid_amount or 0, local_day(booking.start_at, tz), local_day(now, tz),
                            rules.cancellation_tiers, waived=waived)


def cancel(
    session: Session, booking: Booking, *, actor: User | None, now: datetime, reason: str = "",
    closure: bool = False, reason_en: str = "",
) -> Booking:
    """Cancel by the group or by staff; ``closure`` waives the fee (facility at fault).
    ``reason_en``: the reason in English too (a closure's, which staff give in both languages),
    for the mail of a member who reads English; the booking keeps both."""
    staff = actor is not None and actor.serves(booking.room.facility_id)
    if not closure:
        require_view(actor, booking)
    reason, reason_en = reason.strip(), reason_en.strip()
    with write_transaction(session, booking):
        transition(booking.status, Action.CANCEL)  # refused before anything is changed
        booking.cancellation_fee = cancellation_quote(booking, now, waived=closure)
        booking.cancel_reason = (f"{reason} / {reason_en}" if reason_en and reason_en != reason else reason) or None
        notice = "cancelled_closure" if closure else ("cancelled_by_staff" if staff and not is_member(actor, booking.group) else "cancelled")
        return _change(session, booking, Action.CANCEL, actor=actor, now=now, note=reason, notice=notice,
                       mail_context={"note_en": reason_en} if reason_en else None)


def later_dates_to_cancel(booking: Booking) -> list[Booking]:
    """The later dates of ``booking``'s series that can still be cancelled, in date order."""
    if booking.series is None:
        return []
    return [b for b in booking.series.bookings
            if b.id != booking.id and b.start_at > booking.start_at and can(b.status, Action.CANCEL)]


def cancel_following_quote(booking: Booking, now: datetime) -> tuple[list[Booking], int]:
    """What ``cancel_following`` would cancel now besides ``booking`` (its later open dates), and
    the cancellation fees of all of them together, ``booking``'s included."""
    later = later_dates_to_cancel(booking)
    return later, sum(cancellation_quote(b, now) for b in (booking, *later))


def cancel_following(session: Session, booking: Booking, *, actor: User | None, now: datetime,
                     reason: str = "") -> list[Booking]:
    """Cancel ``booking`` and every later date of its series that can still be cancelled (a group
    stopping its weekly meetings), in one transaction: each as ``cancel`` does it alone, with its
    own fee, audit event and notice. Earlier dates, and later ones already over or cancelled, stay."""
    require_view(actor, booking)
    with write_transaction(session, booking):
        return [cancel(session, b, actor=actor, now=now, reason=reason)
                for b in (booking, *later_dates_to_cancel(booking))]


def may_check_in(booking: Booking, now: datetime) -> bool:
    """Whether ``check_in`` would accept ``booking`` now (the desk shows its button only then)."""
    return can(booking.status, Action.CHECK_IN) and \
        check_in_refused(booking.start_at, now, booking.room.facility.timezone) is None


def check_in(session: Session, booking: Booking, *, actor: User, now: datetime) -> Booking:
    require_staff_for(actor, booking.room.facility_id)
    transition(booking.status, Action.CHECK_IN)  # a move the lifecycle forbids is refused as that first
    refused = check_in_refused(booking.start_at, now, booking.room.facility.timezone)
    if refused is not None:
        raise DomainError(refused)
    with write_transaction(session, booking):
        transition(booking.status, Action.CHECK_IN)  # as it is now; refused before anything is changed
        booking.checked_in_at = now
        late = int((now - booking.start_at).total_seconds() // 60)
        booking.late_minutes = late if late > 0 else None
        return _change(session, booking, Action.CHECK_IN, actor=actor, now=now,
                       note=f"late {late} min" if late > 0 else "")


def mark_no_show(session: Session, booking: Booking, *, actor: User | None, now: datetime) -> Booking:
    """No-show frees the rest of the time: its hold ends now. Only once the booking has started."""
    if actor is not None:
        require_staff_for(actor, booking.room.facility_id)
    with write_transaction(session, booking):
        transition(booking.status, Action.NO_SHOW)  # a move the lifecycle forbids is refused as that first
        if now < booking.start_at:
            raise DomainError(_fail("not_started", "利用開始前は無断不使用にできません。",
                                    "A booking cannot be a no-show before it starts."))
        return _change(session, booking, Action.NO_SHOW, actor=actor, now=now, notice="no_show")


def release(session: Session, booking: Booking, *, now: datetime, actor: User | None = None) -> Booking:
    """Release one unclaimed provisional booking (the scheduler does it in bulk)."""
    with write_transaction(session, booking):
        return _change(session, booking, Action.RELEASE, actor=actor, now=now, notice="released")


def complete(session: Session, booking: Booking, *, now: datetime) -> Booking:
    with write_transaction(session, booking):
        return _change(session, booking, Action.COMPLETE, actor=None, now=now)


def occupied_for_room(session: Session, room: Room, start: datetime, end: datetime) -> list[Occupied]:
    rules = rules_of(session, room)
    return load_occupied(session, rules.units, start, end)


def bookings_of(session: Session, user: User, *, group_id: int | None = None,
                statuses: Sequence[str] | None = None) -> list[Booking]:
    """Bookings of every group ``user`` belongs to, optionally narrowed."""
    group_ids = [m.group_id for m in user.memberships]
    if group_id is not None:
        group_ids = [g for g in group_ids if g == group_id]
    if not group_ids:
        return []
    q = select(Booking).where(Booking.group_id.in_(group_ids))
    if statuses:
        q = q.where(Booking.status.in_(list(statuses)))
    return list(session.scalars(q.order_by(Booking.start_at)))
