"""Public reads: facilities, rooms, availability, search. No token needed."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Response
from sqlalchemy import select

from ..clock import utcnow
from ..domain.calendar import local_day
from ..extensions import db
from ..models import Facility, Room
from ..services import availability as avail
from ..services.availability import SearchFilters
from . import bp, serialize
from .auth import current
from .errors import ApiError
from .http import MAX_LIMIT, json_response, page_end, paginate
from .registry import Param, api_route, query

LIMIT = Param("limit", "integer", "Page size (1–100, default 50).", minimum=1, maximum=MAX_LIMIT)
CURSOR = Param("cursor", "string", "The `next_cursor` of the previous page.", max_length=500)
MAX_DAYS = 31
SEARCH_MAX_HITS = 1000  # pages of a search reach this far


def _group_class() -> str:
    """'registered' when the caller belongs to a registered group (earlier booking window)."""
    user = current()
    if user is None:
        return "general"
    today = local_day(utcnow(), "Asia/Tokyo")
    return "registered" if any(m.group.group_class(today) == "registered" for m in user.memberships) else "general"


def _facility_or_404(facility_id: int) -> Facility:
    f = db.session.get(Facility, facility_id)
    if f is None:
        raise ApiError(404, "not_found", "Not found", "No such facility.")
    return f


def _room_or_404(room_id: int) -> Room:
    r = db.session.get(Room, room_id)
    if r is None or not r.active:
        raise ApiError(404, "not_found", "Not found", "No such room.")
    return r


def _range(first: date, last: date, *, limit: int = MAX_DAYS) -> None:
    if last < first:
        raise ApiError(400, "invalid_parameter", "Invalid query parameter", "`to` is before `from`.",
                       errors=[{"field": "to", "code": "invalid_range", "message": "to is before from"}])
    if (last - first).days >= limit:
        raise ApiError(400, "invalid_parameter", "Invalid query parameter", f"At most {limit} days at once.",
                       errors=[{"field": "to", "code": "range_too_long", "message": f"at most {limit} days"}])


ERRORS_PUBLIC: dict[int, str | None] = {400: "Problem", 401: "Problem", 429: "Problem"}


@api_route(bp, "GET", "/facilities", summary="List facilities", tag="Facilities",
           params=(LIMIT, CURSOR), responses={200: "FacilityPage", **ERRORS_PUBLIC})
def list_facilities() -> Response:
    """Every facility with its opening hours and its rooms' ids."""
    args = query(list_facilities)
    rows = db.session.scalars(select(Facility).order_by(Facility.sort_order, Facility.id)).all()
    page, nxt = paginate(rows, args["limit"], args["cursor"])
    return json_response({"items": [serialize.facility(f) for f in page], "next_cursor": nxt})


@api_route(bp, "GET", "/facilities/<int:facility_id>", summary="One facility", tag="Facilities",
           responses={200: "Facility", 404: "Problem", **ERRORS_PUBLIC})
def get_facility(facility_id: int) -> Response:
    return json_response(serialize.facility(_facility_or_404(facility_id)))


@api_route(bp, "GET", "/rooms", summary="List rooms", tag="Rooms",
           params=(Param("facility", "integer", "Only rooms of this facility.", minimum=1),
                   Param("min_capacity", "integer", "Rooms for at least this many people.", minimum=1,
                         maximum=100000),
                   Param("equipment", "csv-str", "Comma-separated equipment every room must have."),
                   LIMIT, CURSOR),
           responses={200: "RoomPage", **ERRORS_PUBLIC})
def list_rooms() -> Response:
    """Active rooms, in facility order."""
    args = query(list_rooms)
    q = select(Room).join(Facility).where(Room.active.is_(True)).order_by(
        Facility.sort_order, Facility.id, Room.sort_order, Room.id)
    if args["facility"] is not None:
        q = q.where(Room.facility_id == args["facility"])
    if args["min_capacity"] is not None:
        q = q.where(Room.capacity >= args["min_capacity"])
    rows: list[Room] = list(db.session.scalars(q))
    if args["equipment"]:
        rows = [r for r in rows if all(e in (r.equipment or []) for e in args["equipment"])]
    page, nxt = paginate(rows, args["limit"], args["cursor"])
    return json_response({"items": [serialize.room(r) for r in page], "next_cursor": nxt})


@api_route(bp, "GET", "/rooms/<int:room_id>", summary="One room", tag="Rooms",
           responses={200: "Room", 404: "Problem", **ERRORS_PUBLIC})
