"""Search: free room-slots across facilities by capacity, equipment, dates, weekdays and slot."""

from __future__ import annotations

import re
from datetime import date

from tests.booking.helpers import book
from tests.booking.test_grid import text
from tests.factories import NOW


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


def test_results_come_fifty_a_page_and_the_pages_add_up_to_the_whole_result(client, world):
    """The page shows 50 results at a time; following "next" from the first page gives every
    result exactly once, in order, the same rows as one search asking for all of them."""
    from reservations.extensions import db
    from reservations.services import availability as avail
    from reservations.web.booking import SEARCH_PAGE

    query = "/search?date_from=2026-12-01&date_to=2026-12-20&slot=evening&slot=morning"
    expected = avail.search(db.session(), avail.SearchFilters(
        first=date(2026, 12, 1), last=date(2026, 12, 20), slot_codes=("evening", "morning"), limit=1000),
        now=NOW, group_class="general")
    assert 2 * SEARCH_PAGE < len(expected) < 20 * SEARCH_PAGE  # more than two pages, fewer than the cap
    seen: list[str] = []
    url: str | None = query
    pages = 0
    while url:
        html = client.get(url).get_data(as_text=True)
        rows = _rows(html)
        assert 0 < len(rows) <= SEARCH_PAGE
        first = len(seen) + 1
        if len(expected) > SEARCH_PAGE:
            assert f"空きのうち{first}〜{first + len(rows) - 1}件目を表示しています。" in text(html)
        seen += rows
        pages += 1
        assert ('rel="prev nofollow"' in html) == (pages > 1)
        found = re.search(r'<a class="bk-button" href="([^"]+)" rel="next nofollow">', html)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert pages == -(-len(expected) // SEARCH_PAGE)
    assert len(seen) == len(expected)
    days = [re.search(r"12月(\d+)日", row).group(1) for row in seen]
    assert days == sorted(days, key=int)  # in date order across pages


def test_a_page_past_the_end_or_not_a_page_shows_the_first(client, world):
    query = "/search?date_from=2026-12-08&date_to=2026-12-08&slot=evening"
    first = _rows(client.get(query).get_data(as_text=True))
    assert 0 < len(first) <= 50
    for page in ("2", "3", "20", "21", "99", "0", "-1", "x", "²", "12345678901"):
        html = client.get(f"{query}&page={page}").get_data(as_text=True)
        assert _rows(html) == first
        assert 'rel="prev' not in html


def test_pager_links_carry_the_search_and_nothing_else(client, world):
    """A query string's names must not reach ``url_for`` as keywords: ``endpoint``, ``_method``,
    ``_anchor``, ``_scheme`` or ``_external`` made the page fail or its links point elsewhere."""
    r = client.get("/search?date_from=2026-12-01&date_to=2026-12-31&weekdays=1&weekdays=3&slot=evening"
                   "&slot=morning&endpoint=x&_method=POST&_anchor=a&_scheme=javascript&_external=1&evil=1")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    link = re.search(r'href="([^"]+)" rel="next nofollow"', html).group(1).replace("&amp;", "&")
    assert link.startswith("/search?") and link.endswith("&page=2#results")
    assert "weekdays=1&weekdays=3" in link and "slot=evening&slot=morning" in link
    for name in ("endpoint", "_method", "_anchor", "_scheme", "_external", "evil"):
        assert f"{name}=" not in link


def test_the_last_page_says_when_there_are_more_than_can_be_shown(client, world):
    from reservations.web.booking import SEARCH_MAX_PAGE, SEARCH_PAGE

    query = "/search?date_from=2026-12-01&date_to=2027-01-31"  # every slot and hourly step of two months
    html = client.get(f"{query}&page={SEARCH_MAX_PAGE}").get_data(as_text=True)
    assert len(_rows(html)) == SEARCH_PAGE
    assert f"表示できるのは{SEARCH_PAGE * SEARCH_MAX_PAGE}件までです。" in text(html)
    assert 'rel="next' not in html and 'rel="prev nofollow"' in html
    assert "表示できるのは" not in text(client.get(query).get_data(as_text=True))
