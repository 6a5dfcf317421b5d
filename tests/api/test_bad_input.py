"""Input no form would send, but a client can: refused with 400/422 before it reaches the
database, on SQLite and on PostgreSQL (whose integer and text columns refuse what SQLite takes)."""

from __future__ import annotations

import flask_babel
import pytest
from sqlalchemy import func, select

from reservations.extensions import db
from reservations.models import Booking, BookingSeries
from tests.api.conftest import World, book
from tests.api.contract import assert_problem

pytestmark = pytest.mark.both_databases


def _count() -> int:
    return db.session.scalar(select(func.count(Booking.id))) or 0


@pytest.mark.parametrize("field, value", [
    ("room_id", 2**31), ("group_id", 2**40), ("attendees", 2**31),
    ("start", "9999-12-31T10:00:00-12:00"), ("start", "0001-01-01T10:00:00+00:00"),
])
def test_numbers_and_instants_out_of_range_are_422(client, world: World, db_kind: str, field: str, value) -> None:  # type: ignore[no-untyped-def]
    extra = {"end": value, "date": None, "slot": None} if field == "start" else {}
    body = assert_problem(book(client, world, **{field: value}, **extra), 422)
    assert field in [e["field"] for e in body["errors"]]
    assert _count() == 0


def test_repeated_weekdays_are_one_rule(client, world: World, db_kind: str) -> None:  # type: ignore[no-untyped-def]
    res = book(client, world, recurrence={"freq": "weekly", "count": 3, "weekdays": [1] * 70})
    assert res.status_code == 201, res.get_json()
    assert "BYDAY=TU" in db.session.scalar(select(BookingSeries.rrule)) and _count() == 3
    bad = assert_problem(book(client, world, date="2026-12-09", recurrence={"freq": "weekly", "count": 2,
                                                                           "weekdays": [7]}), 422)
    assert "recurrence.weekdays" in [e["field"] for e in bad["errors"]]


def test_a_payment_no_one_makes_is_422(client, world: World, db_kind: str) -> None:  # type: ignore[no-untyped-def]
    booking_id = book(client, world).get_json()["booking"]["id"]
    for amount in (2**31, 2**70, -1):
        res = client.post(f"/api/v1/bookings/{booking_id}/confirm", json={"amount": amount, "method": "cash"},
                          headers=world.auth("staff"))
        assert "payment_amount" in [e["code"] for e in assert_problem(res, 422)["errors"]]
    assert db.session.get(Booking, booking_id).status == "provisional"


def test_a_nul_character_is_400_everywhere(client, world: World, db_kind: str) -> None:  # type: ignore[no-untyped-def]
    """No one types a NUL; PostgreSQL's text columns refuse it, so it was a 500 wherever it
    reached the database, before anyone logged in too."""
    assert_problem(book(client, world, purpose="a\u0000b"), 400)
    assert_problem(client.get("/api/v1/search?equipment=a%00b"), 400)
    page = client.post("/login", data={"email": "a\x00b@example.jp", "password": "x"})
    assert page.status_code == 400 and "送信内容を受け付けられませんでした" in page.get_data(as_text=True)
    flask_babel.refresh()  # the test's app context outlives the request: its locale would stick
    english = client.get("/facilities/1?date=2026-12-08&x=%00", headers={"Accept-Language": "en"})
    assert english.status_code == 400 and "The request could not be accepted" in english.get_data(as_text=True)
    assert _count() == 0


def test_shape_errors_speak_the_callers_language(client, world: World, db_kind: str) -> None:  # type: ignore[no-untyped-def]
    """The body's shape checks answer in the language asked for, as the rules' own messages do."""
    bodies = [
        {"room_id": "abc", "group_id": 0, "attendees": 2**31, "purpose": 5, "extras": "mic", "date": "2026-2-3",
         "start": "tomorrow", "recurrence": {"freq": 1, "weekdays": [9], "count": "x", "book_free_only": "y"},
         "colour": "red"},
        {"group_id": world.group.id, "slot": "evening", "purpose": "x" * 1001, "attendees": 3,
         "recurrence": ["weekly"]},
        {"room_id": world.room.id, "group_id": world.group.id, "start": "2026-12-08T10:00:00+09:00",
         "purpose": "p", "attendees": 3},
    ]
    for body in bodies:
        ja = assert_problem(client.post("/api/v1/bookings", json=body, headers={**world.auth("member"),
                                                                               "Accept-Language": "ja"}), 422)
        en = assert_problem(client.post("/api/v1/bookings", json=body, headers={**world.auth("member"),
                                                                               "Accept-Language": "en"}), 422)
        assert [e["code"] for e in ja["errors"]] == [e["code"] for e in en["errors"]]
        for e in ja["errors"]:
            assert any(ord(ch) > 0x3000 for ch in e["message"]), e  # Japanese
        for e in en["errors"]:
            assert e["message"].isascii(), e
