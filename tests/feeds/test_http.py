"""Feeds over HTTP: headers, conditional GET, privacy, lifecycle changes, tokens, downloads, logs."""

from __future__ import annotations

import hashlib
import logging
import threading
import urllib.error
import urllib.request
from datetime import timedelta

import icalendar
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select

from reservations import database
from reservations.extensions import db
from reservations.models import Booking, FeedToken, Membership
from reservations.services import bookings as booking_service
from reservations.services import feeds as feed_service
from tests.factories import NOW, tokyo
from tests.feeds import rfc5545
from tests.feeds.conftest import World, book, login

DAY = tokyo(2026, 12, 10).date()  # a Thursday inside the registered window


def _get(client: FlaskClient, url: str, **headers: str):  # type: ignore[no-untyped-def]
    return client.get(url, headers=headers)


def _events(data: bytes) -> dict[str, rfc5545.Component]:
    cal = rfc5545.parse(data)
    icalendar.Calendar.from_ical(data)  # the second parser must accept it too
    return {ev.value("UID"): ev for ev in cal.components("VEVENT")}


def _uid(b: Booking) -> str:
    return f"booking-{b.uid}@rooms.example.jp"


def _token(kind: str, world: World, group=None, user=None) -> str:  # type: ignore[no-untyped-def]
    secret = feed_service.regenerate_token(db.session(), kind, user or world.member, group, now=NOW)
    db.session.commit()
    return secret


def test_public_room_feed_headers_and_content(client: FlaskClient, world: World) -> None:
    b = book(world.small, world.public, DAY, actor=world.member, purpose="子ども食堂の準備")
    r = client.get(f"/feeds/rooms/{world.small.id}.ics")  # no Accept header, no cookie
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert r.headers["Cache-Control"] == "public, max-age=3600"
    assert r.headers["ETag"] and r.headers["Last-Modified"]
    events = _events(r.data)
    ev = events[_uid(b)]
    assert ev.text("SUMMARY") == "まちづくりの会 — 小会議室"
    assert ev.text("DESCRIPTION") == "子ども食堂の準備"
    assert ev.value("STATUS") == "TENTATIVE"  # provisional: a fee to pay
    assert rfc5545.event_time(rfc5545.parse(r.data), ev, "DTSTART") == tokyo(2026, 12, 10, 17, 30)
    head = client.head(f"/feeds/rooms/{world.small.id}.ics")
    assert head.status_code == 200 and head.headers["ETag"] == r.headers["ETag"]
    en = _events(client.get(f"/feeds/rooms/{world.small.id}.ics?lang=en").data)[_uid(b)]
    assert en.text("SUMMARY") == "まちづくりの会 — Small Room"
    assert client.get("/feeds/rooms/99999.ics").status_code == 404


def test_public_feeds_carry_no_personal_data(client: FlaskClient, world: World) -> None:
    secret = book(world.hall, world.quiet, DAY, actor=world.member, purpose="秘密の相談")
    shown = book(world.small, world.public, DAY, actor=world.member, purpose="公開の講座")
    for url in (f"/feeds/rooms/{world.hall.id}.ics", f"/feeds/facilities/{world.facility.id}.ics",
                f"/feeds/facilities/{world.facility.id}.ics?lang=en"):
        data = client.get(url).data
        text = "\n".join(ev.text("SUMMARY") + ev.text("LOCATION") + (ev.text("DESCRIPTION") if ev.all("DESCRIPTION") else "")
                         for ev in _events(data).values())
        for private in ("ひみつの会", "秘密の相談", "山田花子", "Alice", "佐藤次郎", "member@example.jp",
                        "himitsu@example.jp", "059-111-1111", "machi@example.jp", "059-000-0000", "/bookings/"):
            assert private not in text, (url, private)
            assert private.encode() not in data, (url, private)
        assert _uid(secret) in _events(data)
    facility = _events(client.get(f"/feeds/facilities/{world.facility.id}.ics").data)
    assert set(facility) == {_uid(secret), _uid(shown)}
    assert facility[_uid(secret)].text("SUMMARY") == "予約済み (Booked) — ホール"
    assert facility[_uid(shown)].text("DESCRIPTION") == "公開の講座"
    assert _events(client.get(f"/feeds/facilities/{world.other_facility.id}.ics").data) == {}


