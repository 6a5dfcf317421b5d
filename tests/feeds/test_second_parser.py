"""Every feed kind read by a second, independent parser: ``vobject`` (skipped when not installed;
it belongs in the test extras). The strict reader in ``rfc5545.py`` runs in every other test."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient

from reservations.extensions import db
from reservations.services import bookings as booking_service
from reservations.services import feeds as feed_service
from tests.factories import NOW, tokyo
from tests.feeds.conftest import World, book, login

vobject = pytest.importorskip("vobject")

LONG = "市民活動センターでの長い利用目的の説明、絵文字😀も含む；区切り記号, カンマ\\バックスラッシュ" * 4


def test_all_feed_kinds_parse_in_vobject(client: FlaskClient, world: World) -> None:
    day = tokyo(2026, 12, 10).date()
    a = book(world.hall, world.quiet, day, actor=world.member, purpose=LONG)
    b = book(world.small, world.public, day, actor=world.member, purpose=LONG)
    booking_service.cancel(db.session(), b, actor=world.member, now=NOW + timedelta(minutes=5))
    db.session.commit()
    group = feed_service.regenerate_token(db.session(), "group", world.member, world.quiet, now=NOW)
    personal = feed_service.regenerate_token(db.session(), "personal", world.member, now=NOW)
    db.session.commit()
    login(client, world.member)
    urls = {
        "room": f"/feeds/rooms/{world.hall.id}.ics",
        "facility": f"/feeds/facilities/{world.facility.id}.ics",
        "group": f"/feeds/private/{group}.ics",
        "personal": f"/feeds/private/{personal}.ics",
        "booking": f"/bookings/{a.id}.ics",
    }
    for kind, url in urls.items():
        r = client.get(url)
        assert r.status_code == 200, kind
        cal = vobject.readOne(r.data.decode("utf-8"), validate=True)
        events = {str(ev.uid.value): ev for ev in cal.vevent_list}
        ev = events[f"booking-{a.uid}@rooms.example.jp"]
        assert ev.dtstart.value == tokyo(2026, 12, 10, 17, 30), kind
        assert ev.dtstart.value.utcoffset() == timedelta(hours=9)
        if kind in ("group", "personal", "booking"):
            assert LONG in ev.description.value, kind
        else:
            assert not hasattr(ev, "description"), kind  # the quiet group's purpose stays private
        if kind in ("facility", "personal"):
            cancelled = events[f"booking-{b.uid}@rooms.example.jp"]
            assert cancelled.status.value == "CANCELLED" and int(cancelled.sequence.value) == 1
