"""The rules a booking request must pass, each failure with its own code.

``check_request`` returns every failure at once (not just the first) so a form
can show them all. Staff may override the booking window and the lead time;
nobody can override an overlap or a closure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from .calendar import FacilityCalendar, local, local_day
from .errors import RuleFailure
from .fees import DEFAULT_CANCELLATION_TIERS, CancellationTier, FeeTable
from .slots import FixedSlots, FreeTime, SlotScheme
from .timeranges import TimeRange
from .windows import DEFAULT_WINDOWS, BookingWindow, window_for

OVERRIDABLE = frozenset({"window", "lead_time"})
MAX_BOOKING_HOURS = 14  # no booking is longer; bounds the overlap query on both sides


@dataclass(frozen=True)
class ClaimPolicy:
    """How a provisional booking becomes final (仮予約 → 本予約)."""

    mode: str = "if_fee"  # if_fee | always | never
    days_after_booking: int = 7
    days_before_use: int = 3
    on_expiry: str = "release"  # release | confirm

    def needs_claim(self, fee_total: int) -> bool:
        return self.mode == "always" or (self.mode == "if_fee" and fee_total > 0)

    def deadline(self, booked_at: datetime, start: datetime, tz: str) -> datetime:
        """The earlier of N days after booking and the end of the day M days before use.

        When that is already past (a booking made close to the day), the group
        may claim at the desk until the booking starts.
        """
        by_booking = booked_at + timedelta(days=self.days_after_booking)
        last_day = local_day(start, tz) - timedelta(days=self.days_before_use)
        by_use = local(last_day + timedelta(days=1), time(0), tz)
        deadline = min(by_booking, by_use)
        return start if deadline <= booked_at else deadline


@dataclass(frozen=True)
class RoomRules:
    room_id: int
    name_ja: str
    name_en: str
    capacity: int
    scheme: SlotScheme
    units: frozenset[int]  # leaf parts this room occupies (itself when not divisible)
    related: frozenset[int]  # this room and every room sharing a part with it
    windows: dict[str, BookingWindow] = field(default_factory=lambda: dict(DEFAULT_WINDOWS))
    min_lead_minutes: int = 0
    buffer_minutes: int = 0
    requires_approval: bool = False
    claim: ClaimPolicy = ClaimPolicy()
    checkin_required: bool = False
    checkin_grace_minutes: int = 30
    fees: FeeTable = FeeTable()
    cancellation_tiers: tuple[CancellationTier, ...] = DEFAULT_CANCELLATION_TIERS

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_ja

    @cached_property
    def buffer(self) -> timedelta:
        return timedelta(minutes=self.buffer_minutes)


@dataclass(frozen=True)
class Occupied:
    """An active booking's hold on some units, cleanup buffer included in ``end``."""

    booking_id: int
    room_id: int
    units: frozenset[int]
    start: datetime
    end: datetime


@dataclass(frozen=True)
class BookingRequest:
    room_id: int
    start: datetime
    end: datetime
    attendees: int
    group_class: str
    slot_code: str | None = None


def resolve_slot(room: RoomRules, day: date, slot_code: str, tz: str) -> tuple[datetime, datetime] | None:
    if not isinstance(room.scheme, FixedSlots):
        return None
    return room.scheme.span(day, slot_code, tz)


def find_conflicts(
    units: frozenset[int], start: datetime, end: datetime, existing: Iterable[Occupied],
    *, ignore_booking: int | None = None,
) -> list[Occupied]:
    """Active holds that share a unit with ``units`` and overlap ``[start, end)``."""
    # plain comparisons, not TimeRange objects: search calls this for every cell of a month
    return [
        o for o in existing
        if o.start < end and start < o.end and o.booking_id != ignore_booking and not units.isdisjoint(o.units)
    ]


def _f(code: str, ja: str, en: str, fld: str | None = None, **details: object) -> RuleFailure:
    return RuleFailure(code, ja, en, field=fld, details=dict(details))


def check_in_refused(start: datetime, now: datetime, tz: str) -> RuleFailure | None:
    """A group is checked in (and the key handed over) from the local day of its booking on: a
    check-in days early would mark a future booking as in use, and end the group's chance to cancel.
    Later is allowed: staff may record the day's key sheet the next morning."""
    if local_day(now, tz) < local_day(start, tz):
        return _f("checkin_not_today", "利用日より前には受付できません。", "A group cannot be checked in before the day of use.")
    return None


