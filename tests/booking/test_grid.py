"""Availability grids on facility and room pages: every cell state, links, names, navigation."""

from __future__ import annotations

import re
from datetime import date

from reservations.extensions import db
from reservations.models import Closure
from tests.booking.conftest import login
from tests.booking.helpers import book
from tests.factories import NOW


def text(html: str) -> str:
    """What a reader sees: tags dropped, whitespace collapsed (hidden screen-reader text kept)."""
    import html as h

    return re.sub(r"\s+", " ", h.unescape(re.sub(r"<[^>]+>", " ", html)))


def _row(html: str, name: str) -> str:
    """The <tr> of the grid whose row header names ``name``, links kept, plus its text."""
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", html, re.S):
        if name in tr and "bk-rowhead" in tr:
            return tr + "\n" + text(tr)
    raise AssertionError(f"no grid row for {name}")


def test_facility_day_grid_shows_free_taken_and_links_to_the_form(client, world):
    book(world.large, world.other_group, date(2026, 12, 8), "evening", actor=world.stranger)
    html = client.get(f"/facilities/{world.facility.id}?date=2026-12-08").get_data(as_text=True)
    row = _row(html, "大会議室")
    assert "× 予約済み" in row
    assert f'/book?room={world.large.id}&amp;date=2026-12-08&amp;slot=morning' in row
    assert "○ 空き" in row
    # the other room is untouched: three free slots
    assert _row(html, "小会議室").count("○ 空き") == 3
    # legend explains every symbol with words
    legend_text = text(html.split("bk-legend-title")[1])
    for label in ("○ = 空き", "× = 予約済み", "休 = 休館", "－ = 受付前", "・ = 終了"):
        assert label in legend_text
    assert 'class="table-wrap' in html


def test_taken_cells_hide_group_names_unless_public(client, world):
    book(world.large, world.other_group, date(2026, 12, 8), "evening", actor=world.stranger)
    html = client.get(f"/facilities/{world.facility.id}?date=2026-12-08").get_data(as_text=True)
    assert "よその団体" not in html
    world.other_group.public_name = True
    db.session.commit()
    html = client.get(f"/facilities/{world.facility.id}?date=2026-12-08").get_data(as_text=True)
    assert "よその団体" in _row(html, "大会議室")


def test_own_groups_booking_is_marked_and_linked(client, world):
    b = book(world.large, world.group, date(2026, 12, 8), "evening", actor=world.member)[0]
    login(client, world.member)
    html = client.get(f"/facilities/{world.facility.id}?date=2026-12-08").get_data(as_text=True)
    assert f"/bookings/{b.id}" in _row(html, "大会議室")


def test_past_closed_and_not_open_cells(client, world):
    # NOW is 2026-12-01 10:00: the morning (08:30) is past, the afternoon free
    html = client.get(f"/facilities/{world.facility.id}?date=2026-12-01").get_data(as_text=True)
    row = _row(html, "大会議室")
    assert "・ 終了" in row and "○ 空き" in row
    # New Year break
    html = client.get(f"/facilities/{world.facility.id}?date=2026-12-30").get_data(as_text=True)
    assert _row(html, "大会議室").count("休 休館") == 3
    # a one-off closure
    db.session.add(Closure(facility_id=world.facility.id, start_date=date(2026, 12, 10), end_date=date(2026, 12, 10),
                           reason_ja="暴風警報", reason_en="Storm warning", created_at=NOW))
    db.session.commit()
    html = client.get(f"/facilities/{world.facility.id}?date=2026-12-10").get_data(as_text=True)
    assert "休 休館" in _row(html, "大会議室") and "暴風警報" in html
    # February is outside the general public's window (one month), inside a registered group's
    html = client.get(f"/facilities/{world.facility.id}?date=2027-02-09").get_data(as_text=True)
    assert _row(html, "大会議室").count("－ 受付前") == 3
    login(client, world.member)
    html = client.get(f"/facilities/{world.facility.id}?date=2027-02-09").get_data(as_text=True)
    assert _row(html, "大会議室").count("○ 空き") == 3


def test_free_time_room_has_a_time_axis_and_links_with_times(client, world):
    html = client.get(f"/facilities/{world.facility.id}?date=2026-12-08").get_data(as_text=True)
    row = _row(html, "交流スペース")
    # 08:30–21:00 in 30-minute steps
    assert row.count("<td>") == 25
    assert f"/book?room={world.hourly.id}&amp;date=2026-12-08&amp;start=08%3A30&amp;end=09%3A30" in row


def test_date_navigation_links_and_form(client, world):
    html = client.get(f"/facilities/{world.facility.id}?date=2026-12-08").get_data(as_text=True)
    assert "date=2026-12-07" in html and "date=2026-12-09" in html
    assert "date=2026-12-01" in html and "date=2026-12-15" in html
    assert 'type="date"' in html and 'method="get"' in html
    # a broken date falls back to today instead of failing
    assert client.get(f"/facilities/{world.facility.id}?date=nonsense").status_code == 200


def test_room_week_and_month_views(client, world):
    book(world.large, world.other_group, date(2026, 12, 8), "evening", actor=world.stranger)
    html = client.get(f"/rooms/{world.large.id}?date=2026-12-07").get_data(as_text=True)
    body = html.split("<tbody>")[-1]
    assert body.count('scope="row"') == 7
    assert "2026年12月8日（火）" in html and "× 予約済み" in text(html)
    html = client.get(f"/rooms/{world.large.id}?view=month&date=2026-12-15").get_data(as_text=True)
    body = html.split("<tbody>")[-1]
    assert body.count('scope="row"') == 31
    assert "date=2027-01-01" in html and "date=2026-11-01" in html


