"""Fixtures for the feeds area: the clock at NOW, rooms, groups and bookings, logging in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from reservations.extensions import db
from reservations.models import Booking, Facility, Group, Room, User
from reservations.services import bookings as booking_service
from tests.factories import NOW, PASSWORD, make_facility, make_group, make_room, make_user

CATALOG = Path(__file__).resolve().parents[2] / "reservations" / "translations" / "feeds"


@pytest.fixture(scope="session", autouse=True)
def _compiled_catalog() -> None:
    """Compile this area's catalog (what ``make translations`` does) so English pages are testable."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    po = CATALOG / "en" / "LC_MESSAGES" / "messages.po"
    mo = po.with_suffix(".mo")
    if po.exists() and (not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime):
        with po.open("rb") as f:
            catalog = read_po(f)
        with mo.open("wb") as f:
            write_mo(f, catalog)


@pytest.fixture(autouse=True)
def _feeds_app(request: pytest.FixtureRequest) -> None:
    if "app" not in request.fixturenames:
        return
    app: Flask = request.getfixturevalue("app")
    app.config["FIXED_NOW"] = NOW.isoformat()
    app.config["BASE_URL"] = "https://rooms.example.jp"

    from flask import g
    from flask_babel import refresh

    @app.before_request
    def _forget_cached_user() -> None:
        # the app fixture keeps one app context pushed, so requests share ``g``
        g.pop("_login_user", None)
        refresh()


def login(client: FlaskClient, user: User) -> None:
    from flask import current_app

    if "auth.login" in current_app.view_functions:
        r = client.post("/login", data={"email": user.email, "password": PASSWORD})
        assert r.status_code == 302, r.data.decode()[:500]
    else:  # pragma: no cover - the auth UI is built concurrently
        with client.session_transaction() as s:
            s["_user_id"] = user.get_id()
            s["_fresh"] = True


@dataclass
class World:
    facility: Facility
    other_facility: Facility
    hall: Room  # requires approval
    small: Room
    elsewhere: Room
    member: User  # in `public` and `quiet`
    member_en: User  # English, in `quiet`
    stranger: User
    staff: User
    public: Group  # shows its name and purpose in public feeds
    quiet: Group  # shows neither
    other: Group


@pytest.fixture
def world(app: Flask) -> World:
    f = make_facility(name_ja="中部地区市民センター", name_en="Chubu Center", address_ja="三重県四日市市中部1-1",
                      address_en="1-1 Chubu, Yokkaichi, Mie")
    f2 = make_facility(name_ja="常磐地区市民センター", name_en="Tokiwa Center")
    hall = make_room(f, name_ja="ホール", name_en="Hall", requires_approval=True, sort_order=1)
    small = make_room(f, name_ja="小会議室", name_en="Small Room", capacity=12, sort_order=2)
    elsewhere = make_room(f2, name_ja="研修室", name_en="Training Room")
    member = make_user(email="member@example.jp", display_name="山田花子")
    member_en = make_user(email="en@example.jp", display_name="Alice Smith", language="en")
    stranger = make_user(email="stranger@example.jp", display_name="鈴木一郎")
    staff = make_user("staff", facilities=[f], email="staff@example.jp", display_name="窓口担当")
    public = make_group(member, name="まちづくりの会", public_name=True, public_purpose=True,
                        contact_email="machi@example.jp", contact_phone="059-000-0000",
                        representative_name="山田花子")
    quiet = make_group(member, member_en, name="ひみつの会", contact_email="himitsu@example.jp",
                       contact_phone="059-111-1111", representative_name="佐藤次郎")
    other = make_group(stranger, name="よその団体")
    db.session.commit()
    return World(f, f2, hall, small, elsewhere, member, member_en, stranger, staff, public, quiet, other)


def book(room: Room, group: Group, day: date, slot: str = "evening", *, actor: User,
         purpose: str = "定例会", attendees: int = 10) -> Booking:
    inp = booking_service.BookingInput(room_id=room.id, group_id=group.id, day=day, slot_code=slot,
                                       purpose=purpose, attendees=attendees)
    created = booking_service.create_booking(db.session(), inp, actor=actor, now=NOW)
    db.session.commit()
    return created[0]
