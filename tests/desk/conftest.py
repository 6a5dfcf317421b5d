"""Fixtures for the desk area: the clock at NOW, two facilities with their staff, groups, logging in."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from reservations import create_app
from reservations.extensions import db
from reservations.models import Booking, Facility, Group, Room, User
from reservations.services import bookings as bsvc
from tests.factories import NOW, PASSWORD, make_facility, make_group, make_room, make_user

CATALOG = Path(__file__).resolve().parents[2] / "reservations" / "translations" / "desk"
TODAY = date(2026, 12, 1)  # NOW's local day, a Tuesday


@pytest.fixture(scope="session", autouse=True)
def _compiled_catalog() -> None:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    po = CATALOG / "en" / "LC_MESSAGES" / "messages.po"
    mo = po.with_suffix(".mo")
    if po.exists() and (not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime):
        with po.open("rb") as f:
            catalog = read_po(f)
        with mo.open("wb") as f:
            write_mo(f, catalog)


def fresh_login_state(app: Flask) -> None:
    """The ``app`` fixture keeps one app context pushed: forget the cached user and locale per request."""
    from flask import g
    from flask_babel import refresh

    @app.before_request
    def _forget_cached_user() -> None:
        g.pop("_login_user", None)
        refresh()


@pytest.fixture(autouse=True)
def _desk_app(request: pytest.FixtureRequest) -> None:
    if "app" in request.fixturenames:
        app = request.getfixturevalue("app")
        app.config["FIXED_NOW"] = NOW.isoformat()
        fresh_login_state(app)


@pytest.fixture
def csrf_app(sqlite_template: Path, tmp_path: Path) -> Iterator[Flask]:
    path = tmp_path / "csrf.sqlite3"
    shutil.copyfile(sqlite_template, path)
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "test-secret", "TESTING": True,
        "WTF_CSRF_ENABLED": True, "RATELIMIT_ENABLED": False, "SMTP_HOST": None,
        "BASE_URL": "http://localhost", "FIXED_NOW": NOW.isoformat(),
    })
    fresh_login_state(app)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def login(client: FlaskClient, user: User) -> None:
    """Through the login form when it exists, else through Flask-Login's session key."""
    from flask import current_app

    if "auth.login" in current_app.view_functions:
        r = client.post("/login", data={"email": user.email, "password": PASSWORD})
        assert r.status_code == 302, r.data.decode()[:500]
    else:  # pragma: no cover
        with client.session_transaction() as s:
            s["_user_id"] = user.get_id()
            s["_fresh"] = True


@dataclass
class Desk:
    facility: Facility
    other: Facility
    large: Room  # slots, 880 yen per slot
    hall: Room  # requires approval
    free: Room  # no fee, confirmed at once
    elsewhere: Room  # in the other facility
    staff: User  # serves `facility` only
    other_staff: User  # serves `other` only
    admin: User
    member: User
    group: Group
    applied: Group

    def book(self, room: Room, day: date = TODAY, slot: str = "evening", *, group: Group | None = None,
             at: datetime = NOW, attendees: int = 10, **kw: object) -> Booking:
        """A booking made by staff (window and lead time waived) through the booking service."""
        inp = bsvc.BookingInput(room_id=room.id, group_id=(group or self.group).id, day=day, slot_code=slot,
                                purpose="定例会", attendees=attendees, **kw)  # type: ignore[arg-type]
        actor = self.admin
        made = bsvc.create_booking(db.session, inp, actor=actor, now=at, overrides=frozenset({"window", "lead_time"}))
        db.session.commit()
        return made[0]


@pytest.fixture
def desk(app: Flask) -> Desk:
    f = make_facility(name_ja="中部地区市民センター", name_en="Chubu Center")
    f2 = make_facility(name_ja="常磐地区市民センター", name_en="Tokiwa Center")
    large = make_room(f, name_ja="大会議室", name_en="Large Room", capacity=60, sort_order=1)
    hall = make_room(f, name_ja="ホール", name_en="Hall", capacity=100, requires_approval=True, sort_order=2)
    free = make_room(f, name_ja="サロン", name_en="Salon", capacity=10, fee_table={"per_slot": {}},
                     claim_policy={"mode": "never"}, sort_order=3)
    elsewhere = make_room(f2, name_ja="研修室", name_en="Training Room", capacity=40)
    staff = make_user("staff", facilities=[f], email="staff@example.jp", display_name="窓口職員")
    other_staff = make_user("staff", facilities=[f2], email="staff2@example.jp")
    admin = make_user("admin", email="admin@example.jp")
    member = make_user(email="member@example.jp")
    group = make_group(member, name="まちづくりの会", exemption_code="civic_50")
    applied = make_group(member, name="準備会", status="applied")
    db.session.commit()
    return Desk(f, f2, large, hall, free, elsewhere, staff, other_staff, admin, member, group, applied)
