"""A group's bookings: create, list, read, cancel."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from flask import Response, url_for

from ..clock import parse_instant, utcnow
from ..domain.calendar import EARLIEST_DAY, LATEST_DAY, local_day
from ..domain.errors import DomainError
from ..domain.lifecycle import Status
from ..domain.recurrence import RecurrenceSpec
from ..extensions import db
from ..models import Booking, Room
from ..services import bookings as svc
from ..services.availability import suggest_alternatives
from . import bp, errors, serialize
from .auth import require_user
from .errors import ApiError
from .http import MAX_LIMIT, json_body, json_response, paginate
from .registry import MAX_INT, Param, api_route, query

AUTH_ERRORS: dict[int, str | None] = {400: "Problem", 401: "Problem", 429: "Problem"}
FIELDS = ("room_id", "group_id", "start", "end", "date", "slot", "purpose", "attendees", "extras", "recurrence")


def _field_error(fld: str, code: str, message: str) -> dict[str, Any]:
    """One bad field of a request body; ``message`` (English) in the caller's language."""
    return {"field": fld, "code": code, "message": _in_language(message)}


# what the body's shape checks say, in Japanese (the rules' own messages carry both languages)
_SHAPE_JA = {
    "is required": "必須です。",
    "must be an integer": "整数で指定してください。",
    "must be positive": "1以上で指定してください。",
    "must be a string": "文字列で指定してください。",
    "must be a date YYYY-MM-DD": "日付を YYYY-MM-DD で指定してください。",
    "must be a date from 2000-01-01 to 2099-12-31": "2000-01-01〜2099-12-31 の日付で指定してください。",
    "must be an ISO 8601 instant with an offset": "時差付きの ISO 8601 形式の日時で指定してください。",
    "must be an instant from 2000-01-01 to 2099-12-31": "2000年〜2099年の日時で指定してください。",
    "must be an object": "オブジェクトで指定してください。",
    "weekly or monthly": "weekly か monthly を指定してください。",
    "must be a list of integers (Monday = 0)": "整数の一覧で指定してください（月曜日 = 0）。",
    "each weekday from 0 (Monday) to 6 (Sunday)": "曜日は 0（月曜日）〜6（日曜日）で指定してください。",
    "must be a boolean": "true か false で指定してください。",
    "must be a list of extra codes": "付帯設備のコードの一覧（10件まで）で指定してください。",
    "give either start and end, or date and slot": "開始・終了か、日付・時間区分のどちらか一方を指定してください。",
    "start and end go together": "開始と終了は両方指定してください。",
    "date and slot go together": "日付と時間区分は両方指定してください。",
    "give start and end, or date and slot": "開始・終了か、日付・時間区分を指定してください。",
    "give a reason": "理由を入力してください。",
    "this action takes no fields": "この操作に項目は指定できません。",
    "must be an integer (yen)": "金額（円）を整数で指定してください。",
}
_SHAPE_JA_PATTERNS = (
    (re.compile(r"must be at most (\d+)"), "{0}以下で指定してください。"),
    (re.compile(r"at most (\d+) characters"), "{0}文字以内で指定してください。"),
    (re.compile(r"unknown(?: field\(s\))?: (.+)"), "不明な項目です: {0}"),
)


def _in_language(message: str) -> str:
    if errors.language() != "ja":
        return message
    if message in _SHAPE_JA:
        return _SHAPE_JA[message]
    for pattern, ja in _SHAPE_JA_PATTERNS:
        m = pattern.fullmatch(message)
        if m:
            return ja.format(*m.groups())
    return message


def _invalid(errs: list[dict[str, Any]]) -> ApiError:
    return ApiError(422, "validation_failed", "Validation failed",
                    "; ".join(f"{e['field']}: {e['message']}" for e in errs), errors=errs)


def _int(data: dict[str, Any], key: str, errs: list[dict[str, Any]], *, required: bool = True) -> int | None:
    value = data.get(key)
    if value is None:
        if required:
            errs.append(_field_error(key, "required", "is required"))
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        errs.append(_field_error(key, "type", "must be an integer"))
        return None
    if value < 1 and key != "attendees":
        errs.append(_field_error(key, "invalid", "must be positive"))
        return None
    if value > MAX_INT:  # no id or count is this large, and PostgreSQL's integer columns refuse it
        errs.append(_field_error(key, "invalid", f"must be at most {MAX_INT}"))
        return None
    return value


