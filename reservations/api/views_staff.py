"""Front-desk actions for staff of the booking's facility (admins: any facility)."""

from __future__ import annotations

from typing import Any

from flask import Response
from sqlalchemy import select

from ..clock import utcnow
from ..domain.calendar import local_day
from ..extensions import db
from ..models import Booking, Facility, Room
from ..services import bookings as svc
from ..services.mapping import local_bounds
from ..services.permissions import require_staff_for
from . import bp, serialize
from .auth import require_user
from .errors import ApiError
from .http import json_body, json_response
from .registry import Param, api_route, query
from .views_bookings import _field_error, _invalid, _reason, _str, booking_for

ACTION_RESPONSES: dict[int, str | None] = {200: "Booking", 400: "Problem", 401: "Problem", 403: "Problem",
                                           404: "Problem", 409: "Problem", 415: "Problem", 422: "Problem",
                                           429: "Problem"}


def _staff_booking(booking_id: int) -> Booking:
    """The booking, when the caller serves its facility: 404 if they cannot see it, 403 if they
    can (their own group's) but are not staff there."""
    user = require_user()
    booking = booking_for(booking_id)
    require_staff_for(user, booking.room.facility_id)
    return booking


def _no_fields(data: dict[str, Any]) -> None:
    if data:
        key = sorted(data)[0]
        raise _invalid([_field_error(key, "unknown_field", "this action takes no fields")])


@api_route(bp, "POST", "/bookings/<int:booking_id>/approve", summary="Approve a pending booking",
           tag="Staff", auth="required", responses=ACTION_RESPONSES)
def approve_booking(booking_id: int) -> Response:
    """Staff: pending → provisional (a fee to claim) or confirmed."""
    require_user()
    _no_fields(json_body())
    booking = _staff_booking(booking_id)
    svc.approve(db.session(), booking, actor=require_user(), now=utcnow())
    db.session.commit()
    return json_response(serialize.booking(booking))


@api_route(bp, "POST", "/bookings/<int:booking_id>/reject", summary="Reject a pending booking",
           tag="Staff", auth="required", body="RejectBody", responses=ACTION_RESPONSES)
def reject_booking(booking_id: int) -> Response:
    """Staff: pending → rejected, with the reason the group is told."""
    require_user()
    reason = _reason(json_body(), required=True)
    booking = _staff_booking(booking_id)
    svc.reject(db.session(), booking, actor=require_user(), now=utcnow(), reason=reason)
    db.session.commit()
    return json_response(serialize.booking(booking))


@api_route(bp, "POST", "/bookings/<int:booking_id>/confirm", summary="Record the payment or claim",
           tag="Staff", auth="required", body="ConfirmBody", responses=ACTION_RESPONSES)
def confirm_booking(booking_id: int) -> Response:
    """Staff: provisional → confirmed; `amount` defaults to the fee, `method` to cash."""
    require_user()
    data = json_body()
    errs: list[dict[str, Any]] = []
    unknown = sorted(set(data) - {"amount", "method", "receipt"})
    if unknown:
        errs.append(_field_error(unknown[0], "unknown_field", "unknown field(s): " + ", ".join(unknown)))
    amount = data.get("amount")
    if amount is not None and (not isinstance(amount, int) or isinstance(amount, bool)):
        errs.append(_field_error("amount", "type", "must be an integer (yen)"))
    method = _str(data, "method", errs, 20) or "cash"
    receipt = _str(data, "receipt", errs, 40) or ""
    if errs:
        raise _invalid(errs)
    booking = _staff_booking(booking_id)
    svc.confirm(db.session(), booking, actor=require_user(), now=utcnow(), amount=amount, method=method,
                receipt=receipt)
    db.session.commit()
    return json_response(serialize.booking(booking))


@api_route(bp, "POST", "/bookings/<int:booking_id>/check-in", summary="Check a group in",
           tag="Staff", auth="required", responses=ACTION_RESPONSES)
def check_in_booking(booking_id: int) -> Response:
    """Staff: confirmed → checked_in (keys handed over); lateness is recorded. 422 `checkin_not_today`
    before the day of use."""
    require_user()
    _no_fields(json_body())
    booking = _staff_booking(booking_id)
    svc.check_in(db.session(), booking, actor=require_user(), now=utcnow())
    db.session.commit()
    return json_response(serialize.booking(booking))


@api_route(bp, "POST", "/bookings/<int:booking_id>/no-show", summary="Record a no-show",
           tag="Staff", auth="required", responses=ACTION_RESPONSES)
def no_show_booking(booking_id: int) -> Response:
    """Staff: confirmed → no_show; the rest of the time becomes free."""
    require_user()
    _no_fields(json_body())
    booking = _staff_booking(booking_id)
    svc.mark_no_show(db.session(), booking, actor=require_user(), now=utcnow())
    db.session.commit()
    return json_response(serialize.booking(booking))


@api_route(bp, "GET", "/desk/today", summary="Today's bookings at a facility", tag="Staff", auth="required",
           params=(Param("facility", "integer", "The facility (one you serve).", required=True, minimum=1),
                   Param("date", "date", "Another day than today.")),
           responses={200: "DeskToday", 400: "Problem", 401: "Problem", 403: "Problem", 404: "Problem",
                      429: "Problem"})
def desk_today() -> Response:
    """Staff: the day's active and finished bookings of a facility, by start time."""
    user = require_user()
    args = query(desk_today)
    facility = db.session.get(Facility, args["facility"])
    if facility is None:
        raise ApiError(404, "not_found", "Not found", "No such facility.")
    require_staff_for(user, facility.id)
    day = args["date"] or local_day(utcnow(), facility.timezone)
    start, end = local_bounds(day, day, facility.timezone)
    rows = db.session.scalars(
        select(Booking).join(Room).where(Room.facility_id == facility.id, Booking.start_at >= start,
                                         Booking.start_at < end).order_by(Booking.start_at, Booking.id)).all()
    return json_response({"facility_id": facility.id, "date": day.isoformat(), "items": [{
        "booking": serialize.booking(b), "group_name": b.group.name if b.group else None,
        "contact_name": b.contact_name or "", "room_name_ja": b.room.name_ja, "room_name_en": b.room.name_en,
        "checked_in_at": serialize.instant(b.checked_in_at, facility.timezone)} for b in rows]})
