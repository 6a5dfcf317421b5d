"""End to end in Chromium: log in, find a free evening slot in the grid, book it, see it under My
bookings with its price, download its .ics, cancel it; axe-core finds no violations on the grid and
the booking page, and neither scrolls sideways at 360 px."""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
OUT = Path(__file__).resolve().parents[2] / "test-output"


def _chromium() -> str | None:
    for path in (os.environ.get("RESERVATIONS_TEST_CHROMIUM"), "/usr/bin/chromium"):
        if path and Path(path).exists():
            return path
    return None


@pytest.fixture
def live(sqlite_template: Path, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The app on a free local port, against a copy of the migrated schema, clock fixed at NOW."""
    from werkzeug.serving import make_server

    from reservations import create_app
    from reservations.extensions import db
    from tests.factories import NOW, make_facility, make_group, make_room, make_user

    path = tmp_path / "live.sqlite3"
    shutil.copyfile(sqlite_template, path)
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "browser-test", "TESTING": False,
        "RATELIMIT_ENABLED": False, "SMTP_HOST": None, "FIXED_NOW": NOW.isoformat(),
    })
    with app.app_context():
        f = make_facility(name_ja="中部地区市民センター", name_en="Chubu Center")
        room = make_room(f, name_ja="大会議室", name_en="Large Room", capacity=60, equipment=["projector"])
        make_room(f, name_ja="和室", name_en="Japanese-style Room", capacity=20)
        member = make_user(email="member@example.jp")
        group = make_group(member, name="まちづくりの会", exemption_code="civic_50")
        db.session.commit()
        ids = {"facility": f.id, "room": room.id, "group": group.id}
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"base": f"http://127.0.0.1:{server.server_port}", "app": app, **ids}
    finally:
        server.shutdown()
        thread.join(timeout=5)
        with app.app_context():
            db.engine.dispose()


def _no_violations(page) -> None:  # type: ignore[no-untyped-def]
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def _no_sideways_scroll(page) -> None:  # type: ignore[no-untyped-def]
    page.set_viewport_size({"width": 360, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.set_viewport_size({"width": 1024, "height": 800})


def test_member_books_a_free_evening_slot_and_cancels_it(live: dict[str, Any]) -> None:
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no Chromium found (set RESERVATIONS_TEST_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    OUT.mkdir(exist_ok=True)
    base = live["base"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        context = browser.new_context(locale="ja-JP", viewport={"width": 1024, "height": 800}, accept_downloads=True)
        page = context.new_page()
        # log in through the login form
        page.goto(f"{base}/login")
        page.fill("input[name=email]", "member@example.jp")
        page.fill("input[name=password]", "correct horse battery")
        page.locator("main form [type=submit]").click()
        page.wait_for_url(lambda u: "/login" not in u)

        # the grid of a Tuesday: find the free evening cell of the large room
        page.goto(f"{base}/facilities/{live['facility']}?date=2026-12-08")
        row = page.locator("tr", has=page.locator("th", has_text="大会議室"))
        link = row.locator("a.bk-cell[href*='slot=evening']")
        assert link.count() == 1 and "空き" in link.inner_text()
        page.screenshot(path=str(OUT / "booking-grid.png"), full_page=True)
        _no_violations(page)
        _no_sideways_scroll(page)
        link.click()

        # the prefilled form: the price is shown before booking
        page.wait_for_url(re.compile(r"/book\?"))
        assert page.locator("#date").input_value() == "2026-12-08"
        assert page.locator("#slot").input_value() == "evening"
        page.fill("#purpose", "まちづくり勉強会")
        page.fill("#attendees", "16")
        page.get_by_role("button", name="料金と日程を確認する").click()
        preview = page.locator(".bk-preview").inner_text()
        assert "440円" in preview and "○ 空き" in preview
        page.get_by_role("button", name="この内容で予約する").click()

        # the booking page
        page.wait_for_url(re.compile(r"/bookings/\d+"))
        booking_id = int(re.search(r"/bookings/(\d+)", page.url).group(1))  # type: ignore[union-attr]
        body = page.locator("main").inner_text()
        assert "仮予約" in body and "440円" in body and "までに窓口で使用料" in body
        page.screenshot(path=str(OUT / "booking-page.png"), full_page=True)
        _no_violations(page)
        _no_sideways_scroll(page)

        # my bookings shows it with the right price
        page.goto(f"{base}/my/bookings")
        upcoming = page.locator("main").inner_text().split("過去の予約")[0]
        assert "まちづくり勉強会" in upcoming and "440円" in upcoming

        # the .ics download, when the feeds area provides the route
        app = live["app"]
        has_ics = any(r.rule.endswith(".ics") and r.rule.startswith("/bookings/") for r in app.url_map.iter_rules())
        if has_ics:
            resp = page.request.get(f"{base}/bookings/{booking_id}.ics")
            assert resp.status == 200 and "BEGIN:VCALENDAR" in resp.text()

        # cancel: the fee is shown first, then the booking is cancelled
        page.goto(f"{base}/bookings/{booking_id}")
        page.get_by_role("link", name="この予約を取り消す").click()
        assert "取消料はかかりません" in page.locator("main").inner_text()
        page.get_by_role("button", name="予約を取り消す").click()
        page.wait_for_url(re.compile(rf"/bookings/{booking_id}$"))
        assert "取消" in page.locator(".bk-status-line").inner_text()
        browser.close()
