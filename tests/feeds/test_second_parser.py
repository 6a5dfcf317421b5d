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


def test_demo_data_feeds_load_in_three_parsers(client: FlaskClient) -> None:
    """What `make run` serves: every feed kind of the demo data, read by icalendar, vobject and
    our strict RFC 5545 reader."""
    import icalendar
    from sqlalchemy import select

    from reservations.demo import seed
    from reservations.models import Facility, Room, User
    from tests.feeds import rfc5545

    assert seed(db.session(), now=NOW, progress=lambda _: None)
    db.session.commit()
    member = db.session.scalars(select(User).where(User.email == "member@example.jp")).one()
    group = member.memberships[0].group
    facility = db.session.scalars(select(Facility).where(Facility.code == "naya")).one()
    rooms = db.session.scalars(select(Room).where(Room.facility_id == facility.id)).all()
    group_token = feed_service.regenerate_token(db.session(), "group", member, group, now=NOW)
    personal_token = feed_service.regenerate_token(db.session(), "personal", member, now=NOW)
    db.session.commit()
    urls = [f"/feeds/facilities/{facility.id}.ics", f"/feeds/private/{group_token}.ics",
            f"/feeds/private/{personal_token}.ics"] + [f"/feeds/rooms/{r.id}.ics" for r in rooms]
    total = 0
    for url in urls:
        r = client.get(url)
        assert r.status_code == 200, url
        rfc5545.check_calendar(rfc5545.parse(r.data))
        ours = icalendar.Calendar.from_ical(r.data)
        theirs = vobject.readOne(r.data.decode("utf-8"), validate=True)
        n = len(getattr(theirs, "vevent_list", []))
        assert n == len(ours.walk("VEVENT")), url
        total += n
    assert total > 10  # the demo has bookings in every status
