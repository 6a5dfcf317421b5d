"""Rows and domain values → the JSON shapes in ``schemas.py``.

Instants are ISO 8601 with the facility's offset; dates are the facility's
local dates. Nothing here reveals another group's name, purpose or booking id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..domain.availability import Cell
from ..domain.calendar import local_day
from ..domain.timeranges import TimeRange
from ..models import Booking, Facility, Group, Membership, Room, User
from ..services.availability import Alternative


def instant(value: datetime | None, tz: str) -> str | None:
    if value is None:
        return None
    return value.astimezone(ZoneInfo(tz)).isoformat(timespec="seconds")


def facility(f: Facility) -> dict[str, Any]:
    return {
        "id": f.id, "code": f.code, "name_ja": f.name_ja, "name_en": f.name_en,
        "address_ja": f.address_ja or "", "address_en": f.address_en or "", "phone": f.phone or "",
        "timezone": f.timezone,
        "opening_hours": {str(k): list(v) for k, v in (f.opening_hours or {}).items() if v},
        "closed_weekdays": list(f.closed_weekdays or []),
        "closed_on_holidays": bool(f.closed_on_holidays),
        "description_ja": f.description_ja or "", "description_en": f.description_en or "",
        "room_ids": [r.id for r in f.rooms if r.active],
    }


def room(r: Room) -> dict[str, Any]:
    scheme = r.slot_scheme or {}
    free = scheme.get("kind") == "free"
    slots = []
    if not free:
        for s in scheme.get("slots", []):
            slots.append({"code": s["code"], "name_ja": s["name_ja"], "name_en": s.get("name_en", s["code"]),
                          "start": s["start"], "end": s["end"], "parts": []})
        by_code = {s["code"]: s for s in scheme.get("slots", [])}
        for j in scheme.get("joined", []):
            parts = [by_code[p] for p in j.get("parts", []) if p in by_code]
            if not parts:
                continue
            slots.append({"code": j["code"], "name_ja": j["name_ja"], "name_en": j.get("name_en", j["code"]),
                          "start": parts[0]["start"], "end": parts[-1]["end"], "parts": list(j["parts"])})
    fees = r.fee_table or {}
    return {
        "id": r.id, "facility_id": r.facility_id, "code": r.code, "name_ja": r.name_ja, "name_en": r.name_en,
        "capacity": r.capacity, "floor_area": r.floor_area, "equipment": list(r.equipment or []),
        "booking_unit": "free" if free else "slots",
        "slots": slots,
        "granularity_minutes": int(scheme.get("granularity", 30)) if free else None,
        "min_minutes": int(scheme.get("min_minutes", 60)) if free else None,
        "max_minutes": int(scheme.get("max_minutes", 480)) if free else None,
        "fees": {
            "per_slot": {k: int(v) for k, v in (fees.get("per_slot") or {}).items()},
            "per_hour": int(fees["per_hour"]) if fees.get("per_hour") is not None else None,
            "extras": [{"code": e["code"], "name_ja": e["name_ja"], "name_en": e.get("name_en", e["code"]),
                        "price": int(e["price"]), "per": e.get("per", "booking")} for e in fees.get("extras", [])],
        },
        "requires_approval": bool(r.requires_approval),
        "part_ids": [p.id for p in r.parts],
        "description_ja": r.description_ja or "", "description_en": r.description_en or "",
    }


def cell(c: Cell, tz: str) -> dict[str, Any]:
    """A cell without the ids of the bookings that take it (they are other groups')."""
    return {"room_id": c.room_id, "date": c.day.isoformat(), "start": instant(c.start, tz),
            "end": instant(c.end, tz), "slot": c.slot_code, "state": c.state.value,
            "reason_ja": c.reason_ja, "reason_en": c.reason_en}


def interval(t: TimeRange, tz: str) -> dict[str, Any]:
    return {"start": instant(t.start, tz), "end": instant(t.end, tz)}


def booking(b: Booking) -> dict[str, Any]:
    tz = b.room.facility.timezone
    fee = b.fee_breakdown or {}
    return {
        "id": b.id, "room_id": b.room_id, "facility_id": b.room.facility_id, "group_id": b.group_id,
        "start": instant(b.start_at, tz), "end": instant(b.end_at, tz),
        "date": local_day(b.start_at, tz).isoformat(), "slot": b.slot_code, "status": b.status,
        "claim_deadline": instant(b.claim_deadline, tz),
        "fee": {"total": b.fee_total,
                "lines": [{"code": x["code"], "label_ja": x["label_ja"], "label_en": x["label_en"],
                           "amount": int(x["amount"])} for x in fee.get("lines", [])]},
        "purpose": b.purpose, "attendees": b.attendees, "extras": list(b.extras or []),
        "paid_amount": b.paid_amount, "cancellation_fee": b.cancellation_fee,
        "created_at": instant(b.created_at, tz), "updated_at": instant(b.updated_at, tz),
        "series_id": b.series_id,
    }


def alternative(a: Alternative) -> dict[str, Any]:
    tz = a.room.facility.timezone
    return {"room_id": a.room.id, "facility_id": a.room.facility_id, "room_name_ja": a.room.name_ja,
            "room_name_en": a.room.name_en, "start": instant(a.start, tz), "end": instant(a.end, tz),
            "slot": a.slot_code, "same_facility": a.same_facility}


def group(g: Group, role: str, today_class: str) -> dict[str, Any]:
    return {"id": g.id, "name": g.name, "kind": g.kind, "status": g.status, "role": role,
            "group_class": today_class}


def membership(m: Membership, now: datetime) -> dict[str, Any]:
    return group(m.group, m.role, m.group.group_class(local_day(now, "Asia/Tokyo")))


def me(u: User, now: datetime) -> dict[str, Any]:
    return {"id": u.id, "email": u.email, "display_name": u.display_name, "language": u.language,
            "role": u.role, "facility_ids": sorted(f.id for f in u.facilities),
            "groups": [membership(m, now) for m in sorted(u.memberships, key=lambda m: m.group_id)]}