def test_uid_stable_sequence_rises_and_cancel_stays_as_cancelled(client: FlaskClient, world: World) -> None:
    b = book(world.hall, world.quiet, DAY, actor=world.member)
    uid = _uid(b)
    url = f"/feeds/rooms/{world.hall.id}.ics"
    seen: list[tuple[str, int]] = []

    def snapshot() -> None:
        ev = _events(client.get(url).data)[uid]
        seen.append((ev.value("STATUS"), int(ev.value("SEQUENCE"))))

    snapshot()
    booking_service.approve(db.session(), b, actor=world.staff, now=NOW + timedelta(minutes=1))
    db.session.commit()
    snapshot()
    booking_service.confirm(db.session(), b, actor=world.staff, now=NOW + timedelta(minutes=2), method="cash")
    db.session.commit()
    snapshot()
    booking_service.cancel(db.session(), b, actor=world.member, now=NOW + timedelta(minutes=3), reason="中止")
    db.session.commit()
    snapshot()
    assert [s for s, _ in seen] == ["TENTATIVE", "TENTATIVE", "CONFIRMED", "CANCELLED"]
    sequences = [n for _, n in seen]
    assert sequences == sorted(set(sequences)) and sequences[0] == 0
    # the private feed shows the same UID and SEQUENCE
    ev = _events(client.get(f"/feeds/private/{_token('group', world, world.quiet)}.ics").data)[uid]
    assert (ev.value("STATUS"), int(ev.value("SEQUENCE"))) == seen[-1]
    assert ev.text("SUMMARY").startswith("[取消]")


def test_released_booking_is_cancelled_in_feeds(client: FlaskClient, world: World) -> None:
    b = book(world.small, world.quiet, DAY, actor=world.member)
    assert b.status == "provisional"
    booking_service.release(db.session(), b, now=NOW + timedelta(days=1))
    db.session.commit()
    for url in (f"/feeds/rooms/{world.small.id}.ics", f"/feeds/private/{_token('personal', world)}.ics"):
        ev = _events(client.get(url).data)[_uid(b)]
        assert ev.value("STATUS") == "CANCELLED" and ev.value("SEQUENCE") == "1"


