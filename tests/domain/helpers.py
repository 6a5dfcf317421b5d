"""Building domain objects for the core's tests."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from reservations.domain.calendar import Closure, FacilityCalendar
from reservations.domain.fees import Exemption, Extra, FeeTable
from reservations.domain.rules import ClaimPolicy, Occupied, RoomRules
from reservations.domain.slots import FixedSlots, FreeTime, JoinedSlot, Slot

TZ = "Asia/Tokyo"
TOKYO = ZoneInfo(TZ)

SLOTS = FixedSlots(
    (
        Slot("morning", "午前", "Morning", time(8, 30), time(12)),
        Slot("afternoon", "午後", "Afternoon", time(13), time(17)),
        Slot("evening", "夜間", "Evening", time(17, 30), time(21)),
    ),
    (
        JoinedSlot("morning_afternoon", "午前・午後", "Morning + afternoon", ("morning", "afternoon")),
        JoinedSlot("afternoon_evening", "午後・夜間", "Afternoon + evening", ("afternoon", "evening")),
        JoinedSlot("full_day", "全日", "Full day", ("morning", "afternoon", "evening")),
    ),
)
FEES = FeeTable(
    per_slot={"morning": 880, "afternoon": 880, "evening": 880, "morning_afternoon": 1760,
              "afternoon_evening": 1760, "full_day": 2640},
    extras=(Extra("aircon", "冷暖房", "Air conditioning", 220, "slot"),
            Extra("cooking", "調理", "Cooking", 220, "booking", exemptible=False)),
)
CIVIC_50 = Exemption("civic_50", "登録団体", "Registered group", 50)
PUBLIC_100 = Exemption("public_100", "公益", "Public interest", 100)


def t(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TOKYO)


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), TOKYO)


def calendar(**kw: object) -> FacilityCalendar:
    data: dict = {
        "tz": TZ,
        "hours": {d: (time(8, 30), time(21)) for d in range(7)},
        "closed_weekdays": frozenset(),
        "closed_on_holidays": True,
        "new_year_break": True,
        "closures": (Closure(date(2026, 12, 17), date(2026, 12, 17), "点検", "Inspection"),),
    }
    data.update(kw)
    return FacilityCalendar(**data)


def room(room_id: int = 1, **kw: object) -> RoomRules:
    data: dict = {
        "room_id": room_id, "name_ja": "大会議室", "name_en": "Large room", "capacity": 30, "scheme": SLOTS,
        "units": frozenset({room_id}), "related": frozenset({room_id}), "min_lead_minutes": 60,
        "claim": ClaimPolicy(), "fees": FEES,
    }
    data.update(kw)
    return RoomRules(**data)


def hourly_room(room_id: int = 2, **kw: object) -> RoomRules:
    return room(room_id, scheme=FreeTime(30, 60, 240), **kw)


def held(booking_id: int, units: set[int], start: datetime, end: datetime, room_id: int | None = None) -> Occupied:
    return Occupied(booking_id, room_id or min(units), frozenset(units), start, end)
