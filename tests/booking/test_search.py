"""Search: free room-slots across facilities by capacity, equipment, dates, weekdays and slot."""

from __future__ import annotations

import re
from datetime import date

from tests.booking.helpers import book
from tests.booking.test_grid import text


def _rows(html: str) -> list[str]:
    body = html.split('class="bk-table bk-results"')[1].split("</table>")[0]
    return [text(tr) for tr in re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>")[1], re.S)]


def test_search_form_without_query_lists_nothing(client, world):
    html = client.get("/search").get_data(as_text=True)
    assert "検索結果" not in html
    for label in ("施設", "人数（以上）", "開始日", "終了日", "曜日", "時間帯", "設備"):
        assert f">{label}<" in html
    assert "プロジェクター" in html  # equipment from the rooms' values


def test_twenty_people_projector_tuesday_evenings(client, world):
    book(world.large, world.other_group, date(2026, 12, 15), "evening", actor=world.stranger)
    r = client.get("/search?capacity=20&equipment=projector&date_from=2026-12-01&date_to=2026-12-31"
                   "&weekdays=1&slot=evening")
    rows = _rows(r.get_data(as_text=True))
    assert rows
    assert all("火" in row and "17:30" in row for row in rows)
    rooms = {("大会議室" in row, "研修室" in row) for row in rows}
    assert rooms <= {(True, False), (False, True)}
    assert not any("小会議室" in row or "交流スペース" in row for row in rows)  # too small / no projector
    # the taken Tuesday is left out for that room only; New Year break closes the 29th
    assert not any("12月15日" in row and "大会議室" in row for row in rows)
    assert any("12月15日" in row and "研修室" in row for row in rows)
    assert not any("12月29日" in row for row in rows)
    # the dates: Dec 8, 15, 22 (Dec 1 evening is today and still free)
    days = {re.search(r"12月(\d+)日", row).group(1) for row in rows}
    assert days == {"1", "8", "15", "22"}
    assert f'/book?room={world.large.id}&amp;date=2026-12-08&amp;slot=evening' in r.get_data(as_text=True)


def test_facility_filter_and_free_time_rooms(client, world):
    r = client.get(f"/search?facility={world.facility.id}&date_from=2026-12-08&date_to=2026-12-08&slot=evening")
    rows = _rows(r.get_data(as_text=True))
    assert not any("研修室" in row for row in rows)
    # the hourly room offers its evening steps with times
    assert any("交流スペース" in row and "17:00" in row for row in rows)


def test_bad_input_is_reported_not_crashed(client, world):
    r = client.get("/search?capacity=-3&date_from=2026-12-10&date_to=2026-12-01")
    assert r.status_code == 200
    page = text(r.get_data(as_text=True))
    assert "検索結果" not in page
    r = client.get("/search?date_from=2026-12-10&date_to=2026-12-01")
    assert "終了日は開始日以降にしてください。" in text(r.get_data(as_text=True))
