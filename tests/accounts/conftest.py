"""Fixtures for account and group tests: logging in, apps with rate limiting or CSRF switched on."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from reservations import create_app
from reservations.extensions import db
from tests.factories import NOW, PASSWORD

CATALOG = Path(__file__).resolve().parents[2] / "reservations" / "translations" / "accounts"


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


@pytest.fixture
def fixed_now(app: Flask) -> None:
    """The app's clock stands at the factories' NOW."""
    app.config["FIXED_NOW"] = NOW.isoformat()


def login(client: FlaskClient, email: str, password: str = PASSWORD, next: str | None = None):  # type: ignore[no-untyped-def]
    data = {"email": email, "password": password}
    if next is not None:
        data["next"] = next
    return client.post("/login", data=data)


def _app_with(sqlite_template: Path, tmp_path: Path, **overrides: object) -> Iterator[Flask]:
    path = tmp_path / "own.sqlite3"
    shutil.copyfile(sqlite_template, path)
    config = {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "test-secret", "TESTING": True,
        "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False, "SMTP_HOST": None,
        "BASE_URL": "http://localhost", "FIXED_NOW": NOW.isoformat(),
    }
    config.update(overrides)
    app = create_app(config)
    _fresh_login_state(app)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def limited_app(sqlite_template: Path, tmp_path: Path) -> Iterator[Flask]:
    """Login rate limiting on: 3 attempts a minute."""
    yield from _app_with(sqlite_template, tmp_path, RATELIMIT_ENABLED=True,
                         RATELIMIT_STORAGE_URI="memory://", LOGIN_RATE_LIMIT="3 per minute")


@pytest.fixture
def csrf_app(sqlite_template: Path, tmp_path: Path) -> Iterator[Flask]:
    yield from _app_with(sqlite_template, tmp_path, WTF_CSRF_ENABLED=True)


def _fresh_login_state(app: Flask) -> None:
    """The ``app`` fixture keeps one app context pushed, so every request shares its ``g``, and
    Flask-Login caches the user there (and Flask-Babel the locale on the context): a second
    client would see the first one's user and language. In production each request has its own
    context; forget both before each request."""
    from flask import g
    from flask_babel import refresh

    @app.before_request
    def _forget_cached_user() -> None:
        g.pop("_login_user", None)
        refresh()


@pytest.fixture(autouse=True)
def _isolated_requests(request: pytest.FixtureRequest) -> None:
    if "app" in request.fixturenames:
        _fresh_login_state(request.getfixturevalue("app"))
