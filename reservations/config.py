"""Configuration: defaults, then ``instance/config.py``, then ``RESERVATIONS_*`` variables.

Environment variables win because that is how a deployment (systemd unit,
container, CI) says what differs from the checked-in defaults without editing
files.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask


class Defaults:
    SQLALCHEMY_DATABASE_URI: str | None = None  # filled with instance/reservations.sqlite3
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {}
    BABEL_DEFAULT_LOCALE = "ja"
    BABEL_DEFAULT_TIMEZONE = "Asia/Tokyo"
    LANGUAGES = ("ja", "en")
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    # Secure cookies are switched on when BASE_URL is https:// (see load_config).
    PROXY_FIX = False  # true behind nginx etc.: trust X-Forwarded-For/-Proto/-Host from one proxy
    WTF_CSRF_TIME_LIMIT = None
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_RATE_LIMIT = "10 per minute;50 per hour"
    INVITE_RATE_LIMIT = "30 per hour"  # adding/inviting members by email, per client address
    BASE_URL = "http://127.0.0.1:5000"
    MAIL_FROM = "Naya Plaza Reservations <no-reply@naya-plaza.example.jp>"
    SMTP_HOST: str | None = None  # None: mail goes to the console sink
    SMTP_PORT = 25
    SMTP_USERNAME: str | None = None
    SMTP_PASSWORD: str | None = None
    SMTP_STARTTLS = False
    SMTP_TIMEOUT = 20
    FEED_DAYS_BACK = 30
    BOOKING_HORIZON_DAYS = 400
    REMINDER_OFFSETS_HOURS = (72, 24)  # reminders before use, hours before the start
    CLAIM_REMINDER_HOURS = 48  # reminder before a provisional booking's claim deadline
    MAIL_SINK_DIR: str | None = None  # without SMTP_HOST: mail is written here (default instance/mail)
    MAIL_BATCH_SIZE = 50  # messages per deliver-mail run
    MAIL_MAX_ATTEMPTS = 8  # then the message is "failed" (admin page / `flask mail retry`)
    MAIL_BACKOFF_MINUTES = 1  # first retry delay; doubles per attempt (1, 2, 4, 8 … minutes)
    JOB_BATCH_SIZE = 500  # bookings per UPDATE in the scheduler's jobs
    JOB_SET_BATCH_SIZE = 10000  # bookings per batch of the set-based jobs (release, no-shows, completion)
    JOB_LEASE_SECONDS = 300  # a crashed scheduler's job lease expires after this
    API_RATE_LIMIT = "600 per minute"  # API requests per client address
    # Set by tests and `jobs run --now`: an ISO instant the app treats as "now".
    FIXED_NOW: str | None = None


def _coerce(value: str) -> Any:
    """Environment values are strings; accept JSON for numbers, booleans and lists."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def _secret_key(instance: Path) -> str:
    """A random key generated once into instance/, never committed (see .gitignore)."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def load_config(app: Flask, override: dict[str, Any] | None) -> None:
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    app.config.from_object(Defaults)
    app.config.from_pyfile("config.py", silent=True)
    prefix = "RESERVATIONS_"
    for name, value in os.environ.items():
        if not name.startswith(prefix) or name.startswith("RESERVATIONS_TEST_"):
            continue
        key = name[len(prefix):]
        app.config[key] = _coerce(value)
    if override:
        app.config.update(override)
    if app.config.get("DATABASE_URL"):
        app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'reservations.sqlite3'}"
    if str(app.config.get("BASE_URL", "")).startswith("https://"):
        # served over HTTPS: cookies never travel over plain HTTP
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
    if app.config.get("PROXY_FIX"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    if not app.config.get("BABEL_TRANSLATION_DIRECTORIES"):
        # one catalog directory per area (translations/<area>/en/LC_MESSAGES/messages.po), merged by Flask-Babel
        base = Path(app.root_path) / "translations"
        areas = sorted(p for p in base.iterdir() if p.is_dir()) if base.exists() else []
        app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(str(p) for p in areas) or str(base)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(instance)
