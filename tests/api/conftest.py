"""A small world for the API: two facilities, slot and free-time rooms, groups, staff, tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from reservations.extensions import db
from reservations.models import Facility, Group, Room, User
from reservations.services import api_tokens
from tests.factories import NOW, make_facility, make_group, make_room, make_user

FREE = {"kind": "free", "granularity": 30, "min_minutes": 60, "max_minutes": 240}


@dataclass
class World:
    facility: Facility
    other_facility: Facility
    room: Room  # slots, 880 yen, provisional until paid
    free_room: Room  # by the half hour, free of charge
    hall: Room  # needs approval
    other_room: Room  # at the other facility
    member: User
    member2: User  # the member's fellow in group
    outsider: User  # a member of another group
    staff: User  # serves ``facility``
    other_staff: User  # serves ``other_facility`` only
    admin: User
    group: Group
    other_group: Group
    tokens: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
def world(app: Flask) -> World:
    app.config["FIXED_NOW"] = NOW.isoformat()
    facility = make_facility(sort_order=1)
    other_facility = make_facility(sort_order=2)
    room = make_room(facility, capacity=30, equipment=["projector", "whiteboard"])
    free_room = make_room(facility, capacity=10, slot_scheme=FREE, fee_table={"per_hour": 0},
                          claim_policy={"mode": "never"}, equipment=["wifi"])
    hall = make_room(facility, capacity=100, requires_approval=True)
    other_room = make_room(other_facility, capacity=20)
    member, member2, outsider = make_user(), make_user(), make_user()
    staff = make_user("staff", facilities=[facility])
    other_staff = make_user("staff", facilities=[other_facility])
    admin = make_user("admin")
    group = make_group(member, member2)
    other_group = make_group(outsider)
    tokens = {}
    for name, user in [("member", member), ("member2", member2), ("outsider", outsider), ("staff", staff),
                       ("other_staff", other_staff), ("admin", admin)]:
        _, secret = api_tokens.create_token(db.session(), user, name=name, now=NOW)
        tokens[name] = secret
    db.session.commit()
    return World(facility, other_facility, room, free_room, hall, other_room, member, member2, outsider,
                 staff, other_staff, admin, group, other_group, tokens)


def book(client: FlaskClient, world: World, who: str = "member", **overrides: Any) -> Any:
    """POST /api/v1/bookings with sensible defaults (the member's group, room, 2026-12-08 evening)."""
    body: dict[str, Any] = {"room_id": world.room.id, "group_id": world.group.id, "date": "2026-12-08",
                            "slot": "evening", "purpose": "定例会", "attendees": 10}
    body.update(overrides)
    body = {k: v for k, v in body.items() if v is not None}
    return client.post("/api/v1/bookings", json=body, headers=world.auth(who))