def _str(data: dict[str, Any], key: str, errs: list[dict[str, Any]], max_length: int = 1000) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        errs.append(_field_error(key, "type", "must be a string"))
        return None
    if len(value) > max_length:
        errs.append(_field_error(key, "too_long", f"at most {max_length} characters"))
        return None
    return value


def _date(value: Any, key: str, errs: list[dict[str, Any]]) -> date | None:
    if value is None:
        return None
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        errs.append(_field_error(key, "invalid_date", "must be a date YYYY-MM-DD"))
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        errs.append(_field_error(key, "invalid_date", "must be a date YYYY-MM-DD"))
        return None
    if not (EARLIEST_DAY <= day <= LATEST_DAY):
        errs.append(_field_error(key, "invalid_date", "must be a date from 2000-01-01 to 2099-12-31"))
        return None
    return day


def _instant(data: dict[str, Any], key: str, errs: list[dict[str, Any]]) -> datetime | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        errs.append(_field_error(key, "invalid_time", "must be an ISO 8601 instant with an offset"))
        return None
    try:
        instant = parse_instant(value)
    except (ValueError, OverflowError):
        errs.append(_field_error(key, "invalid_time", "must be an ISO 8601 instant with an offset"))
        return None
    if not (EARLIEST_DAY <= instant.astimezone(UTC).date() <= LATEST_DAY):
        errs.append(_field_error(key, "invalid_time", "must be an instant from 2000-01-01 to 2099-12-31"))
        return None
    return instant


def _recurrence(value: Any, errs: list[dict[str, Any]]) -> tuple[RecurrenceSpec | None, bool]:
    if value is None:
        return None, False
    if not isinstance(value, dict):
        errs.append(_field_error("recurrence", "type", "must be an object"))
        return None, False
    unknown = set(value) - {"freq", "interval", "weekdays", "nth", "until", "count", "book_free_only"}
    if unknown:
        errs.append(_field_error("recurrence", "unknown_field", "unknown: " + ", ".join(sorted(unknown))))
        return None, False
    ok = True
    freq = value.get("freq")
    if not isinstance(freq, str):
        errs.append(_field_error("recurrence.freq", "required", "weekly or monthly"))
        ok = False
    ints: dict[str, int | None] = {}
    for key in ("interval", "nth", "count"):
        v = value.get(key)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool)):
            errs.append(_field_error(f"recurrence.{key}", "type", "must be an integer"))
            ok = False
        ints[key] = v
    weekdays = value.get("weekdays") or []
    if not isinstance(weekdays, list) or any(not isinstance(d, int) or isinstance(d, bool) for d in weekdays):
        errs.append(_field_error("recurrence.weekdays", "type", "must be a list of integers (Monday = 0)"))
        ok = False
    elif any(not 0 <= d <= 6 for d in weekdays):
        errs.append(_field_error("recurrence.weekdays", "invalid", "each weekday from 0 (Monday) to 6 (Sunday)"))
        ok = False
    else:
        weekdays = sorted(set(weekdays))  # [0, 0, 0, …] is Mondays, and the stored rule stays short
    until = _date(value.get("until"), "recurrence.until", errs)
    if value.get("until") is not None and until is None:
        ok = False
    free_only = value.get("book_free_only", False)
    if not isinstance(free_only, bool):
        errs.append(_field_error("recurrence.book_free_only", "type", "must be a boolean"))
        ok = False
    if not ok:
        return None, False
    spec = RecurrenceSpec(freq=str(freq), interval=ints["interval"] if ints["interval"] is not None else 1,
                          weekdays=tuple(weekdays), nth=ints["nth"], until=until, count=ints["count"])
    return spec, bool(free_only)


