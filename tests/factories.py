"""Factories with sensible defaults: a district-center style facility, rooms, groups, users."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from reservations.extensions import db
from reservations.models import Facility, Group, Membership, Room, User
from reservations.passwords import hash_password

TOKYO = ZoneInfo("Asia/Tokyo")
_seq = itertools.count(1)
PASSWORD = "correct horse battery"  # noqa: S105

SLOTS = {
    "kind": "slots",
    "slots": [
        {"code": "morning", "name_ja": "午前", "name_en": "Morning", "start": "08:30", "end": "12:00"},
        {"code": "afternoon", "name_ja": "午後", "name_en": "Afternoon", "start": "13:00", "end": "17:00"},
        {"code": "evening", "name_ja": "夜間", "name_en": "Evening", "start": "17:30", "end": "21:00"},
    ],
    "joined": [
        {"code": "morning_afternoon", "name_ja": "午前・午後", "name_en": "Morning + afternoon",
         "parts": ["morning", "afternoon"]},
        {"code": "full_day", "name_ja": "全日", "name_en": "Full day", "parts": ["morning", "afternoon", "evening"]},
    ],
}
FEES = {
    "per_slot": {"morning": 880, "afternoon": 880, "evening": 880, "morning_afternoon": 1760, "full_day": 2640},
    "extras": [{"code": "aircon", "name_ja": "冷暖房", "name_en": "Air conditioning", "price": 220, "per": "slot"}],
    "exemptions": [{"code": "civic_50", "name_ja": "登録団体", "name_en": "Registered group", "percent": 50}],
}


def tokyo(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TOKYO)


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), TOKYO)


NOW = tokyo(2026, 12, 1, 10, 0).astimezone(UTC)  # a Tuesday


def make_facility(**kw: Any) -> Facility:
    n = next(_seq)
    data: dict[str, Any] = {
        "code": f"f{n}", "name_ja": f"地区市民センター{n}", "name_en": f"District Center {n}",
        "address_ja": "四日市市", "address_en": "Yokkaichi",
        "opening_hours": {str(d): ["08:30", "21:00"] for d in range(7)},
        "closed_weekdays": [], "closed_on_holidays": True, "new_year_break": True,
    }
    data.update(kw)
    f = Facility(**data)
    db.session.add(f)
    db.session.flush()
    return f


def make_room(facility: Facility, **kw: Any) -> Room:
    n = next(_seq)
    data: dict[str, Any] = {
        "code": f"r{n}", "name_ja": f"会議室{n}", "name_en": f"Room {n}", "capacity": 30,
        "slot_scheme": SLOTS, "fee_table": FEES,
        "windows": {"registered": {"months_ahead": 3}, "general": {"months_ahead": 1}},
        "claim_policy": {"mode": "if_fee", "days_after_booking": 7, "days_before_use": 3},
    }
    parts = kw.pop("parts", [])
    data.update(kw)
    r = Room(facility=facility, **data)
    r.parts = list(parts)
    db.session.add(r)
    db.session.flush()
    return r


def make_user(role: str = "member", *, facilities: list[Facility] | None = None, **kw: Any) -> User:
    n = next(_seq)
    data: dict[str, Any] = {
        "email": f"user{n}@example.jp", "display_name": f"利用者{n}", "role": role,
        "password_hash": hash_password(PASSWORD), "language": "ja", "created_at": NOW,
    }
    data.update(kw)
    u = User(**data)
    u.facilities = list(facilities or [])
    db.session.add(u)
    db.session.flush()
    return u


def make_group(*members: User, status: str = "registered", **kw: Any) -> Group:
    n = next(_seq)
    data: dict[str, Any] = {
        "name": f"団体{n}", "kind": "circle", "status": status, "contact_email": f"group{n}@example.jp",
        "created_at": NOW,
    }
    data.update(kw)
    g = Group(**data)
    db.session.add(g)
    for i, m in enumerate(members):
        db.session.add(Membership(user=m, group=g, role="representative" if i == 0 else "member"))
    db.session.flush()
    return g
