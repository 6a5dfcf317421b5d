"""The iCalendar builder on unsaved rows: bytes, folding, escaping, statuses, times, invitations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import icalendar
import pytest

from reservations.feeds import booking_invitation, build_feed
from reservations.feeds.ical import FeedInfo, booking_ics, clean_text, ical_status
from reservations.models import Booking, Facility, Group, Room
from tests.factories import NOW, TOKYO, tokyo
from tests.feeds import rfc5545

BASE = "https://rooms.example.jp"
LONG_PURPOSE = ("四日市市の市民協働を進めるための定例会議と、来年度のまちづくり活動計画についての意見交換、"
                "およびボランティア募集😀の打ち合わせ；議題：予算、会場、広報、役割分担") * 3


def _booking(status: str = "confirmed", *, purpose: str = "定例会", public_name: bool = False,
             public_purpose: bool = False, sequence: int = 0, start: datetime | None = None) -> Booking:
    facility = Facility(id=1, code="f", name_ja="中部地区市民センター", name_en="Chubu Center",
                        address_ja="三重県四日市市中部1-1", address_en="1-1 Chubu, Yokkaichi", timezone="Asia/Tokyo")
    room = Room(id=2, facility=facility, facility_id=1, code="r", name_ja="大会議室", name_en="Large Room",
                capacity=30, slot_scheme={})
    group = Group(id=3, name="まちづくりの会, 本部; 分室", kind="circle", public_name=public_name,
                  public_purpose=public_purpose)
    start = start or tokyo(2026, 12, 10, 17, 30)
    return Booking(id=44, uid="5f0c2a9e-1111-2222-3333-444455556666", room=room, room_id=2, group=group,
                   group_id=3, contact_name="", start_at=start.astimezone(UTC),
                   end_at=(start + timedelta(hours=3, minutes=30)).astimezone(UTC), purpose=purpose,
                   attendees=12, status=status, claim_deadline=tokyo(2026, 12, 7, 23, 59).astimezone(UTC),
                   fee_total=880, sequence=sequence, created_at=NOW - timedelta(days=2), updated_at=NOW)


def _feed(*bookings: Booking, private: bool, language: str = "both") -> bytes:
    return build_feed(list(bookings), FeedInfo("大会議室（中部地区市民センター）"), private=private,
                      language=language, base_url=BASE)


def test_calendar_properties_and_event_core() -> None:
    data = _feed(_booking(sequence=3), private=False)
    cal = rfc5545.parse(data)
    assert cal.value("METHOD") == "PUBLISH"
    assert cal.value("CALSCALE") == "GREGORIAN"
    assert cal.text("X-WR-CALNAME") == "大会議室（中部地区市民センター）"
    assert cal.text("NAME") == "大会議室（中部地区市民センター）"
    assert cal.value("X-WR-TIMEZONE") == "Asia/Tokyo"
    refresh = cal.one("REFRESH-INTERVAL")
    assert refresh.params == {"VALUE": ["DURATION"]} and refresh.value == "PT1H"
    assert cal.value("X-PUBLISHED-TTL") == "PT1H"
    [ev] = cal.components("VEVENT")
    assert ev.value("UID") == "booking-5f0c2a9e-1111-2222-3333-444455556666@rooms.example.jp"
    assert ev.value("SEQUENCE") == "3"
    assert ev.value("DTSTAMP") == NOW.strftime("%Y%m%dT%H%M%SZ")
    assert ev.value("LAST-MODIFIED") == NOW.strftime("%Y%m%dT%H%M%SZ")
    assert ev.value("CREATED") == (NOW - timedelta(days=2)).strftime("%Y%m%dT%H%M%SZ")
    assert ev.value("TRANSP") == "OPAQUE"
    start = ev.one("DTSTART")
    assert start.params["TZID"] == ["Asia/Tokyo"] and start.value == "20261210T173000"
    assert rfc5545.event_time(cal, ev, "DTSTART") == tokyo(2026, 12, 10, 17, 30)
    assert rfc5545.event_time(cal, ev, "DTEND") == tokyo(2026, 12, 10, 21, 0)
    # and icalendar reads the same instant
    parsed = icalendar.Calendar.from_ical(data)
    [iev] = parsed.walk("VEVENT")
    assert iev.decoded("DTSTART") == tokyo(2026, 12, 10, 17, 30)
    assert iev.decoded("DTSTART").utcoffset() == timedelta(hours=9)


@pytest.mark.parametrize(("status", "expected"), [
    ("pending", "TENTATIVE"), ("provisional", "TENTATIVE"), ("confirmed", "CONFIRMED"),
    ("checked_in", "CONFIRMED"), ("completed", "CONFIRMED"), ("cancelled", "CANCELLED"),
    ("rejected", "CANCELLED"), ("released", "CANCELLED"), ("no_show", "CANCELLED"),
])
def test_status_mapping(status: str, expected: str) -> None:
    assert ical_status(status) == expected
    for private in (False, True):
        [ev] = rfc5545.parse(_feed(_booking(status), private=private)).components("VEVENT")
        assert ev.value("STATUS") == expected


def test_public_event_hides_group_and_purpose_unless_public() -> None:
    quiet = rfc5545.parse(_feed(_booking(purpose="秘密の相談"), private=False)).components("VEVENT")[0]
    assert quiet.text("SUMMARY") == "予約済み (Booked) — 大会議室"
    assert quiet.all("DESCRIPTION") == [] and quiet.all("URL") == []
    assert "まちづくり" not in quiet.text("SUMMARY") + quiet.text("LOCATION")
    en = rfc5545.parse(_feed(_booking(), private=False, language="en")).components("VEVENT")[0]
    assert en.text("SUMMARY") == "Booked — Large Room"
    ja = rfc5545.parse(_feed(_booking(), private=False, language="ja")).components("VEVENT")[0]
    assert ja.text("SUMMARY") == "予約済み — 大会議室"
    shown = rfc5545.parse(_feed(_booking(purpose="子ども食堂", public_name=True, public_purpose=True),
                                private=False)).components("VEVENT")[0]
    assert shown.text("SUMMARY") == "まちづくりの会, 本部; 分室 — 大会議室"
    assert shown.text("DESCRIPTION") == "子ども食堂"


def test_private_event_has_full_details() -> None:
    b = _booking("provisional", purpose="総会")
    ev = rfc5545.parse(_feed(b, private=True, language="ja")).components("VEVENT")[0]
    assert ev.text("SUMMARY") == "[仮予約] 大会議室 — まちづくりの会, 本部; 分室"
    assert "三重県四日市市中部1-1" in ev.text("LOCATION")
    desc = ev.text("DESCRIPTION")
    for part in ("状態: 仮予約", "利用目的: 総会", "手続き期限: 2026-12-07 23:59", "https://rooms.example.jp/bookings/44"):
        assert part in desc
    assert ev.value("URL") == "https://rooms.example.jp/bookings/44"
    en = rfc5545.parse(_feed(b, private=True, language="en")).components("VEVENT")[0]
    assert en.text("SUMMARY").startswith("[Provisional] Large Room")
    assert "Claim/pay by: 2026-12-07 23:59" in en.text("DESCRIPTION")


def test_long_japanese_text_folds_at_75_octets_without_splitting_characters() -> None:
    b = _booking(purpose=LONG_PURPOSE, public_name=True, public_purpose=True)
    for data in (_feed(b, private=False), _feed(b, private=True), booking_invitation(b, "REQUEST", BASE, "ja")):
        lines = rfc5545.physical_lines(data)  # CRLF, ≤ 75 octets, each line valid UTF-8 alone
        assert max(len(x) for x in lines) <= 75
        assert any(x.startswith(b" ") for x in lines)  # it really folded
        cal = rfc5545.parse(data)
        ev = cal.components("VEVENT")[0]
        assert LONG_PURPOSE in ev.text("DESCRIPTION")
        assert LONG_PURPOSE in str(icalendar.Calendar.from_ical(data).walk("VEVENT")[0]["DESCRIPTION"])


def test_control_characters_are_stripped_and_newlines_escaped() -> None:
    nasty = "会議\x00\x07\x1b[31m\r\n二行目\tタブ\u0085\ufeff, 以上; \\終"
    assert clean_text(nasty) == "会議[31m\n二行目 タブ, 以上; \\終"
    data = _feed(_booking(purpose=nasty, public_purpose=True), private=True)
    ev = rfc5545.parse(data).components("VEVENT")[0]
    assert "利用目的: 会議[31m\n二行目 タブ, 以上; \\終" in ev.text("DESCRIPTION")
    assert b"\\n" in data and b"\\;" in data and b"\\," in data and b"\\\\" in data


def test_empty_feed_is_valid_and_has_the_zone() -> None:
    data = _feed(private=False)
    cal = rfc5545.parse(data)
    assert cal.components("VEVENT") == []
    assert [z.value("TZID") for z in cal.components("VTIMEZONE")] == ["Asia/Tokyo"]


def test_same_data_same_bytes() -> None:
    assert _feed(_booking(), private=True) == _feed(_booking(), private=True)


def test_booking_download_is_publish_with_full_details() -> None:
    cal = rfc5545.parse(booking_ics(_booking(), language="ja", base_url=BASE))
    assert cal.value("METHOD") == "PUBLISH"
    [ev] = cal.components("VEVENT")
    assert ev.value("URL") == "https://rooms.example.jp/bookings/44"


def test_invitation_request_and_cancel(app) -> None:  # type: ignore[no-untyped-def]
    app.config["MAIL_FROM"] = "中部センター <desk@chubu.example.jp>"
    b = _booking("provisional", sequence=1)
    req = rfc5545.parse(booking_invitation(b, "request", BASE, "ja"))
    assert req.value("METHOD") == "REQUEST"
    [ev] = req.components("VEVENT")
    assert ev.value("UID") == "booking-5f0c2a9e-1111-2222-3333-444455556666@rooms.example.jp"
    assert ev.value("SEQUENCE") == "1" and ev.value("STATUS") == "TENTATIVE"
    org = ev.one("ORGANIZER")
    assert org.value == "mailto:desk@chubu.example.jp" and org.params["CN"] == ["中部地区市民センター"]
    b2 = _booking("released", sequence=2)
    cancel = rfc5545.parse(booking_invitation(b2, "CANCEL", BASE, "en"))
    assert cancel.value("METHOD") == "CANCEL"
    [ev2] = cancel.components("VEVENT")
    assert ev2.value("STATUS") == "CANCELLED" and ev2.value("SEQUENCE") == "2"
    assert ev2.value("UID") == ev.value("UID")
    with pytest.raises(ValueError, match="METHOD"):
        booking_invitation(b, "PUBLISH", BASE, "ja")


def test_mail_area_uses_this_invitation(app) -> None:  # type: ignore[no-untyped-def]
    from reservations.mail import ics

    b = _booking()
    assert ics.invitation(b, "REQUEST", BASE, "ja") == booking_invitation(b, "REQUEST", BASE, "ja")


def test_dtstart_round_trip_in_tokyo_across_dates() -> None:
    for start in (tokyo(2026, 12, 31, 23, 0), tokyo(2027, 1, 1, 0, 0), datetime(2027, 3, 14, 8, 30, tzinfo=TOKYO)):
        b = _booking(start=start)
        cal = rfc5545.parse(_feed(b, private=True))
        ev = cal.components("VEVENT")[0]
        assert rfc5545.event_time(cal, ev, "DTSTART") == start
        assert ev.value("DTSTART") == start.strftime("%Y%m%dT%H%M%S")


def test_event_cache_tells_time_zones_apart() -> None:
    """Aware datetimes in two zones can be equal; the cached event must still carry its own TZID."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from reservations.feeds import ical

    tokyo_start = datetime(2026, 12, 8, 18, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    seoul_start = tokyo_start.astimezone(ZoneInfo("Asia/Seoul"))
    assert tokyo_start == seoul_start
    a = ical._event_bytes((("uid", "x@h"), ("dtstart", tokyo_start)), "Asia/Tokyo")
    b = ical._event_bytes((("uid", "x@h"), ("dtstart", seoul_start)), "Asia/Seoul")
    assert b"TZID=Asia/Tokyo" in a and b"TZID=Asia/Seoul" in b
