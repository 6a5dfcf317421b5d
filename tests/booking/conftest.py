"""Fixtures for the booking area: the clock at NOW, a small world of rooms and groups, logging in."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from reservations import create_app
from reservations.extensions import db
from reservations.models import Facility, Group, Room, User
from tests.factories import NOW, PASSWORD, make_facility, make_group, make_room, make_user

CATALOG = Path(__file__).resolve().parents[2] / "reservations" / "translations" / "booking"


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


def _fresh_login_state(app: Flask) -> None:
    """The ``app`` fixture keeps one app context pushed, so requests share ``g``: forget the cached
    user and locale before each request, as a real request would."""
    from flask import g
    from flask_babel import refresh

    @app.before_request
    def _forget_cached_user() -> None:
        g.pop("_login_user", None)
        refresh()


@pytest.fixture(autouse=True)
def _booking_app(request: pytest.FixtureRequest) -> None:
    if "app" in request.fixturenames:
        app = request.getfixturevalue("app")
        app.config["FIXED_NOW"] = NOW.isoformat()
        _fresh_login_state(app)


@pytest.fixture
def csrf_app(sqlite_template: Path, tmp_path: Path) -> Iterator[Flask]:
    path = tmp_path / "csrf.sqlite3"
    shutil.copyfile(sqlite_template, path)
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "test-secret", "TESTING": True,
        "WTF_CSRF_ENABLED": True, "RATELIMIT_ENABLED": False, "SMTP_HOST": None,
        "BASE_URL": "http://localhost", "FIXED_NOW": NOW.isoformat(),
    })
    _fresh_login_state(app)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def login(client: FlaskClient, user: User) -> None:
    """Log in through the login form when it exists, else through Flask-Login's session key."""
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
    large: Room  # 60 people, projector
    small: Room  # 12 people
    hourly: Room  # free-time room
    elsewhere: Room  # in the other facility, 40 people, projector
    member: User
    stranger: User
    staff: User
    group: Group  # registered, civic_50 exemption
    applied: Group  # applied: books as general public
    other_group: Group


HOURLY = {"kind": "free", "granularity": 30, "min_minutes": 60, "max_minutes": 480}


@pytest.fixture
def world(app: Flask) -> World:
    f = make_facility(name_ja="中部地区市民センター", name_en="Chubu Center")
    f2 = make_facility(name_ja="常磐地区市民センター", name_en="Tokiwa Center")
    large = make_room(f, name_ja="大会議室", name_en="Large Room", capacity=60, equipment=["projector", "whiteboard"],
                      sort_order=1)
    small = make_room(f, name_ja="小会議室", name_en="Small Room", capacity=12, equipment=["whiteboard"], sort_order=2)
    hourly = make_room(f, name_ja="交流スペース", name_en="Open Space", capacity=20, slot_scheme=HOURLY,
                       fee_table={"per_hour": 300}, sort_order=3)
    elsewhere = make_room(f2, name_ja="研修室", name_en="Training Room", capacity=40, equipment=["projector"])
    member = make_user(email="member@example.jp")
    stranger = make_user(email="stranger@example.jp")
    staff = make_user("staff", facilities=[f], email="staff@example.jp")
    group = make_group(member, name="まちづくりの会", exemption_code="civic_50")
    applied = make_group(member, name="準備会", status="applied")
    other = make_group(stranger, name="よその団体")
    db.session.commit()
    return World(f, f2, large, small, hourly, elsewhere, member, stranger, staff, group, applied, other)