def parse_booking(data: dict[str, Any]) -> svc.BookingInput:
    """The request body → the service's input; 422 with one entry per bad field."""
    errs: list[dict[str, Any]] = []
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        errs.append(_field_error(unknown[0], "unknown_field", "unknown field(s): " + ", ".join(unknown)))
    room_id = _int(data, "room_id", errs)
    group_id = _int(data, "group_id", errs)
    start, end = _instant(data, "start", errs), _instant(data, "end", errs)
    day = _date(data.get("date"), "date", errs)
    slot = _str(data, "slot", errs, 40)
    purpose = _str(data, "purpose", errs) or ""
    attendees = _int(data, "attendees", errs)
    extras = data.get("extras") or []
    if not isinstance(extras, list) or any(not isinstance(x, str) for x in extras) or len(extras) > 10:
        errs.append(_field_error("extras", "type", "must be a list of extra codes"))
        extras = []
    recurrence, free_only = _recurrence(data.get("recurrence"), errs)
    has_times = data.get("start") is not None or data.get("end") is not None
    has_slot = data.get("date") is not None or data.get("slot") is not None
    if has_times and has_slot:
        errs.append(_field_error("slot", "slot_or_times", "give either start and end, or date and slot"))
    elif has_times and (data.get("start") is None or data.get("end") is None):
        errs.append(_field_error("end" if data.get("end") is None else "start", "required",
                                 "start and end go together"))
    elif has_slot and (data.get("date") is None or data.get("slot") is None):
        errs.append(_field_error("slot" if data.get("slot") is None else "date", "required",
                                 "date and slot go together"))
    elif not has_times and not has_slot:
        errs.append(_field_error("slot", "slot_required", "give start and end, or date and slot"))
    if errs or room_id is None:
        raise _invalid(errs)
    return svc.BookingInput(
        room_id=room_id, group_id=group_id, day=day, slot_code=slot, start=start, end=end,
        purpose=purpose, attendees=attendees if attendees is not None else 1, extras=list(extras),
        recurrence=recurrence, book_free_only=free_only,
    )


def _conflict_extra(exc: DomainError, inp: svc.BookingInput, now: datetime, group_class: str) -> dict[str, Any]:
    """The taken time ranges and where else (or when else) the group could meet."""
    room = db.session.get(Room, inp.room_id)
    if room is None:
        return {}
    tz = room.facility.timezone
    spans: set[tuple[datetime, datetime]] = set()
    for f in exc.failures:
        for c in f.details.get("conflicts", []):
            spans.add((datetime.fromisoformat(c["start"]), datetime.fromisoformat(c["end"])))
    start, end = inp.start, inp.end
    if inp.slot_code and inp.day is not None:
        from ..services.mapping import rules_of

        rules = rules_of(db.session(), room)
        span = svc._times(inp, rules, tz)
        if span is not None:
            start, end = span
    extra: dict[str, Any] = {}
    if not spans and start is not None and end is not None:
        spans.add((start, end))  # a lost race: the requested range is the taken one
    extra["conflict"] = [{"start": serialize.instant(s, tz), "end": serialize.instant(e, tz)}
                         for s, e in sorted(spans)]
    if start is not None and end is not None and svc.alternatives_help(inp, exc.codes):
        same, later = suggest_alternatives(db.session(), room, start, end, slot_code=inp.slot_code,
                                           attendees=max(inp.attendees, 1), now=now, group_class=group_class)
        extra["alternatives"] = {"same_time": [serialize.alternative(a) for a in same],
                                 "later": [serialize.alternative(a) for a in later]}
    return extra


@api_route(bp, "POST", "/bookings", summary="Book a room", tag="Bookings", auth="required", body="NewBooking",
           responses={201: "BookingCreated", 403: "Problem", 409: "Problem", 415: "Problem", 422: "Problem",
                      **AUTH_ERRORS})
def create_booking() -> Response:
    """Book `{room_id, group_id, date, slot}` or `{room_id, group_id, start, end}` for one of your
    groups. 409 when the time is taken (with the taken range and alternatives), 422 when a rule
    fails (each with the domain's code, e.g. `window_not_open`, `over_capacity`, `closed`).
    A `recurrence` whose dates do not all pass is refused with `series_dates_refused` first, then
    each failing date's own code (field `recurrence`, no alternatives); with
    `recurrence.book_free_only` the dates that pass are booked."""
    user = require_user()
    inp = parse_booking(json_body())
    now = utcnow()
    try:
        created = svc.create_booking(db.session(), inp, actor=user, now=now)
        # the body from the rows just written, before the commit expires them and each would be
        # read back (booking, room, facility) only to be serialized
        first = created[0]
        body = {"booking": serialize.booking(first), "series": [serialize.booking(b) for b in created]}
        location = url_for("api.get_booking", booking_id=first.id)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        if "conflict" in exc.codes and not {"not_found", "forbidden"} & set(exc.codes):
            group_class = "general"
            if inp.group_id is not None:
                from ..models import Group

                g = db.session.get(Group, inp.group_id)
                if g is not None:
                    group_class = g.group_class(local_day(now, "Asia/Tokyo"))
            return errors.from_domain(exc, conflict_extra=_conflict_extra(exc, inp, now, group_class))
        raise
    return json_response(body, 201, {"Location": location})


