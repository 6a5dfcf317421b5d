"""JSON Schemas (OpenAPI 3.1 components) of what the API sends and accepts.

The serializers in ``serialize.py`` produce exactly these shapes; the contract
tests and the schemathesis run check responses against them.
"""

from __future__ import annotations

from typing import Any

from ..domain.availability import CellState
from ..domain.lifecycle import Status

STR = {"type": "string"}
INT = {"type": "integer"}
DATE = {"type": "string", "format": "date"}
INSTANT = {"type": "string", "format": "date-time"}
NULL_INSTANT = {"type": ["string", "null"], "format": "date-time"}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(props: dict[str, Any], *, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": props,
            "required": [k for k in props if k not in optional]}


def page_of(item: str) -> dict[str, Any]:
    return obj({"items": {"type": "array", "items": ref(item)},
                "next_cursor": {"type": ["string", "null"],
                                "description": "Pass as `cursor` for the next page; null on the last page."}})


FEE = obj({"total": INT, "lines": {"type": "array", "items": obj(
    {"code": STR, "label_ja": STR, "label_en": STR, "amount": INT})}})

SLOT = obj({"code": STR, "name_ja": STR, "name_en": STR, "start": STR, "end": STR,
            "parts": {"type": "array", "items": STR}})

SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details.",
        "properties": {
            "type": {"type": "string", "format": "uri"},
            "title": STR, "status": INT, "code": STR, "detail": STR, "instance": STR,
            "errors": {"type": "array", "items": obj(
                {"field": {"type": ["string", "null"]}, "code": STR, "message": STR})},
            "conflict": {"type": "array", "items": obj({"start": INSTANT, "end": INSTANT}),
                         "description": "The taken time ranges (409 conflict only)."},
            "alternatives": ref("Alternatives"),
        },
        "required": ["type", "title", "status", "code", "detail"],
    },
    "Alternatives": obj({
        "same_time": {"type": "array", "items": ref("Alternative")},
        "later": {"type": "array", "items": ref("Alternative")},
    }),
    "Alternative": obj({"room_id": INT, "facility_id": INT, "room_name_ja": STR, "room_name_en": STR,
                        "start": INSTANT, "end": INSTANT, "slot": {"type": ["string", "null"]},
                        "same_facility": {"type": "boolean"}}),
    "Facility": obj({
        "id": INT, "code": STR, "name_ja": STR, "name_en": STR, "address_ja": STR, "address_en": STR,
        "phone": STR, "timezone": STR,
        "opening_hours": {"type": "object", "description": "Weekday (Monday = \"0\") → [open, close]; a missing weekday is closed.",
                          "additionalProperties": {"type": "array", "items": STR}},
        "closed_weekdays": {"type": "array", "items": INT},
        "closed_on_holidays": {"type": "boolean"},
        "description_ja": STR, "description_en": STR,
        "room_ids": {"type": "array", "items": INT},
    }),
    "Room": obj({
        "id": INT, "facility_id": INT, "code": STR, "name_ja": STR, "name_en": STR, "capacity": INT,
        "floor_area": {"type": ["number", "null"]},
        "equipment": {"type": "array", "items": STR},
        "booking_unit": {"type": "string", "enum": ["slots", "free"]},
        "slots": {"type": "array", "items": SLOT, "description": "Slot rooms: the slots and joined slots."},
        "granularity_minutes": {"type": ["integer", "null"]},
        "min_minutes": {"type": ["integer", "null"]},
        "max_minutes": {"type": ["integer", "null"]},
        "fees": obj({
            "per_slot": {"type": "object", "additionalProperties": INT},
            "per_hour": {"type": ["integer", "null"]},
            "extras": {"type": "array", "items": obj(
                {"code": STR, "name_ja": STR, "name_en": STR, "price": INT, "per": STR})},
        }),
        "requires_approval": {"type": "boolean"},
        "part_ids": {"type": "array", "items": INT},
        "description_ja": STR, "description_en": STR,
    }),
    "Cell": obj({
        "room_id": INT, "date": DATE, "start": INSTANT, "end": INSTANT,
        "slot": {"type": ["string", "null"]},
        "state": {"type": "string", "enum": [s.value for s in CellState]},
        "reason_ja": STR, "reason_en": STR,
    }),
    "Interval": obj({"start": INSTANT, "end": INSTANT}),
    "RoomDay": obj({
        "date": DATE,
        "cells": {"type": "array", "items": ref("Cell")},
        "free_intervals": {"type": "array", "items": ref("Interval"),
                           "description": "Free-time rooms only: the free stretches of the day."},
    }, optional=("free_intervals",)),
    "RoomAvailability": obj({"room_id": INT, "from": DATE, "to": DATE,
                             "days": {"type": "array", "items": ref("RoomDay")}}),
    "FacilityAvailability": obj({
        "facility_id": INT, "date": DATE,
        "rooms": {"type": "array", "items": obj({"room_id": INT, "cells": {"type": "array", "items": ref("Cell")}})},
    }),
    "SearchHit": obj({"room_id": INT, "facility_id": INT, "room_name_ja": STR, "room_name_en": STR,
                      "capacity": INT, "cell": ref("Cell")}),
    "Booking": obj({
        "id": INT, "room_id": INT, "facility_id": INT, "group_id": {"type": ["integer", "null"]},
        "start": INSTANT, "end": INSTANT, "date": DATE, "slot": {"type": ["string", "null"]},
        "status": {"type": "string", "enum": [s.value for s in Status]},
        "claim_deadline": NULL_INSTANT,
        "fee": FEE,
        "purpose": STR, "attendees": INT, "extras": {"type": "array", "items": STR},
        "paid_amount": {"type": ["integer", "null"]},
        "cancellation_fee": {"type": ["integer", "null"]},
        "created_at": INSTANT, "updated_at": INSTANT,
        "series_id": {"type": ["integer", "null"]},
    }),
    "BookingCreated": obj({"booking": ref("Booking"),
                           "series": {"type": "array", "items": ref("Booking"),
                                      "description": "Every booking created (one unless `recurrence`)."}}),
    "CancelledBookings": obj({"items": {"type": "array", "items": ref("Booking"),
                                        "description": "This booking, then the later dates cancelled with it."}}),
    "Recurrence": {
        "type": "object",
        "properties": {
            "freq": {"type": "string", "enum": ["weekly", "monthly"]},
            "interval": {"type": "integer", "minimum": 1, "maximum": 12},
            "weekdays": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 6}, "maxItems": 7},
            "nth": {"type": ["integer", "null"], "enum": [1, 2, 3, 4, -1, None]},
            "until": {"type": ["string", "null"], "format": "date"},
            "count": {"type": ["integer", "null"], "minimum": 1, "maximum": 60},
            "book_free_only": {"type": "boolean"},
        },
        "required": ["freq"],
        "additionalProperties": False,
    },
    "NewBooking": {
        "type": "object",
        "description": "Either `start`+`end` (free-time rooms, or a slot's exact times) or `date`+`slot`.",
        "properties": {
            "room_id": {"type": "integer", "minimum": 1},
            "group_id": {"type": "integer", "minimum": 1},
            "start": {"type": "string", "format": "date-time"},
            "end": {"type": "string", "format": "date-time"},
            "date": {"type": "string", "format": "date"},
            "slot": {"type": "string", "minLength": 1, "maxLength": 40},
            "purpose": {"type": "string", "minLength": 1, "maxLength": 1000},
            "attendees": {"type": "integer", "minimum": 1, "maximum": 10000},
            "extras": {"type": "array", "items": {"type": "string", "maxLength": 40}, "maxItems": 10},
            "recurrence": ref("Recurrence"),
        },
        "required": ["room_id", "group_id", "purpose", "attendees"],
        "additionalProperties": False,
    },
    "Reason": {"type": "object", "properties": {"reason": {"type": "string", "maxLength": 1000}},
               "additionalProperties": False},
    "RejectBody": {"type": "object", "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 1000}},
                   "required": ["reason"], "additionalProperties": False},
    "ConfirmBody": {
        "type": "object",
        "properties": {
            "amount": {"type": "integer", "minimum": 0, "maximum": 10_000_000},
            "method": {"type": "string", "enum": ["cash", "bank_transfer", "exempt"]},
            "receipt": {"type": "string", "maxLength": 40},
        },
        "additionalProperties": False,
    },
    "Group": obj({"id": INT, "name": STR, "kind": STR, "status": STR, "role": STR,
                  "group_class": {"type": "string", "enum": ["registered", "general"]}}),
    "Me": obj({"id": INT, "email": STR, "display_name": STR, "language": STR,
               "role": {"type": "string", "enum": ["member", "staff", "admin"]},
               "facility_ids": {"type": "array", "items": INT},
               "groups": {"type": "array", "items": ref("Group")}}),
    "DeskBooking": obj({"booking": ref("Booking"), "group_name": {"type": ["string", "null"]},
                        "contact_name": STR, "room_name_ja": STR, "room_name_en": STR,
                        "checked_in_at": NULL_INSTANT}),
    "DeskToday": obj({"facility_id": INT, "date": DATE, "items": {"type": "array", "items": ref("DeskBooking")}}),
    "FacilityPage": page_of("Facility"),
    "RoomPage": page_of("Room"),
    "BookingPage": page_of("Booking"),
    "GroupPage": page_of("Group"),
    "SearchPage": page_of("SearchHit"),
}
