"""No page answers 500, whoever asks and whatever the query string says: every GET route of the
web app, with the demo data, as each kind of user, with sensible and with nonsense parameters."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from flask import Flask

from reservations import create_app
from reservations.extensions import db
from reservations.models import BookingSeries, User
from tests.factories import NOW

NONSENSE = ["", "?date=2026-13-45", "?date=%00", "?day=yesterday", "?facility=abc", "?facility=99999",
            "?view=year&date=9999-12-31", "?month=2026-00", "?page=-1", "?page=99999999999999999999",
            "?date_from=2027-01-01&date_to=2026-01-01&capacity=-5&weekdays=9&slot=night",
            "?room=abc&date=2026-12-15&slot=nope", "?first=x&last=y&action=%27", "?next=//evil.example",
            "?date_from=9999-12-30&date_to=9999-12-31&date=9999-12-31&day=9999-12-31&month=9999-12",
            "?date=0001-01-01&day=0001-01-01&first=0001-01-01&last=9999-12-31",
            "?facility=%C2%B2&weekdays=%C2%B2&group=%C2%B2&room=%C2%B2",  # "²".isdigit() is true
            "?facility=99999999999999999999&date_from=2026-12-01&date_to=2026-12-07",
            "?room=8&date=0001-01-01&slot=evening", "?room=1&date=0001-01-01&start=10:00&end=12:00",
            # query-string names that url_for would take as its own keywords
            "?date_from=2026-12-01&date_to=2026-12-31&endpoint=x&_method=POST&_anchor=a&_scheme=javascript&_external=1"]


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Flask:
    from reservations.demo import seed

    path = tmp_path_factory.mktemp("no500") / "demo.sqlite3"
    shutil.copyfile(sqlite_template, path)
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "no-500", "TESTING": False,
        "RATELIMIT_ENABLED": False, "SMTP_HOST": None, "FIXED_NOW": NOW.isoformat(), "WTF_CSRF_ENABLED": False,
    })
    with app.app_context():
        seed(db.session(), now=NOW, progress=lambda _: None)
        db.session.commit()
        db.session.remove()
    return app


def _get_urls(app: Flask) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.endpoint == "static" or rule.rule.startswith("/api"):
            continue
        path = re.sub(r"<int:[^>]+>", "1", rule.rule)
        path = re.sub(r"<[^>]+>", "not-a-token", path)
        urls.append(path)
    return sorted(set(urls))


@pytest.mark.parametrize("email", [None, "member@example.jp", "staff@example.jp", "admin@example.jp"])
def test_no_get_route_answers_500(demo_app: Flask, email: str | None) -> None:
    client = demo_app.test_client()
    if email is not None:
        r = client.post("/login", data={"email": email, "password": "naya-demo"})
        assert r.status_code == 302
    failures = []
    for url in _get_urls(demo_app):
        if url in ("/logout",):
            continue
        for query in NONSENSE:
            r = client.get(url + query)
            if r.status_code >= 500:
                failures.append(f"{r.status_code} {url}{query}")
    assert not failures, "\n".join(failures)


def test_every_demo_booking_opens_for_its_members_and_the_desk(demo_app: Flask) -> None:
    """Each booking's own page, opened by the people who see it: its group's members (the demo's
    weekly series has a date it did not book) and the front desk."""
    from sqlalchemy import select

    from reservations.models import Booking, Membership

    with demo_app.app_context():
        pairs = db.session.execute(select(Booking.id, Membership.user_id).join(
            Membership, Membership.group_id == Booking.group_id)).all()
        emails = {u.id: u.email for u in db.session.scalars(select(User))}
        assert db.session.scalar(select(BookingSeries.id).where(BookingSeries.exceptions != "[]")) is not None
        db.session.remove()
    failures = []
    by_user: dict[int, list[int]] = {}
    for booking_id, user_id in pairs:
        by_user.setdefault(user_id, []).append(booking_id)
    for user_id, ids in [*by_user.items(), (None, sorted({b for b, _ in pairs}))]:
        client = demo_app.test_client()
        email = emails[user_id] if user_id is not None else "staff@example.jp"
        assert client.post("/login", data={"email": email, "password": "naya-demo"}).status_code == 302
        for booking_id in ids:
            url = f"/bookings/{booking_id}" if user_id is not None else f"/desk/bookings/{booking_id}"
            r = client.get(url)
            if r.status_code != 200:
                failures.append(f"{r.status_code} {email} {url}")
    assert pairs and not failures, "\n".join(failures)


EXTREME_DAYS = ["9999-12-31", "0001-01-01", "2026-02-30", "x"]
POSTS = {
    "member@example.jp": [("/book?room=1", {"room": "1", "date": "{d}", "slot": "evening", "group": "²",
                                            "purpose": "x", "attendees": "5", "repeat": "weekly",
                                            "until": "{d}", "preview": "1"}),
                          ("/book?room=1", {"room": "1", "date": "{d}", "slot": "evening", "group": "1",
                                            "purpose": "x", "attendees": "5"})],
    "staff@example.jp": [("/desk/closures", {"room_id": "0", "start_date": "{d}", "end_date": "{d}",
                                             "reason_ja": "点検"}),
                         ("/desk/closures/emergency", {"day": "{d}", "reason_ja": "警報", "expected": "0"}),
                         ("/desk/book", {"room": "1", "date": "{d}", "slot": "evening", "group": "1",
                                         "purpose": "x", "attendees": "5"})],
}


@pytest.mark.parametrize("email", list(POSTS))
def test_forms_with_extreme_dates_never_answer_500(demo_app: Flask, email: str) -> None:
    client = demo_app.test_client()
    assert client.post("/login", data={"email": email, "password": "naya-demo"}).status_code == 302
    failures = []
    for url, form in POSTS[email]:
        for d in EXTREME_DAYS:
            r = client.post(url, data={k: v.replace("{d}", d) for k, v in form.items()})
            if r.status_code >= 500:
                failures.append(f"{r.status_code} POST {url} date={d}")
    assert not failures, "\n".join(failures)


def test_api_refuses_days_outside_the_supported_range(demo_app: Flask) -> None:
    client = demo_app.test_client()
    for url in ("/api/v1/facilities/1/availability?date=9999-12-31",
                "/api/v1/rooms/1/availability?from=0001-01-01&to=0001-01-02",
                "/api/v1/search?from=9999-12-30&to=9999-12-31"):
        r = client.get(url)
        assert r.status_code == 400, url
        assert r.headers["Content-Type"].startswith("application/problem+json")


def test_admin_retry_with_a_strange_id_is_400(demo_app: Flask) -> None:
    client = demo_app.test_client()
    assert client.post("/login", data={"email": "admin@example.jp", "password": "naya-demo"}).status_code == 302
    for raw in ("²", "9" * 30, "-1"):
        assert client.post("/admin/system/mail/retry", data={"message_id": raw}).status_code == 400


@pytest.mark.parametrize("huge", ["2147483648", "9223372036854775808", "9" * 30])
def test_ids_too_large_for_an_id_column_are_404(demo_app: Flask, huge: str) -> None:
    """``<int:…>`` in any route, the API and the feeds included: a number no id column holds was an
    "integer out of range" on PostgreSQL and an overflow on SQLite; it is a plain 404."""
    client = demo_app.test_client()
    assert client.post("/login", data={"email": "admin@example.jp", "password": "naya-demo"}).status_code == 302
    paths = sorted({re.sub(r"<[^>]+>", "x", re.sub(r"<int:[^>]+>", huge, rule.rule))
                    for rule in demo_app.url_map.iter_rules()
                    if "<int:" in rule.rule and "GET" in (rule.methods or ())})
    assert len(paths) > 10
    statuses = {path: client.get(path).status_code for path in paths}
    assert set(statuses.values()) == {404}, statuses
    api = [path for path in paths if path.startswith("/api/")]
    assert api and all(client.get(path).mimetype == "application/problem+json" for path in api)
    assert client.get("/rooms/2147483647").status_code == 404  # the largest id is still an id