def test_conditional_get_answers_304_without_building(client: FlaskClient, world: World,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    b = book(world.small, world.quiet, DAY, actor=world.member)
    url = f"/feeds/rooms/{world.small.id}.ics"
    first = client.get(url)
    etag, last_modified = first.headers["ETag"], first.headers["Last-Modified"]

    def explode(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the feed was built for a 304")

    monkeypatch.setattr(feed_service, "load_bookings", explode)
    r = _get(client, url, **{"If-None-Match": etag})
    assert r.status_code == 304 and r.data == b"" and r.headers["ETag"] == etag
    assert r.headers["Cache-Control"] == "public, max-age=3600"
    r = _get(client, url, **{"If-Modified-Since": last_modified})
    assert r.status_code == 304
    monkeypatch.undo()
    # stale validators: a full answer
    assert _get(client, url, **{"If-None-Match": '"other"'}).status_code == 200
    assert _get(client, url, **{"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}).status_code == 200
    # a change gives a new ETag and a later Last-Modified; the old validators no longer match
    booking_service.cancel(db.session(), b, actor=world.member, now=NOW + timedelta(hours=2))
    db.session.commit()
    again = _get(client, url, **{"If-None-Match": etag})
    assert again.status_code == 200 and again.headers["ETag"] != etag
    assert _get(client, url, **{"If-Modified-Since": last_modified}).status_code == 200
    # the same data gives the same bytes and validators
    assert client.get(url).data == again.data


def test_window_moves_with_the_clock(app: Flask, client: FlaskClient, world: World) -> None:
    b = book(world.small, world.quiet, DAY, actor=world.member)
    url = f"/feeds/rooms/{world.small.id}.ics"
    app.config["FIXED_NOW"] = tokyo(2027, 1, 8, 12).isoformat()  # 29 days after
    assert _uid(b) in _events(client.get(url).data)
    app.config["FIXED_NOW"] = tokyo(2027, 1, 10, 12).isoformat()  # 31 days after
    assert _uid(b) not in _events(client.get(url).data)
    app.config["FIXED_NOW"] = tokyo(2025, 11, 1, 12).isoformat()  # beyond a 30-day horizon
    app.config["BOOKING_HORIZON_DAYS"] = 30
    assert _uid(b) not in _events(client.get(url).data)


def test_private_group_and_personal_feeds(client: FlaskClient, world: World) -> None:
    mine = book(world.hall, world.quiet, DAY, actor=world.member, purpose="理事会")
    public = book(world.small, world.public, DAY, actor=world.member)
    theirs = book(world.elsewhere, world.other, DAY, actor=world.stranger, purpose="よその話")
    group_secret = _token("group", world, world.quiet)
    r = client.get(f"/feeds/private/{group_secret}.ics")
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert r.headers["Cache-Control"] == "private, max-age=3600"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    events = _events(r.data)
    assert set(events) == {_uid(mine)}
    ev = events[_uid(mine)]
    assert "理事会" in ev.text("DESCRIPTION") and "三重県四日市市中部1-1" in ev.text("LOCATION")
    assert ev.value("URL") == f"https://rooms.example.jp/bookings/{mine.id}"
    assert "手続き期限" not in ev.text("DESCRIPTION")  # pending: no deadline yet
    assert rfc5545.parse(r.data).text("X-WR-CALNAME") == "ひみつの会の予約"
    personal = _events(client.get(f"/feeds/private/{_token('personal', world)}.ics").data)
    assert set(personal) == {_uid(mine), _uid(public)}
    assert _uid(theirs) not in personal
    # the English member's personal feed speaks English and shows only her group
    en_data = client.get(f"/feeds/private/{_token('personal', world, user=world.member_en)}.ics").data
    en = _events(en_data)
    assert set(en) == {_uid(mine)} and en[_uid(mine)].text("SUMMARY").startswith("[Pending approval] Hall")
    assert rfc5545.parse(en_data).text("X-WR-CALNAME") == "My groups' bookings"


def test_tokens_are_hashed_revocable_and_die_with_membership(client: FlaskClient, world: World) -> None:
    secret = _token("group", world, world.quiet)
    assert len(secret) >= 43  # 32 random bytes
    row = db.session.scalars(select(FeedToken)).one()
    assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in repr(vars(row))
    url = f"/feeds/private/{secret}.ics"
    assert client.get(url).status_code == 200
    newer = _token("group", world, world.quiet)  # regenerate: the old link dies
    r = client.get(url)
    assert r.status_code == 404 and r.headers["Content-Type"].startswith("text/plain")
    assert "Location" not in r.headers
    assert client.get(f"/feeds/private/{newer}.ics").status_code == 200
    # another member's token for the same group is independent
    hers = _token("group", world, world.quiet, user=world.member_en)
    assert feed_service.revoke_token(db.session(), "group", world.member, world.quiet, now=NOW)
    db.session.commit()
    assert client.get(f"/feeds/private/{newer}.ics").status_code == 404
    assert client.get(f"/feeds/private/{hers}.ics").status_code == 200
    # leaving the group ends her link
    m = db.session.scalars(select(Membership).where(Membership.user_id == world.member_en.id,
                                                    Membership.group_id == world.quiet.id)).one()
    db.session.delete(m)
    db.session.commit()
    assert client.get(f"/feeds/private/{hers}.ics").status_code == 404
    assert client.get("/feeds/private/" + "x" * 43 + ".ics").status_code == 404
    assert client.get("/feeds/private/short.ics").status_code == 404
    with pytest.raises(feed_service.NotFound):
        feed_service.regenerate_token(db.session(), "group", world.stranger, world.quiet, now=NOW)


def test_url_helpers_create_once(world: World) -> None:
    assert feed_service.public_room_feed_url(world.hall) == f"https://rooms.example.jp/feeds/rooms/{world.hall.id}.ics"
    assert feed_service.public_facility_feed_url(world.facility) == \
        f"https://rooms.example.jp/feeds/facilities/{world.facility.id}.ics"
    first = feed_service.group_feed_url(db.session(), world.quiet, NOW, user=world.member)
    assert first is not None and first.startswith("https://rooms.example.jp/feeds/private/")
    assert feed_service.group_feed_url(db.session(), world.quiet, NOW, user=world.member) is None
    assert feed_service.personal_feed_url(db.session(), world.member, NOW) is not None
    assert feed_service.personal_feed_url(db.session(), world.member, NOW) is None


def test_loading_is_one_query_and_building_needs_none(app: Flask, world: World) -> None:
    for day in (DAY, DAY + timedelta(days=7), DAY + timedelta(days=14)):
        book(world.small, world.quiet, day, actor=world.member)
        book(world.hall, world.public, day, actor=world.member)
    db.session.expire_all()
    statements: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    scope = feed_service.facility_scope(world.facility)
    window = feed_service.feed_window(NOW, days_back=30, horizon_days=400)
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        rows = feed_service.load_bookings(db.session(), scope, window)
        assert len(rows) == 6 and len(statements) == 2  # the bookings, then their rooms
        from reservations.feeds import FeedInfo, build_feed

        build_feed(rows, FeedInfo("x"), private=True, language="ja", base_url="https://rooms.example.jp")
        build_feed(rows, FeedInfo("x"), private=False, language="both", base_url="https://rooms.example.jp")
        assert len(statements) == 2
        stamp = feed_service.feed_stamp(db.session(), scope, window)
        assert len(statements) == 3
        # one (room, newest updated_at, its id) per room of the facility
        assert [k for k, _, _ in stamp.newest] == sorted(r.id for r in world.facility.rooms)
        assert stamp.max_updated == NOW
        assert max(i or 0 for _, _, i in stamp.newest) == max(b.id for b in rows)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def test_booking_ics_download(client: FlaskClient, world: World) -> None:
    b = book(world.hall, world.quiet, DAY, actor=world.member, purpose="理事会")
    url = f"/bookings/{b.id}.ics"
    login(client, world.member)
    r = client.get(url)
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert "attachment" in r.headers["Content-Disposition"]
    [ev] = _events(r.data).values()
    assert ev.value("UID") == _uid(b) and "理事会" in ev.text("DESCRIPTION")
    client.post("/logout") if "auth.logout" in client.application.view_functions else None
    stranger = client.application.test_client()
    login(stranger, world.stranger)
    assert stranger.get(url).status_code == 404
    staff = client.application.test_client()
    login(staff, world.staff)
    assert staff.get(url).status_code == 200
    anonymous = client.application.test_client()
    assert anonymous.get(url).status_code in (302, 401)


def test_werkzeug_request_log_masks_private_tokens(app: Flask, world: World, caplog: pytest.LogCaptureFixture,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from werkzeug.serving import make_server

    # alembic's fileConfig (the migrations run by the fixtures) disables existing loggers
    monkeypatch.setattr(logging.getLogger("werkzeug"), "disabled", False)

    secret = _token("personal", world)
    app.config["FIXED_NOW"] = NOW.isoformat()
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    caplog.set_level(logging.INFO, logger="werkzeug")
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        with urllib.request.urlopen(f"{base}/feeds/private/{secret}.ics", timeout=10) as resp:  # noqa: S310
            assert resp.status == 200
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{base}/feeds/private/{secret[::-1]}.ics?x=1", timeout=10)  # noqa: S310
    finally:
        server.shutdown()
        thread.join(5)
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any("/feeds/private/***.ics" in line for line in lines), lines
    assert not any(secret in line or secret[::-1] in line for line in lines), lines
    assert not any(secret in r.getMessage() for r in caplog.records)


def test_etag_changes_for_every_change_a_feed_shows(client: FlaskClient, world: World) -> None:
    """The validators read only the newest (updated_at, id) per room or group: a booking added at
    the very same clock reading, a change in another room of the facility, and a change of one of
    a member's groups must still give new ETags to the feeds that show them."""
    group_secret = _token("group", world, world.quiet)
    personal_secret = _token("personal", world)
    urls = {
        "room": f"/feeds/rooms/{world.small.id}.ics",
        "facility": f"/feeds/facilities/{world.facility.id}.ics",
        "group": f"/feeds/private/{group_secret}.ics",
        "personal": f"/feeds/private/{personal_secret}.ics",
        "elsewhere": f"/feeds/rooms/{world.elsewhere.id}.ics",
    }

    def etags() -> dict[str, str]:
        return {k: client.get(u).headers["ETag"] for k, u in urls.items()}

    before = etags()
    first = book(world.small, world.quiet, DAY, actor=world.member)  # the same NOW as every other change
    after_first = etags()
    assert {k for k in urls if after_first[k] != before[k]} == {"room", "facility", "group", "personal"}
    book(world.small, world.quiet, DAY + timedelta(days=7), actor=world.member)  # same clock again
    after_second = etags()
    assert {k for k in urls if after_second[k] != after_first[k]} == {"room", "facility", "group", "personal"}
    book(world.hall, world.public, DAY, actor=world.member)  # other room, other group, same facility
    after_hall = etags()
    assert {k for k in urls if after_hall[k] != after_second[k]} == {"facility", "personal"}
    booking_service.cancel(db.session(), first, actor=world.member, now=NOW + timedelta(minutes=5))
    db.session.commit()
    after_cancel = etags()
    assert {k for k in urls if after_cancel[k] != after_hall[k]} == {"room", "facility", "group", "personal"}
    assert etags() == after_cancel  # nothing changed: the same validators


def test_room_feed_validators_read_no_bookings(app: Flask, client: FlaskClient, world: World,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A 304 is one statement of index probes, not a scan of the room's bookings: the number of
    statements does not grow with the bookings the feed holds. (The statement runs on the driver
    directly, ``database.read_rows``, which engine events do not see: counted there too.)"""
    url = f"/feeds/rooms/{world.small.id}.ics"
    direct: list[str] = []
    run = database._run

    def counted(dbapi, dialect, statement, params):  # type: ignore[no-untyped-def]
        direct.append(str(statement))
        return run(dbapi, dialect, statement, params)

    monkeypatch.setattr(database, "_run", counted)

    def statements_for_304() -> int:
        etag = client.get(url).headers["ETag"]
        seen: list[str] = []

        def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
            if statement.strip().upper() not in ("BEGIN", "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"):
                seen.append(statement)

        direct.clear()
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert _get(client, url, **{"If-None-Match": etag}).status_code == 304
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        seen.extend(direct)
        assert not any("count(" in s.lower() for s in seen)
        return len(seen)

    few = statements_for_304()
    for day, slot in ((DAY, "morning"), (DAY, "afternoon"), (DAY + timedelta(days=7), "evening"),
                      (DAY + timedelta(days=14), "evening")):
        book(world.small, world.quiet, day, slot, actor=world.member)
    assert statements_for_304() == few == 1  # names, related rooms and validators: one statement


@pytest.mark.both_databases
def test_room_feed_without_orm_matches_room_scope(app: Flask, world: World) -> None:
    """The feed reads a room's related rooms and validators as plain rows of one statement; it
    must agree with the ORM path (``FacilityRooms``) and with ``feed_stamp`` for nested divisible
    rooms: hall = A + (B = B1 + B2), and a lone room; and read the same on a connection of its own
    as inside the session's transaction."""
    from reservations.services.mapping import FacilityRooms
    from tests.factories import make_room

    a = make_room(world.facility, name_ja="A")
    b1 = make_room(world.facility, name_ja="B1")
    b2 = make_room(world.facility, name_ja="B2")
    b = make_room(world.facility, name_ja="B", parts=[b1, b2])
    whole = make_room(world.facility, name_ja="全体", parts=[a, b])
    db.session.commit()
    book(b1, world.quiet, DAY, actor=world.member)
    book(world.small, world.quiet, DAY, actor=world.member)
    # rooms and facilities saved at different times, so the newest saved place of each feed differs
    for i, place in enumerate((b2, a, world.facility, whole, world.other_facility)):
        place.updated_at = NOW - timedelta(days=10 - i)
    db.session.commit()
    window = feed_service.feed_window(NOW, days_back=30, horizon_days=400)
    for room in (a, b, b1, b2, whole, world.small, world.hall, world.elsewhere):
        feed = feed_service.room_feed(db.session(), room.id)
        assert feed is not None
        assert feed.scope.room_ids == FacilityRooms(room.facility.rooms).related(room)
        assert (feed.names.name_ja, feed.names.facility_ja) == (room.name_ja, room.facility.name_ja)
        assert feed.stamp == feed_service.feed_stamp(db.session(), feed.scope, window)
    assert feed_service.room_feed(db.session(), b1.id).scope.room_ids == {b1.id, b.id, whole.id}  # type: ignore[union-attr]
    assert feed_service.room_feed(db.session(), a.id).scope.room_ids == {a.id, whole.id}  # type: ignore[union-attr]
    assert feed_service.room_feed(db.session(), 999_999) is None
    # a feed's newest saved place: its related rooms' and its facility's, no other room's
    places = {r: feed_service.room_feed(db.session(), r.id).stamp.places for r in (world.small, b2, world.elsewhere)}  # type: ignore[union-attr]
    assert places == {world.small: NOW - timedelta(days=8), b2: NOW - timedelta(days=7),
                      world.elsewhere: NOW - timedelta(days=6)}
    db.session.commit()
    assert not db.session().in_transaction()
    outside = feed_service.room_feed(db.session(), whole.id)  # a pooled connection of its own
    db.session.execute(select(1))
    assert db.session().in_transaction()
    assert feed_service.room_feed(db.session(), whole.id) == outside  # the session's connection


def test_room_feed_etag_changes_with_every_name_it_shows(client: FlaskClient, world: World) -> None:
    """A part's feed shows the whole hall's bookings by the hall's name, every event the facility's
    name, and its times in the facility's zone: changing any of them must change the ETag, even
    though no booking changed. A room the feed does not show (and an address, which a public feed
    does not show) leaves it alone."""
    from tests.factories import make_room

    part = make_room(world.facility, name_ja="第1会議室A")
    whole = make_room(world.facility, name_ja="第1会議室（全体）", parts=[part])
    db.session.commit()
    book(whole, world.quiet, DAY, actor=world.member)
    url = f"/feeds/rooms/{part.id}.ics"
    seen = [client.get(url).headers["ETag"]]
    for change in (lambda: setattr(whole, "name_ja", "第1会議室（全室）"),
                   lambda: setattr(whole, "name_en", "Meeting Room 1 (whole)"),
                   lambda: setattr(world.facility, "name_en", "Chubu Civic Center"),
                   lambda: setattr(world.facility, "timezone", "Asia/Seoul"),
                   lambda: setattr(world.hall, "name_ja", "同じ施設の別の部屋"),
                   lambda: setattr(world.facility, "address_ja", "三重県四日市市別の住所1-1")):
        change()
        db.session.commit()
        seen.append(client.get(url).headers["ETag"])
    assert len(set(seen[:5])) == 5  # each shown name, and the zone: a new ETag
    assert seen[5] == seen[4] and seen[6] == seen[4]  # what the feed does not show: the same
    assert "三重県四日市市別の住所" not in client.get(url).get_data(as_text=True)


def test_facility_feed_etag_changes_when_a_room_is_renamed(client: FlaskClient, world: World) -> None:
    book(world.small, world.quiet, DAY, actor=world.member)
    url = f"/feeds/facilities/{world.facility.id}.ics"
    before = client.get(url).headers["ETag"]
    assert client.get(url).headers["ETag"] == before
    world.hall.name_en = "Main Hall (renovated)"
    db.session.commit()
    after = client.get(url)
    assert after.headers["ETag"] != before
    assert _get(client, url, **{"If-None-Match": before}).status_code == 200
    assert _get(client, url, **{"If-None-Match": after.headers["ETag"]}).status_code == 304


@pytest.mark.both_databases
def test_an_admin_saving_a_room_or_facility_refreshes_every_feed_naming_it(client: FlaskClient,
                                                                           world: World) -> None:
    """A private feed shows room and facility names and the address, and cannot know which rooms
    without reading its bookings: saving any room or facility changes its ETag and moves its
    Last-Modified on, so a client sending either validator gets the new body. A public feed moves
    with the rooms and the facility it names only."""
    from dataclasses import replace
    from email.utils import parsedate_to_datetime

    from reservations.services import admin_config
    from tests.factories import make_user

    admin = make_user("admin")
    book(world.hall, world.quiet, DAY, actor=world.member)
    book(world.elsewhere, world.other, DAY, actor=world.stranger)
    db.session.commit()
    urls = {"group": f"/feeds/private/{_token('group', world, world.quiet)}.ics",
            "personal": f"/feeds/private/{_token('personal', world)}.ics",
            "hall": f"/feeds/rooms/{world.hall.id}.ics",
            "facility": f"/feeds/facilities/{world.facility.id}.ics",
            "other facility": f"/feeds/facilities/{world.other_facility.id}.ics"}

    def validators() -> dict[str, tuple[str, str]]:
        out = {}
        for name, url in urls.items():
            r = client.get(url)
            assert r.status_code == 200, name
            out[name] = (r.headers["ETag"], r.headers["Last-Modified"])
        return out

    def changed(before: dict[str, tuple[str, str]], after: dict[str, tuple[str, str]]) -> set[str]:
        moved = set()
        for name in urls:
            if after[name] != before[name]:
                assert after[name][0] != before[name][0], name
                assert parsedate_to_datetime(after[name][1]) > parsedate_to_datetime(before[name][1]), name
                old_etag, old_modified = before[name]
                assert _get(client, urls[name], **{"If-None-Match": old_etag}).status_code == 200, name
                assert _get(client, urls[name], **{"If-Modified-Since": old_modified}).status_code == 200, name
                moved.add(name)
        return moved

    first = validators()
    assert validators() == first  # nothing saved: the same validators
    room_data = replace(admin_config.RoomData.of(world.hall), name_ja="多目的ホール（改装後）")
    admin_config.save_room(db.session(), world.facility, room_data, actor=admin, now=NOW + timedelta(days=1),
                           room=world.hall)
    db.session.commit()
    second = validators()
    assert changed(first, second) == {"group", "personal", "hall", "facility"}
    assert "多目的ホール（改装後）" in client.get(urls["group"]).get_data(as_text=True)

    facility_data = replace(admin_config.FacilityData.of(world.other_facility), address_ja="四日市市新しい住所2-2")
    admin_config.save_facility(db.session(), facility_data, actor=admin, now=NOW + timedelta(days=2),
                               facility=world.other_facility)
    db.session.commit()
    third = validators()
    # the member's feeds show no booking there, but cannot tell without reading them
    assert changed(second, third) == {"group", "personal", "other facility"}


@pytest.mark.both_databases
def test_a_part_dropped_from_a_whole_room_gets_a_newer_last_modified(client: FlaskClient, world: World) -> None:
    """Part B's feed shows the whole hall's bookings while B is part of it. When an admin takes B out
    of the hall, those events leave B's feed: its Last-Modified must still move on (the hall's
    bookings no longer count towards it), or a client sending only If-Modified-Since keeps them."""
    from dataclasses import replace
    from email.utils import parsedate_to_datetime

    from reservations.services import admin_config
    from tests.factories import make_room, make_user

    admin = make_user("admin")
    a = make_room(world.facility, name_ja="A")
    b = make_room(world.facility, name_ja="B")
    whole = make_room(world.facility, name_ja="AB", parts=[a, b])
    db.session.commit()
    hall_booking = book(whole, world.quiet, DAY, actor=world.member)
    url = f"/feeds/rooms/{b.id}.ics"
    before = client.get(url)
    assert _uid(hall_booking) in _events(before.data)
    admin_config.save_room(db.session(), world.facility, replace(admin_config.RoomData.of(whole), part_ids=[a.id]),
                           actor=admin, now=NOW + timedelta(hours=1), room=whole)
    db.session.commit()
    after = client.get(url)
    assert _uid(hall_booking) not in _events(after.data)
    assert parsedate_to_datetime(after.headers["Last-Modified"]) > parsedate_to_datetime(before.headers["Last-Modified"])
    assert _get(client, url, **{"If-Modified-Since": before.headers["Last-Modified"]}).status_code == 200
    assert _get(client, url, **{"If-None-Match": before.headers["ETag"]}).status_code == 200


@pytest.mark.both_databases
def test_a_group_showing_its_name_refreshes_the_public_feeds(client: FlaskClient, world: World) -> None:
    """A public feed shows a group's name only if the group allows it. When the representative
    changes that, the public feeds it has bookings in must change their ETag and Last-Modified (a
    public feed cannot tell which groups it shows without its bookings, so every public feed moves).
    When the desk renames the group, its members' personal feeds, which show it, move too."""
    from email.utils import parsedate_to_datetime

    from reservations.services import groups as group_service
    from reservations.services import registrations

    booking = book(world.small, world.quiet, DAY, actor=world.member)
    private = f"/feeds/private/{_token('personal', world)}.ics"
    public = (f"/feeds/rooms/{world.small.id}.ics", f"/feeds/facilities/{world.facility.id}.ics")
    before = {url: client.get(url) for url in (*public, private)}
    for url in public:
        assert "ひみつの会" not in _events(before[url].data)[_uid(booking)].text("SUMMARY")
    shown = group_service.details_of(world.quiet)
    shown.public_name = True
    group_service.update_details(db.session(), world.quiet, world.member, shown, now=NOW + timedelta(days=1))
    db.session.commit()
    for url in public:
        after = client.get(url)
        assert "ひみつの会" in _events(after.data)[_uid(booking)].text("SUMMARY")
        assert after.headers["ETag"] != before[url].headers["ETag"]
        assert parsedate_to_datetime(after.headers["Last-Modified"]) > parsedate_to_datetime(
            before[url].headers["Last-Modified"])
        assert _get(client, url, **{"If-Modified-Since": before[url].headers["Last-Modified"]}).status_code == 200

    seen = client.get(private)
    registrations.rename(db.session(), world.quiet, actor=world.staff, now=NOW + timedelta(days=2),
                         name="ひみつの会（改称）", kind=world.quiet.kind)
    db.session.commit()
    after = client.get(private)
    assert "ひみつの会（改称）" in _events(after.data)[_uid(booking)].text("SUMMARY")
    assert after.headers["ETag"] != seen.headers["ETag"]
    assert _get(client, private, **{"If-Modified-Since": seen.headers["Last-Modified"]}).status_code == 200
