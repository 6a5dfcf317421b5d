"""Every rule a booking request must pass, table-driven."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from reservations.domain.rules import BookingRequest, ClaimPolicy, check_request, find_conflicts
from reservations.domain.windows import BookingWindow

from .helpers import at, calendar, held, hourly_room, room, t

NOW = t(2026, 12, 1, 10)  # Tuesday
DAY = date(2026, 12, 8)  # Tuesday


def req(start, end, *, attendees=10, group_class="registered", slot=None, room_id=1):  # type: ignore[no-untyped-def]
    return BookingRequest(room_id, start, end, attendees, group_class, slot)


CASES = [
    # (id, request, existing, expected codes)
    ("ok morning slot", req(at(DAY, 8, 30), at(DAY, 12), slot="morning"), [], []),
    ("ok joined full day", req(at(DAY, 8, 30), at(DAY, 21), slot="full_day"), [], []),
    ("not a slot", req(at(DAY, 9), at(DAY, 12)), [], ["not_a_slot"]),
    ("slot code mismatch", req(at(DAY, 8, 30), at(DAY, 12), slot="evening"), [], ["not_a_slot"]),
    ("inverted", req(at(DAY, 12), at(DAY, 8, 30)), [], ["invalid_time"]),
    ("two days", req(at(DAY, 17, 30), at(DAY + timedelta(1), 9)), [], ["multi_day"]),
    ("weekly closure (one-off)", req(at(date(2026, 12, 17), 8, 30), at(date(2026, 12, 17), 12)), [], ["closed"]),
    ("holiday", req(at(date(2027, 1, 11), 8, 30), at(date(2027, 1, 11), 12)), [], ["closed"]),  # 成人の日
    ("new year", req(at(date(2026, 12, 29), 8, 30), at(date(2026, 12, 29), 12)), [], ["closed"]),
    ("past", req(at(date(2026, 11, 30), 8, 30), at(date(2026, 11, 30), 12)), [], ["in_past"]),
    ("lead time", req(t(2026, 12, 1, 10, 30), t(2026, 12, 1, 12)), [], ["not_a_slot", "lead_time"]),
    ("window registered 3 months", req(at(date(2027, 3, 2), 8, 30), at(date(2027, 3, 2), 12)), [], []),
    ("window registered closed", req(at(date(2027, 4, 6), 8, 30), at(date(2027, 4, 6), 12)), [], ["window_not_open"]),
    ("window general", req(at(date(2027, 1, 5), 8, 30), at(date(2027, 1, 5), 12), group_class="general"), [], []),
    ("window general closed", req(at(date(2027, 2, 2), 8, 30), at(date(2027, 2, 2), 12), group_class="general"), [],
     ["window_not_open"]),
    ("over capacity", req(at(DAY, 8, 30), at(DAY, 12), attendees=31), [], ["over_capacity"]),
    ("no attendees", req(at(DAY, 8, 30), at(DAY, 12), attendees=0), [], ["attendees_invalid"]),
    ("conflict", req(at(DAY, 8, 30), at(DAY, 12)), [held(9, {1}, at(DAY, 10), at(DAY, 11))], ["conflict"]),
    ("adjacent before", req(at(DAY, 13), at(DAY, 17)), [held(9, {1}, at(DAY, 8, 30), at(DAY, 13))], []),
    ("adjacent after", req(at(DAY, 13), at(DAY, 17)), [held(9, {1}, at(DAY, 17), at(DAY, 18))], []),
    ("other unit", req(at(DAY, 13), at(DAY, 17)), [held(9, {2}, at(DAY, 13), at(DAY, 17))], []),
]


@pytest.mark.parametrize(("request_", "existing", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rules(request_, existing, expected) -> None:  # type: ignore[no-untyped-def]
    got = [f.code for f in check_request(request_, room(), calendar(), existing, NOW)]
    assert got == expected


def test_every_failure_has_both_languages_and_a_field() -> None:
    r = req(at(date(2026, 12, 29), 9), at(date(2026, 12, 29), 12), attendees=99)
    failures = check_request(r, room(), calendar(), [held(9, {1}, at(date(2026, 12, 29), 9), at(date(2026, 12, 29), 10))],
                             NOW)
    assert {f.code for f in failures} == {"not_a_slot", "closed", "over_capacity", "conflict"}
    for f in failures:
        assert f.message_ja and f.message_en and f.message_ja != f.message_en and f.field


def test_conflict_message_names_the_time_and_details_list_the_booking() -> None:
    [f] = check_request(req(at(DAY, 8, 30), at(DAY, 12)), room(), calendar(),
                        [held(9, {1}, at(DAY, 10), at(DAY, 11))], NOW)
    assert "10:00〜11:00" in f.message_ja and "10:00–11:00" in f.message_en
    assert f.details["conflicts"][0]["booking_id"] == 9


def test_staff_overrides_window_and_lead_time_only() -> None:
    far = req(at(date(2027, 6, 1), 8, 30), at(date(2027, 6, 1), 12))
    assert [f.code for f in check_request(far, room(), calendar(), [], NOW)] == ["window_not_open"]
    assert check_request(far, room(), calendar(), [], NOW, overrides=frozenset({"window"})) == []
    closed = req(at(date(2026, 12, 29), 8, 30), at(date(2026, 12, 29), 12))
    assert [f.code for f in check_request(closed, room(), calendar(), [], NOW,
                                          overrides=frozenset({"window", "lead_time"}))] == ["closed"]


def test_buffer_blocks_the_next_booking_but_not_the_one_before() -> None:
    r = room(buffer_minutes=30, scheme=hourly_room().scheme)
    existing = [held(9, {1}, at(DAY, 10), at(DAY, 12, 30))]  # 10–12 plus 30 min cleanup
    assert [f.code for f in check_request(req(at(DAY, 12), at(DAY, 13)), r, calendar(), existing, NOW)] == ["conflict"]
    assert check_request(req(at(DAY, 12, 30), at(DAY, 13, 30)), r, calendar(), existing, NOW) == []
    # our own buffer: 8:30–9:30 plus 30 min reaches 10:00 exactly, which is fine
    assert check_request(req(at(DAY, 8, 30), at(DAY, 9, 30)), r, calendar(), existing, NOW) == []
    assert [f.code for f in check_request(req(at(DAY, 9), at(DAY, 10)), r, calendar(), existing, NOW)] == ["conflict"]


@pytest.mark.parametrize(("start", "end", "expected"), [
    ((9, 0), (10, 0), []),
    ((9, 15), (10, 15), ["not_aligned"]),
    ((9, 0), (9, 30), ["too_short"]),
    ((9, 0), (14, 0), ["too_long"]),
    ((8, 0), (9, 0), ["outside_hours"]),
    ((20, 0), (21, 30), ["outside_hours"]),
])
def test_free_time_rooms(start, end, expected) -> None:  # type: ignore[no-untyped-def]
    r = req(at(DAY, *start), at(DAY, *end), room_id=2)
    assert [f.code for f in check_request(r, hourly_room(), calendar(), [], NOW)] == expected


def test_divisible_rooms_share_units_both_ways() -> None:
    hall = room(10, units=frozenset({11, 12}), related=frozenset({10, 11, 12}), capacity=100)
    part_a = room(11, units=frozenset({11}), related=frozenset({10, 11}))
    part_b = room(12, units=frozenset({12}), related=frozenset({10, 12}))
    a_booked = [held(1, {11}, at(DAY, 13), at(DAY, 17), room_id=11)]
    hall_booked = [held(2, {11, 12}, at(DAY, 13), at(DAY, 17), room_id=10)]
    r = req(at(DAY, 13), at(DAY, 17))
    assert [f.code for f in check_request(r, hall, calendar(), a_booked, NOW)] == ["conflict"]
    assert check_request(r, part_b, calendar(), a_booked, NOW) == []
    assert [f.code for f in check_request(r, part_a, calendar(), hall_booked, NOW)] == ["conflict"]
    assert [f.code for f in check_request(r, part_b, calendar(), hall_booked, NOW)] == ["conflict"]


def test_closure_of_a_part_closes_the_whole() -> None:
    from reservations.domain.calendar import Closure

    cal = calendar(closures=(Closure(DAY, DAY, "A面工事", "Works in A", room_id=11),))
    hall = room(10, units=frozenset({11, 12}), related=frozenset({10, 11, 12}))
    part_b = room(12, units=frozenset({12}), related=frozenset({10, 12}))
    r = req(at(DAY, 13), at(DAY, 17))
    assert [f.code for f in check_request(r, hall, cal, [], NOW)] == ["closed"]
    assert check_request(r, part_b, cal, [], NOW) == []


def test_find_conflicts_ignores_a_given_booking() -> None:
    existing = [held(1, {1}, at(DAY, 9), at(DAY, 10))]
    assert find_conflicts(frozenset({1}), at(DAY, 9), at(DAY, 10), existing, ignore_booking=1) == []


@pytest.mark.parametrize(("window", "use", "opens"), [
    (BookingWindow(1), date(2027, 3, 15), date(2027, 2, 1)),
    (BookingWindow(3), date(2027, 3, 31), date(2026, 12, 1)),
    (BookingWindow(1, from_first_of_month=False), date(2027, 3, 31), date(2027, 2, 28)),
    (BookingWindow(13), date(2028, 1, 1), date(2026, 12, 1)),
])
def test_window_opening_day(window: BookingWindow, use: date, opens: date) -> None:
    assert window.opens_on(use) == opens
    assert window.is_open(use, opens) and not window.is_open(use, opens - timedelta(days=1))


@pytest.mark.parametrize(("booked", "start", "expected"), [
    (t(2026, 12, 1, 10), at(DAY, 17, 30), t(2026, 12, 6)),  # end of Dec 5 (3 days before) < 7 days
    (t(2026, 12, 1, 10), at(date(2027, 1, 20), 9), t(2026, 12, 8, 10)),  # 7 days after booking
    (t(2026, 12, 7, 10), at(DAY, 17, 30), at(DAY, 17, 30)),  # too close: claim before use
])
def test_claim_deadline(booked, start, expected) -> None:  # type: ignore[no-untyped-def]
    assert ClaimPolicy().deadline(booked, start, "Asia/Tokyo") == expected


@pytest.mark.parametrize(("mode", "fee", "expected"), [
    ("if_fee", 0, False), ("if_fee", 100, True), ("always", 0, True), ("never", 880, False),
])
def test_needs_claim(mode: str, fee: int, expected: bool) -> None:
    assert ClaimPolicy(mode=mode).needs_claim(fee) is expected
