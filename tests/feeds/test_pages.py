"""The subscribe panels and the private-link endpoints, as pages show them."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote, urlsplit

from flask import Flask, render_template
from flask.testing import FlaskClient

from reservations.extensions import db
from reservations.models import FeedToken
from tests.factories import tokyo
from tests.feeds.conftest import World, book, login

PRIVATE_URL = re.compile(r"https://rooms\.example\.jp/feeds/private/[A-Za-z0-9_-]{43}\.ics")


def _render(app: Flask, template: str, **context) -> str:  # type: ignore[no-untyped-def]
    with app.test_request_context("/"):
        return render_template(template, **context)


def test_subscribe_partial_links(app: Flask, world: World) -> None:
    url = f"https://rooms.example.jp/feeds/rooms/{world.hall.id}.ics"
    html = _render(app, "feeds/_subscribe.html", feed_url=url, feed_title="ホール（中部）")
    webcal = f"webcal://rooms.example.jp/feeds/rooms/{world.hall.id}.ics"
    assert f'href="{webcal}"' in html
    google = re.search(r'href="(https://calendar\.google\.com/calendar/r\?cid=[^"]+)"', html)
    assert google and unquote(google.group(1).split("cid=", 1)[1]) == webcal
    outlook = re.search(r'href="(https://outlook\.office\.com/calendar/addfromweb\?[^"]+)"', html)
    assert outlook
    q = parse_qs(urlsplit(outlook.group(1).replace("&amp;", "&")).query)
    assert q == {"url": [url], "name": ["ホール（中部）"]}
    assert f'value="{url}" readonly' in html and "data-copy-target" in html
    assert "Web から購読" in html and "12〜24 時間" in html
    assert "<script>" not in html and "style=" not in html
    assert "js/feeds.js" in html


def test_add_to_calendar_partial(app: Flask, world: World) -> None:
    b = book(world.small, world.quiet, tokyo(2026, 12, 10).date(), actor=world.member, purpose="理事会")
    html = _render(app, "feeds/_add_to_calendar.html", booking=b).replace("&amp;", "&")
    assert f'href="/bookings/{b.id}.ics"' in html
    google = re.search(r'href="(https://calendar\.google\.com/calendar/render\?[^"]+)"', html)
    assert google
    q = parse_qs(urlsplit(google.group(1)).query)
    assert q["action"] == ["TEMPLATE"] and q["dates"] == ["20261210T083000Z/20261210T120000Z"]
    assert "小会議室" in q["text"][0] and "中部地区市民センター" in q["location"][0]
    outlook = re.search(r'href="(https://outlook\.office\.com/calendar/deeplink/compose\?[^"]+)"', html)
    assert outlook
    q = parse_qs(urlsplit(outlook.group(1)).query)
    assert q["startdt"] == ["2026-12-10T08:30:00Z"] and q["enddt"] == ["2026-12-10T12:00:00Z"]
    assert "小会議室" in q["subject"][0]


def test_group_private_link_shown_once_then_regenerable(client: FlaskClient, world: World) -> None:
    login(client, world.member)
    r = client.post(f"/feeds/groups/{world.quiet.id}/regenerate")
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store" and r.headers["Referrer-Policy"] == "no-referrer"
    page = r.data.decode()
    [url] = set(PRIVATE_URL.findall(page))
    assert "webcal://rooms.example.jp/feeds/private/" in page
    assert client.get(urlsplit(url).path).status_code == 200
    # the panel now says a link exists, without the secret
    html = _render_as(client, world, "group")
    assert "作成済み" in html and url not in html and "/regenerate" in html and "/revoke" in html
    # regenerating gives a new URL and kills the old one
    r2 = client.post(f"/feeds/groups/{world.quiet.id}/regenerate")
    [url2] = set(PRIVATE_URL.findall(r2.data.decode()))
    assert url2 != url
    assert client.get(urlsplit(url).path).status_code == 404
    r3 = client.post(f"/feeds/groups/{world.quiet.id}/revoke")
    assert r3.status_code == 302
    assert client.get(urlsplit(url2).path).status_code == 404
    # not a member: 404, nothing created
    before = db.session.query(FeedToken).count()
    assert client.post(f"/feeds/groups/{world.other.id}/regenerate").status_code == 404
    assert db.session.query(FeedToken).count() == before


def _render_as(client: FlaskClient, world: World, kind: str) -> str:
    """The private panel as the signed-in member sees it (group page, or profile)."""
    if kind == "group":
        r = client.get(f"/groups/{world.quiet.id}")
        if r.status_code == 200 and b"feed-private-heading" in r.data:
            return r.data.decode()
    app = client.application
    from flask_login import login_user

    with app.test_request_context("/"):
        login_user(world.member)
        target = {"kind": "group", "group": world.quiet} if kind == "group" else {"kind": "personal"}
        return render_template("feeds/_subscribe.html", feed_target=target)


def test_personal_private_link(client: FlaskClient, world: World) -> None:
    login(client, world.member)
    html = _render_as(client, world, "personal")
    assert "まだありません" in html and "/feeds/personal/regenerate" in html
    r = client.post("/feeds/personal/regenerate")
    assert r.status_code == 200
    [url] = set(PRIVATE_URL.findall(r.data.decode()))
    assert client.get(urlsplit(url).path).status_code == 200
    assert "作成済み" in _render_as(client, world, "personal")


def test_private_link_endpoints_need_login_and_csrf(app: Flask, client: FlaskClient, world: World) -> None:
    r = client.post(f"/feeds/groups/{world.quiet.id}/regenerate")
    assert r.status_code in (302, 401)
    assert db.session.query(FeedToken).count() == 0
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        login(client, world.member) if "auth.login" not in app.view_functions else None
        with client.session_transaction() as s:
            s["_user_id"] = world.member.get_id()
            s["_fresh"] = True
        assert client.post("/feeds/personal/regenerate").status_code == 400
        assert db.session.query(FeedToken).count() == 0
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_english_panel(client: FlaskClient, world: World) -> None:
    login(client, world.member_en)
    r = client.post("/feeds/personal/regenerate")
    page = r.data.decode()
    assert "Subscribe in a calendar app" in page, page[:2000]
    assert "Google Calendar" in page


def test_public_feed_links_follow_the_page_language(client: FlaskClient, world: World) -> None:
    """Someone reading in English subscribes to an English calendar; the Japanese page keeps the
    feed's default (both languages)."""
    ja = client.get(f"/rooms/{world.small.id}").get_data(as_text=True)
    assert f"/feeds/rooms/{world.small.id}.ics\"" in ja or f"/feeds/rooms/{world.small.id}.ics<" in ja
    assert "?lang=en" not in ja
    login(client, world.member_en)
    for page in (f"/rooms/{world.small.id}", f"/facilities/{world.facility.id}"):
        en = client.get(page).get_data(as_text=True)
        assert ".ics?lang=en" in en, page
    feed = client.get(f"/feeds/rooms/{world.small.id}.ics?lang=en").get_data(as_text=True)
    assert "Small Room" in feed