def get_room(room_id: int) -> Response:
    """A room with its slots, fees and extras."""
    return json_response(serialize.room(_room_or_404(room_id)))


@api_route(bp, "GET", "/rooms/<int:room_id>/availability", summary="A room's availability", tag="Availability",
           params=(Param("from", "date", "First day (facility's zone).", required=True),
                   Param("to", "date", f"Last day, inclusive; at most {MAX_DAYS} days from `from`.",
                         required=True)),
           responses={200: "RoomAvailability", 404: "Problem", **ERRORS_PUBLIC})
def room_availability(room_id: int) -> Response:
    """Per slot (or per step of a free-time room) the state free / taken / closed / not_open /
    past; free-time rooms also list their free intervals per day."""
    args = query(room_availability)
    room = _room_or_404(room_id)
    first, last = args["from"], args["to"]
    _range(first, last)
    now = utcnow()
    tz = room.facility.timezone
    free = (room.slot_scheme or {}).get("kind") == "free"
    row = avail.room_availability(db.session(), room, first, last, now=now, group_class=_group_class(),
                                  with_free=free)
    intervals = row.free or {}
    days: list[dict[str, Any]] = []
    for d, cells in sorted(row.days.items()):
        day: dict[str, Any] = {"date": d.isoformat(), "cells": [serialize.cell(c, tz) for c in cells]}
        if free:
            day["free_intervals"] = [serialize.interval(t, tz) for t in intervals.get(d, [])]
        days.append(day)
    return json_response({"room_id": room.id, "from": first.isoformat(), "to": last.isoformat(), "days": days})


@api_route(bp, "GET", "/facilities/<int:facility_id>/availability", summary="A facility's day",
           tag="Availability",
           params=(Param("date", "date", "The day (facility's zone); default today."),),
           responses={200: "FacilityAvailability", 404: "Problem", **ERRORS_PUBLIC})
def facility_availability(facility_id: int) -> Response:
    """Every room's cells for one day: the availability grid as data."""
    args = query(facility_availability)
    facility = _facility_or_404(facility_id)
    now = utcnow()
    day = args["date"] or local_day(now, facility.timezone)
    view = avail.facility_availability(db.session(), facility, day, day, now=now, group_class=_group_class())
    return json_response({
        "facility_id": facility.id, "date": day.isoformat(),
        "rooms": [{"room_id": row.room.id, "cells": [serialize.cell(c, facility.timezone)
                                                     for c in row.days.get(day, [])]} for row in view.rows],
    })


@api_route(bp, "GET", "/search", summary="Search free room-slots", tag="Availability",
           params=(Param("from", "date", "First day; default today."),
                   Param("to", "date", f"Last day; default `from` + 6 days, at most {MAX_DAYS} days."),
                   Param("capacity", "integer", "At least this many people.", minimum=1, maximum=100000),
                   Param("equipment", "csv-str", "Comma-separated equipment."),
                   Param("facility", "csv-int", "Comma-separated facility ids.", minimum=1),
                   Param("weekdays", "csv-int", "Comma-separated weekdays, Monday = 0.", minimum=0, maximum=6),
                   Param("slot", "csv-str", "Comma-separated slot codes; free-time rooms match by time of day.",
                         enum=("morning", "afternoon", "evening", "morning_afternoon",
                               "afternoon_evening", "full_day")),
                   LIMIT, CURSOR),
           responses={200: "SearchPage", **ERRORS_PUBLIC})
def search() -> Response:
    """Free room-slots across facilities, earliest first."""
    args = query(search)
    now = utcnow()
    first = args["from"] or local_day(now, "Asia/Tokyo")
    last = args["to"] or first + timedelta(days=6)
    _range(first, last)
    filters = SearchFilters(
        first=first, last=last, min_capacity=args["capacity"] or 1, equipment=args["equipment"] or (),
        facility_ids=args["facility"] or (), weekdays=args["weekdays"] or (),
        slot_codes=args["slot"] or (), limit=min(SEARCH_MAX_HITS, page_end(args["limit"], args["cursor"])),
    )
    hits = avail.search(db.session(), filters, now=now, group_class=_group_class())
    page, nxt = paginate(hits, args["limit"], args["cursor"])
    return json_response({"items": [{
        "room_id": h.room.id, "facility_id": h.room.facility_id, "room_name_ja": h.room.name_ja,
        "room_name_en": h.room.name_en, "capacity": h.room.capacity,
        "cell": serialize.cell(h.cell, h.room.facility.timezone)} for h in page], "next_cursor": nxt})