@api_route(bp, "GET", "/bookings", summary="My groups' bookings", tag="Bookings", auth="required",
           params=(Param("status", "csv-str", "Comma-separated statuses.", enum=tuple(s.value for s in Status)),
                   Param("group_id", "integer", "Only this group's bookings.", minimum=1),
                   Param("from", "date", "Bookings on or after this day."),
                   Param("to", "date", "Bookings on or before this day."),
                   Param("limit", "integer", "Page size (1–100, default 50).", minimum=1, maximum=MAX_LIMIT),
                   Param("cursor", "string", "The `next_cursor` of the previous page.", max_length=500)),
           responses={200: "BookingPage", **AUTH_ERRORS})
def list_bookings() -> Response:
    """Bookings of every group you belong to, earliest first."""
    user = require_user()
    args = query(list_bookings)
    rows = svc.bookings_of(db.session(), user, group_id=args["group_id"], statuses=args["status"] or None)
    if args["from"] is not None:
        rows = [b for b in rows if local_day(b.start_at, b.room.facility.timezone) >= args["from"]]
    if args["to"] is not None:
        rows = [b for b in rows if local_day(b.start_at, b.room.facility.timezone) <= args["to"]]
    rows.sort(key=lambda b: (b.start_at, b.id))
    page, nxt = paginate(rows, args["limit"], args["cursor"])
    return json_response({"items": [serialize.booking(b) for b in page], "next_cursor": nxt})


def booking_for(booking_id: int) -> Booking:
    """The booking if the caller may see it; 404 otherwise (also for other groups' bookings)."""
    return svc.get_booking_for(db.session(), booking_id, require_user())


@api_route(bp, "GET", "/bookings/<int:booking_id>", summary="One booking", tag="Bookings", auth="required",
           responses={200: "Booking", 404: "Problem", **AUTH_ERRORS})
def get_booking(booking_id: int) -> Response:
    """Your group's booking (or, for staff, one at a facility you serve). 404 for anyone else's."""
    return json_response(serialize.booking(booking_for(booking_id)))


@api_route(bp, "POST", "/bookings/<int:booking_id>/cancel", summary="Cancel a booking", tag="Bookings",
           auth="required", body="Reason",
           responses={200: "Booking", 404: "Problem", 409: "Problem", 415: "Problem", 422: "Problem",
                      **AUTH_ERRORS})
def cancel_booking(booking_id: int) -> Response:
    """Cancel; a cancellation fee may apply (see `cancellation_fee`). 409 when already final."""
    user = require_user()
    reason = _reason(json_body(), required=False)
    booking = booking_for(booking_id)
    svc.cancel(db.session(), booking, actor=user, now=utcnow(), reason=reason)
    db.session.commit()
    return json_response(serialize.booking(booking))


@api_route(bp, "POST", "/bookings/<int:booking_id>/cancel-following", summary="Cancel a date and the later dates of its series",
           tag="Bookings", auth="required", body="Reason",
           responses={200: "CancelledBookings", 404: "Problem", 409: "Problem", 415: "Problem", 422: "Problem",
                      **AUTH_ERRORS})
def cancel_following(booking_id: int) -> Response:
    """Cancel this booking and every later date of its series that can still be cancelled (each
    with its own `cancellation_fee`); earlier dates stay. A booking of no series: just this one.
    409 when this booking is already final."""
    user = require_user()
    reason = _reason(json_body(), required=False)
    booking = booking_for(booking_id)
    done = svc.cancel_following(db.session(), booking, actor=user, now=utcnow(), reason=reason)
    body = {"items": [serialize.booking(b) for b in done]}
    db.session.commit()
    return json_response(body)


def _reason(data: dict[str, Any], *, required: bool) -> str:
    errs: list[dict[str, Any]] = []
    unknown = sorted(set(data) - {"reason"})
    if unknown:
        errs.append(_field_error(unknown[0], "unknown_field", "unknown field(s): " + ", ".join(unknown)))
    reason = _str(data, "reason", errs) or ""
    if required and not reason.strip() and not errs:
        errs.append(_field_error("reason", "reason_required", "give a reason"))
    if errs:
        raise _invalid(errs)
    return reason
