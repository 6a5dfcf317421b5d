"""End to end in Chromium: staff log in, approve a pending booking, record its payment, check the
group in on the day (the clock moved by FIXED_NOW), and the group's booking page shows the result."""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
OUT = Path(__file__).resolve().parents[2] / "test-output"
DAY = date(2026, 12, 8)  # a Tuesday, a week after NOW


def _chromium() -> str | None:
    for path in (os.environ.get("RESERVATIONS_TEST_CHROMIUM"), "/usr/bin/chromium"):
        if path and Path(path).exists():
            return path
    return None


@pytest.fixture
def live(sqlite_template: Path, tmp_path: Path) -> Iterator[dict[str, Any]]:
    from werkzeug.serving import make_server

    from reservations import create_app
    from reservations.extensions import db
    from reservations.services import bookings as bsvc
    from tests.factories import NOW, make_facility, make_group, make_room, make_user

    path = tmp_path / "live.sqlite3"
    shutil.copyfile(sqlite_template, path)
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "browser-test", "TESTING": False,
        "RATELIMIT_ENABLED": False, "SMTP_HOST": None, "FIXED_NOW": NOW.isoformat(),
    })
    with app.app_context():
        f = make_facility(name_ja="中部地区市民センター", name_en="Chubu Center")
        hall = make_room(f, name_ja="ホール", name_en="Hall", capacity=100, requires_approval=True)
        make_user("staff", facilities=[f], email="staff@example.jp", display_name="窓口職員")
        member = make_user(email="member@example.jp")
        group = make_group(member, name="まちづくりの会", exemption_code="civic_50")
        inp = bsvc.BookingInput(room_id=hall.id, group_id=group.id, day=DAY, slot_code="morning",
                                purpose="市民協働まつり準備会", attendees=40)
        booking = bsvc.create_booking(db.session, inp, actor=member, now=NOW)[0]
        db.session.commit()
        ids = {"facility": f.id, "booking": booking.id}
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


def _login(page, base: str, email: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", "correct horse battery")
    page.locator("main form [type=submit]").click()
    page.wait_for_url(lambda u: "/login" not in u)


def test_staff_approve_take_payment_and_check_in(live: dict[str, Any]) -> None:
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no Chromium found (set RESERVATIONS_TEST_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    OUT.mkdir(exist_ok=True)
    base, booking_id = live["base"], live["booking"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        staff = browser.new_context(locale="ja-JP", viewport={"width": 1024, "height": 800}).new_page()
        _login(staff, base, "staff@example.jp")

        # the approval queue: select it and approve
        staff.goto(f"{base}/desk/approvals")
        row = staff.locator("tr", has=staff.locator(f"a[href='/desk/bookings/{booking_id}']"))
        assert "問題なし" in row.inner_text() and "まちづくりの会" in row.inner_text()
        row.locator("input[type=checkbox]").check()
        staff.get_by_role("button", name="選んだ予約を承認する").click()
        assert "1件を承認しました" in staff.locator(".flashes").inner_text()

        # claims: record the payment (the amount defaults to the fee: 880 yen less the 50% exemption)
        staff.goto(f"{base}/desk/claims")
        staff.locator(f"a[href='/desk/bookings/{booking_id}/payment']").click()
        assert staff.locator("#amount").input_value() == "440"
        staff.fill("#receipt", "R-2026-001")
        staff.get_by_role("button", name="支払いを記録して確定する").click()
        staff.wait_for_url(re.compile(rf"/desk/bookings/{booking_id}$"))
        assert "予約確定" in staff.locator("main h1").inner_text()

        # on the day, ten minutes after the start: check in from today's board
        live["app"].config["FIXED_NOW"] = "2026-12-08T08:40:00+09:00"
        staff.goto(f"{base}/desk/")
        assert "ホール" in staff.locator("main").inner_text()
        staff.screenshot(path=str(OUT / "desk-today.png"), full_page=True)
        staff.get_by_role("button", name="受付（遅刻を記録）").click()
        body = staff.locator("main").inner_text()
        assert "受付しました（10分遅れ）" in body and "利用中" in body

        # the booking's audit trail shows every step
        staff.goto(f"{base}/desk/bookings/{booking_id}")
        trail = staff.locator("table.desk-events").inner_text()
        for action in ("booking.created", "booking.approve", "booking.confirm", "booking.check_in"):
            assert action in trail
        staff.goto(f"{base}/desk/sheet")
        assert "R-2026-001" not in staff.locator("main").inner_text()  # the sheet shows paid, not receipts
        assert "窓口で現金" in staff.locator("main").inner_text()
        staff.screenshot(path=str(OUT / "desk-sheet.png"), full_page=True)

        # the group's own booking page
        member = browser.new_context(locale="ja-JP").new_page()
        _login(member, base, "member@example.jp")
        resp = member.goto(f"{base}/bookings/{booking_id}")
        assert resp is not None and resp.status == 200
        body = member.locator("main").inner_text()
        assert "利用中" in body and "440円" in body
        member.screenshot(path=str(OUT / "desk-member-booking.png"), full_page=True)
        browser.close()
