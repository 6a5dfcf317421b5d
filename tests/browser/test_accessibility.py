"""Every key page, for each kind of user, on the demo data in Chromium: axe-core finds no
violations, nothing scrolls sideways at 360 px, the first Tab reaches the skip link, and the
English pages are English. The pages are the ones the demo tells newcomers to try."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def _chromium() -> str | None:
    for path in (os.environ.get("RESERVATIONS_TEST_CHROMIUM"), "/usr/bin/chromium"):
        if path and Path(path).exists():
            return path
    return None


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[dict[str, Any]]:
    """The app with the demo data, on a free local port, its clock fixed at NOW."""
    from sqlalchemy import select
    from werkzeug.serving import make_server

    from reservations import create_app
    from reservations.demo import seed
    from reservations.extensions import db
    from reservations.models import Booking, Facility, Group, OutboxMessage, Room, User
    from tests.factories import NOW

    path = tmp_path_factory.mktemp("a11y") / "demo.sqlite3"
    shutil.copyfile(sqlite_template, path)
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "a11y-test", "TESTING": False,
        "RATELIMIT_ENABLED": False, "SMTP_HOST": None, "FIXED_NOW": NOW.isoformat(),
    })
    with app.app_context():
        assert seed(db.session(), now=NOW, progress=lambda _: None)
        # a message that could not be delivered, so the system page shows its table and forms
        db.session.add(OutboxMessage(dedupe_key="a11y:failed", kind="booking_released", recipient="typo@exmaple.jp",
                                     language="ja", context={}, status="failed", attempts=5, next_attempt_at=NOW,
                                     created_at=NOW, last_error="550 mailbox unavailable"))
        db.session.commit()
        facility = db.session.scalars(select(Facility).where(Facility.code == "naya")).one()
        room = db.session.scalars(select(Room).where(Room.facility_id == facility.id).order_by(Room.id)).first()
        member = db.session.scalars(select(User).where(User.email == "member@example.jp")).one()
        group_id = member.memberships[0].group_id
        booking = db.session.scalars(select(Booking).where(Booking.group_id == group_id).order_by(Booking.id)).first()
        applied = db.session.scalars(select(Group).order_by(Group.id)).first()
        ids = {"facility": facility.id, "room": room.id, "group": group_id,  # type: ignore[union-attr]
               "booking": booking.id, "any_group": applied.id}  # type: ignore[union-attr]
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"base": f"http://127.0.0.1:{server.server_port}", **ids}
    finally:
        server.shutdown()
        thread.join(timeout=5)
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no Chromium found (set RESERVATIONS_TEST_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=ARGS)
        yield b
        b.close()


def _page_as(browser: Any, base: str, email: str | None) -> Any:
    context = browser.new_context(locale="ja-JP", viewport={"width": 1024, "height": 800})
    page = context.new_page()
    if email is not None:
        page.goto(f"{base}/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", "naya-demo")
        page.locator("main form [type=submit]").click()
        page.wait_for_url(lambda u: "/login" not in u)
    return page


def _check(page: Any, url: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    response = page.goto(url)
    assert response is not None and response.status == 200, url
    results = Axe().run(page)
    assert results.violations_count == 0, f"{url}\n{results.generate_report()}"
    page.set_viewport_size({"width": 360, "height": 740})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"{url} is {width}px wide at 360px"
    page.set_viewport_size({"width": 1024, "height": 800})
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement && document.activeElement.className")
    assert "skip-link" in (focused or ""), f"{url}: the first Tab reached {focused!r}, not the skip link"


PAGES: dict[str | None, list[str]] = {
    None: ["/", "/facilities/{facility}", "/rooms/{room}", "/rooms/{room}?view=month",
           "/search?date_from=2026-12-07&date_to=2026-12-20&capacity=10&slot=evening", "/login", "/signup",
           "/password/forgot"],
    "member@example.jp": ["/my/bookings", "/bookings/{booking}", "/book?room={room}&date=2026-12-15&slot=evening",
                          "/profile", "/groups", "/groups/{group}", "/groups/{group}/edit", "/groups/new"],
    "staff@example.jp": ["/desk/", "/desk/approvals", "/desk/claims", "/desk/sheet", "/desk/bookings/{booking}",
                         "/desk/utilization",
                         "/desk/groups", "/desk/groups/{group}", "/desk/closures", "/desk/log"],
    "admin@example.jp": ["/admin/", "/admin/system", "/admin/users", "/admin/facilities/{facility}",
                         "/admin/facilities/{facility}/rooms/{room}"],
}


@pytest.mark.parametrize("who", list(PAGES), ids=lambda w: (w or "anonymous").split("@")[0])
def test_key_pages_are_accessible(browser: Any, demo_site: dict[str, Any], who: str | None) -> None:
    page = _page_as(browser, demo_site["base"], who)
    try:
        for path in PAGES[who]:
            _check(page, demo_site["base"] + path.format(**demo_site))
    finally:
        page.context.close()


def test_english_pages_by_the_language_switch(browser: Any, demo_site: dict[str, Any]) -> None:
    page = _page_as(browser, demo_site["base"], "member@example.jp")
    try:
        page.goto(f"{demo_site['base']}/facilities/{demo_site['facility']}")
        page.locator("form.language-switch button[value=en]").click()
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == "en"
        for path in ("/", "/facilities/{facility}", "/my/bookings", "/bookings/{booking}", "/profile"):
            _check(page, demo_site["base"] + path.format(**demo_site))
            assert page.locator("html").get_attribute("lang") == "en"
            assert "予約" not in page.locator("nav.site-nav").inner_text(), path
    finally:
        page.context.close()