def check_request(
    req: BookingRequest,
    room: RoomRules,
    cal: FacilityCalendar,
    existing: Sequence[Occupied],
    now: datetime,
    *,
    overrides: frozenset[str] = frozenset(),
    ignore_booking: int | None = None,
) -> list[RuleFailure]:
    """Every rule ``req`` breaks; an empty list means it can be booked."""
    tz = cal.tz
    failures: list[RuleFailure] = []
    if req.end <= req.start:
        return [_f("invalid_time", "終了時刻は開始時刻より後にしてください。", "The end must be after the start.", "end")]
    day = local_day(req.start, tz)
    if local_day(req.end - timedelta(microseconds=1), tz) != day:
        return [_f("multi_day", "予約は1日の中で指定してください。", "A booking must stay within one day.", "end")]

    scheme = room.scheme
    if isinstance(scheme, FixedSlots):
        matched = scheme.match(req.start, req.end, tz)
        if matched is None or (req.slot_code and matched != req.slot_code):
            failures.append(_f("not_a_slot", "この部屋は決められた時間区分でのみ予約できます。",
                               "This room is booked by its fixed time slots only.", "slot"))
    elif isinstance(scheme, FreeTime):
        minutes = TimeRange(req.start, req.end).minutes
        local_start = req.start.astimezone(cal.zone)
        local_end = req.end.astimezone(cal.zone)
        g = scheme.granularity_minutes
        if (local_start.hour * 60 + local_start.minute) % g or (local_end.hour * 60 + local_end.minute) % g \
                or local_start.second or local_end.second:
            failures.append(_f("not_aligned", f"開始・終了は{g}分単位で指定してください。",
                               f"Start and end must be on {g}-minute steps.", "start"))
        if minutes < scheme.min_minutes:
            failures.append(_f("too_short", f"最短{scheme.min_minutes}分から予約できます。",
                               f"The minimum length is {scheme.min_minutes} minutes.", "end"))
        if minutes > scheme.max_minutes:
            failures.append(_f("too_long", f"最長{scheme.max_minutes}分までです。",
                               f"The maximum length is {scheme.max_minutes} minutes.", "end"))

    closed = cal.closed_reason(day, room.related)
    if closed:
        failures.append(_f("closed", f"{day:%Y年%m月%d日}は休館です（{closed.label_ja}）。",
                           f"The facility is closed on {day:%Y-%m-%d} ({closed.label_en}).", "date",
                           reason=closed.code))
    else:
        opening = cal.opening(day)
        if opening and (req.start < opening[0] or req.end > opening[1]):
            o, c = (x.astimezone(cal.zone) for x in opening)
            failures.append(_f("outside_hours", f"開館時間（{o:%H:%M}〜{c:%H:%M}）の範囲で指定してください。",
                               f"Book within opening hours ({o:%H:%M}–{c:%H:%M}).", "start"))

    if req.start <= now:
        failures.append(_f("in_past", "過去の日時は予約できません。", "That time has already passed.", "date"))
    else:
        if "lead_time" not in overrides and req.start - now < timedelta(minutes=room.min_lead_minutes):
            hours = room.min_lead_minutes / 60
            failures.append(_f("lead_time", f"利用開始の{hours:g}時間前までに予約してください。",
                               f"Book at least {hours:g} hours before the start.", "date"))
        window = window_for(room.windows, req.group_class)
        opens = window.opens_on(day)
        if "window" not in overrides and not window.is_open(day, local_day(now, tz)):
            failures.append(_f("window_not_open",
                               f"この日の受付は{opens:%Y年%m月%d日}から始まります。",
                               f"Bookings for this day open on {opens:%Y-%m-%d}.", "date",
                               opens_on=opens.isoformat()))

    if req.attendees < 1:
        failures.append(_f("attendees_invalid", "利用人数を1人以上で入力してください。",
                           "Enter at least one attendee.", "attendees"))
    elif req.attendees > room.capacity:
        failures.append(_f("over_capacity", f"定員（{room.capacity}人）を超えています。",
                           f"That is more than the room's capacity ({room.capacity}).", "attendees",
                           capacity=room.capacity))

    conflicts = find_conflicts(room.units, req.start, req.end + room.buffer, existing,
                               ignore_booking=ignore_booking)
    if conflicts:
        ja, en = conflict_message([(c.start, c.end) for c in conflicts], cal.zone)
        failures.append(_f("conflict", ja, en, "slot",
                           conflicts=[{"booking_id": c.booking_id, "room_id": c.room_id,
                                       "start": c.start.isoformat(), "end": c.end.isoformat()}
                                      for c in conflicts]))
    return failures


def conflict_message(spans: Sequence[tuple[datetime, datetime]], zone: ZoneInfo, *, own_group: bool = False,
                     rooms: Sequence[tuple[str, str]] = ()) -> tuple[str, str]:
    """What a conflict says (Japanese, English): the taken times in the facility's zone, the other
    rooms they are in (a hall's part, or the whole hall: names in both languages), and whether the
    booking in the way is the same group's own. The core knows only the times; the services add
    the rest when they know it."""
    ordered = sorted(set(spans))
    ja = "、".join(f"{s.astimezone(zone):%H:%M}〜{e.astimezone(zone):%H:%M}" for s, e in ordered)
    en = ", ".join(f"{s.astimezone(zone):%H:%M}–{e.astimezone(zone):%H:%M}" for s, e in ordered)
    if rooms:
        ja += "、" + "・".join(name_ja for name_ja, _ in rooms)
        en += ", " + ", ".join(name_en for _, name_en in rooms)
    if own_group:
        return (f"この時間は、この団体が既に予約しています（{ja}）。予約の一覧で確認できます。",
                f"Your group has already booked this time ({en}). See your bookings.")
    return f"この時間は既に予約があります（{ja}）。", f"This time is already booked ({en})."


__all__ = [
    "OVERRIDABLE", "MAX_BOOKING_HOURS", "ClaimPolicy", "RoomRules", "Occupied", "BookingRequest",
    "check_request", "conflict_message", "find_conflicts", "resolve_slot", "FreeTime", "FixedSlots",
]
