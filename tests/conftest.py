"""Shared fixtures.

The schema is built by the Alembic migrations, once per test session and
database kind, into a template; each test gets a fresh copy (SQLite) or a
truncated database (PostgreSQL). PostgreSQL tests run when
``RESERVATIONS_TEST_POSTGRES_URL`` is set (CI sets it) and skip otherwise.
"""

from __future__ import annotations

import os
import shutil
import smtplib
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, text

from reservations import create_app
from reservations.extensions import db

PG_URL = os.environ.get("RESERVATIONS_TEST_POSTGRES_URL")


def _migrate(app: Flask) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "test", "TESTING": True})
    _migrate(app)
    return path


def _pg_admin_url(url: str, dbname: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=dbname).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated once."""
    if not PG_URL:
        pytest.skip("RESERVATIONS_TEST_POSTGRES_URL not set")
    name = f"reservations_t{os.getpid()}"
    admin = create_engine(_pg_admin_url(PG_URL, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = _pg_admin_url(PG_URL, name)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "test", "TESTING": True})
    _migrate(app)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_pg(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = [r[0] for r in conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename != 'alembic_version'"))]
        if tables:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    engine.dispose()


def _params() -> list:
    return ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture
def db_kind() -> str:
    """SQLite unless the test is marked ``both_databases`` (then parametrized below)."""
    return "sqlite"


@pytest.fixture
def database_url(db_kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if db_kind == "postgres":
        url = request.getfixturevalue("pg_url")
        _truncate_pg(url)
        return url
    template = request.getfixturevalue("sqlite_template")
    path = tmp_path / "test.sqlite3"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret",
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "SMTP_HOST": None,
        "BASE_URL": "http://localhost",
    })
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def session(app: Flask):  # type: ignore[no-untyped-def]
    return db.session


@pytest.fixture
def client(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_client()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked ``both_databases`` run on SQLite and on PostgreSQL."""
    if "db_kind" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_databases"):
        metafunc.parametrize("db_kind", _params(), indirect=False)


@pytest.fixture(autouse=True)
def _no_outside_mail(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that would talk to a mail server other than one on this machine."""
    real_init = smtplib.SMTP.__init__

    def guarded(self, host: str = "", port: int = 0, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host and host not in ("127.0.0.1", "localhost", "::1"):
            raise AssertionError(f"test tried to reach an outside SMTP server {host}")
        return real_init(self, host, port, *args, **kwargs)

    monkeypatch.setattr(smtplib.SMTP, "__init__", guarded)