def test_unknown_facility_and_room_are_404(client, world):
    assert client.get("/facilities/9999").status_code == 404
    assert client.get("/rooms/9999").status_code == 404


def test_english_pages(client, world):
    book(world.large, world.other_group, date(2026, 12, 8), "evening", actor=world.stranger)
    client.post("/language", data={"language": "en", "next": "/"})
    page = text(client.get(f"/facilities/{world.facility.id}?date=2026-12-08").get_data(as_text=True))
    assert "Availability" in page and "Rooms lent by time slot" in page
    assert "○ Free" in page and "× Booked" in page and "Tue 8 Dec 2026" in page
    page = text(client.get(f"/rooms/{world.large.id}").get_data(as_text=True))
    assert "Booking rules" in page and "Registered groups" in page
    # asides and lists as English writes them, not with Japanese brackets and commas
    assert "Projector, Whiteboard" in page and "220 yen (per slot)" in page.replace("¥220", "220 yen")
    assert "（" not in page and "、" not in page
    login(client, world.member)
    world.member.language = "en"
    db.session.commit()
    form = text(client.get(f"/book?room={world.large.id}&date=2026-12-09&slot=morning").get_data(as_text=True))
    assert f"Large Room ({world.facility.name_en})" in form and "（" not in form


def test_room_page_facts_fees_rules_exemption_and_feed(client, world):
    page = text(client.get(f"/rooms/{world.large.id}").get_data(as_text=True))
    assert "定員 60人" in page and "プロジェクター" in page
    assert "夜間 17:30–21:00 880円" in page and "冷暖房: 220円（1区分につき）" in page
    assert "登録団体: 利用月の3か月前の1日から" in page and "承認は不要です。" in page
    assert "あなたの団体の減免" not in page  # anonymous
    assert f"http://localhost/feeds/rooms/{world.large.id}.ics" in page
    login(client, world.member)
    page = text(client.get(f"/rooms/{world.large.id}").get_data(as_text=True))
    assert "まちづくりの会: 登録団体 — 使用料が50%減額されます" in page
    assert "準備会" not in page.split("あなたの団体の減免")[1].split("予約のきまり")[0]  # applied: no exemption
    page = text(client.get(f"/facilities/{world.facility.id}").get_data(as_text=True))
    assert f"http://localhost/feeds/facilities/{world.facility.id}.ics" in page


def test_start_page_lists_every_facility_with_its_active_rooms_in_order(client, world):
    world.small.active = False
    db.session.commit()
    html = client.get("/").get_data(as_text=True)
    page = text(html)
    chubu, tokiwa = page.index("中部地区市民センター"), page.index("常磐地区市民センター")
    assert chubu < page.index("大会議室 — 定員60人") < page.index("交流スペース — 定員20人") < tokiwa
    assert "小会議室" not in page  # not lent any more
    assert tokiwa < page.index("研修室 — 定員40人")
    assert f'href="/rooms/{world.large.id}"' in html and f'href="/facilities/{world.facility.id}"' in html
    assert f'href="/facilities/{world.facility.id}?date=2026-12-01#availability"' in html  # today, Tokyo
    client.post("/language", data={"language": "en", "next": "/"})
    page = text(client.get("/").get_data(as_text=True))
    assert "Chubu Center" in page and re.search(r"Large Room — [Cc]apacity 60", page)


def test_grid_cell_links_and_times_equal_the_general_helpers(app):  # type: ignore[no-untyped-def]
    """A grid's cells share their room-and-day link head and their time labels (a month of a
    free-time room has ~800 cells): the links must be what ``book_url`` gives, and the times what
    ``strftime`` gives in the facility's zone."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from reservations.web.booking import _CellText, book_url

    with app.test_request_context("/"):
        text = _CellText("Asia/Tokyo", "ja")
        for args in ({"slot": "evening"}, {"slot": "a b&c"}, {"start": "09:00", "end": "10:30"}, {}):
            for room_id, day in ((3, date(2027, 1, 5)), (3, date(2027, 1, 6)), (12, date(2027, 1, 5))):
                assert text.book(room_id, day, **args) == book_url(room_id, day, **args)
                assert text.book(room_id, day, **args) == book_url(room_id, day, **args)  # from the cache
        t = datetime(2027, 1, 5, 14, 45, tzinfo=UTC)
        for n in range(0, 24 * 60, 35):
            instant = t + timedelta(minutes=n)
            assert text.time(instant) == instant.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%H:%M")


def test_asides_escape_and_follow_the_language(app):  # type: ignore[no-untyped-def]
    from flask_babel import refresh
    from markupsafe import Markup

    from reservations.web.i18n import aside, paren

    with app.test_request_context("/", headers={"Accept-Language": "ja"}):
        refresh()
        assert str(paren("<b>")) == "（&lt;b&gt;）"
        assert str(paren(Markup("<b>x</b>"))) == "（<b>x</b>）"
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        refresh()  # the test's app context outlives the request: its cached locale with it
        assert str(paren("A & B")) == " (A &amp; B)"
    assert (aside("9:00", "en"), aside("9:00", "ja")) == (" (9:00)", "（9:00）")
