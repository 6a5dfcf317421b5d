"""Fixtures for the scheduler's jobs: a facility, rooms with each policy, people, and settings."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from reservations.jobs.settings import JobSettings
from reservations.models import Booking, OutboxMessage
from reservations.services import bookings as svc
from tests.factories import NOW, make_facility, make_group, make_room, make_user

DAY = date(2026, 12, 8)  # a Tuesday, inside a registered group's window from NOW


@pytest.fixture
def settings(tmp_path: Path) -> JobSettings:
    return JobSettings(base_url="http://localhost", mail_dir=tmp_path / "mail")


@pytest.fixture
def world(session) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    facility = make_facility()
    room = make_room(facility)  # fee → provisional, on_expiry release
    confirm_room = make_room(facility, claim_policy={"mode": "if_fee", "days_after_booking": 7,
                                                     "days_before_use": 3, "on_expiry": "confirm"})
    checkin_room = make_room(facility, fee_table={}, checkin_required=True, checkin_grace_minutes=30)
    member = make_user(language="ja")
    member_en = make_user(language="en")
    staff = make_user("staff", facilities=[facility])
    group = make_group(member, member_en)  # member represents; bookings are made by member_en (English)
    session.commit()
    return {"facility": facility, "room": room, "confirm_room": confirm_room, "checkin_room": checkin_room,
            "member": member, "member_en": member_en, "staff": staff, "group": group}


def book(session, w: dict[str, Any], *, room: str = "room", day: date = DAY, slot: str = "evening",  # type: ignore[no-untyped-def]
         now: datetime = NOW, actor: str = "member_en") -> Booking:
    inp = svc.BookingInput(room_id=w[room].id, group_id=w["group"].id, day=day, slot_code=slot,
                           purpose="定例会", attendees=10)
    [b] = svc.create_booking(session, inp, actor=w[actor], now=now)
    session.commit()
    return b


def outbox(session, kind: str | None = None) -> list[OutboxMessage]:  # type: ignore[no-untyped-def]
    q = select(OutboxMessage).order_by(OutboxMessage.id)
    if kind:
        q = q.where(OutboxMessage.kind == kind)
    return list(session.scalars(q))
