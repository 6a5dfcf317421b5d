"""Cells of the grid and free intervals; time-range arithmetic (property-based)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from reservations.domain.availability import CellState, day_cells, free_intervals
from reservations.domain.calendar import japanese_holiday
from reservations.domain.timeranges import TimeRange, merge, subtract

from .helpers import at, calendar, held, hourly_room, room, t

NOW = t(2026, 12, 1, 10)
DAY = date(2026, 12, 8)


def test_cells_states() -> None:
    cells = day_cells(room(), calendar(), DAY, [held(5, {1}, at(DAY, 13), at(DAY, 17))], NOW, "registered")
    assert [(c.slot_code, c.state) for c in cells] == [
        ("morning", CellState.FREE), ("afternoon", CellState.TAKEN), ("evening", CellState.FREE)]
    assert cells[1].booking_ids == (5,)
    assert {c.state for c in day_cells(room(), calendar(), date(2026, 12, 29), [], NOW, "registered")} == {CellState.CLOSED}
    today = day_cells(room(), calendar(), date(2026, 12, 1), [], NOW, "registered")
    assert [c.state for c in today] == [CellState.PAST, CellState.FREE, CellState.FREE]
    later = day_cells(room(), calendar(), date(2027, 2, 2), [], NOW, "general")
    assert {c.state for c in later} == {CellState.NOT_OPEN} and later[0].reason_ja.startswith("2027年01月01日")
    assert all(c.symbol and c.label("ja") and c.label("en") for c in cells)


def test_hourly_room_steps_and_free_intervals() -> None:
    cells = day_cells(hourly_room(), calendar(), DAY, [held(5, {2}, at(DAY, 10), at(DAY, 12))], NOW, "registered")
    assert len(cells) == 25 and cells[0].start == at(DAY, 8, 30)
    assert [c.state for c in cells if c.start >= at(DAY, 10) and c.end <= at(DAY, 12)] == [CellState.TAKEN] * 4
    free = free_intervals(hourly_room(), calendar(), DAY, [held(5, {2}, at(DAY, 10), at(DAY, 12))], NOW)
    assert free == [TimeRange(at(DAY, 8, 30), at(DAY, 10)), TimeRange(at(DAY, 12), at(DAY, 21))]
    assert free_intervals(hourly_room(), calendar(), date(2026, 12, 1), [], NOW)[0].start == NOW


def test_holiday_names_come_from_the_holidays_package() -> None:
    assert japanese_holiday(date(2027, 1, 11)) == "成人の日"
    assert japanese_holiday(date(2027, 1, 12)) is None
    assert japanese_holiday(date(2027, 1, 11), "en_US") == "Coming of Age Day"
    closed = calendar().closed_reason(date(2027, 1, 11))  # the helper's facility closes on holidays
    assert closed is not None and (closed.label_ja, closed.label_en) == (
        "祝日休館（成人の日）", "Closed on national holidays (Coming of Age Day)")


base = datetime(2026, 12, 8, tzinfo=at(DAY, 0).tzinfo)
ranges = st.builds(
    lambda a, n: TimeRange(base + timedelta(minutes=a), base + timedelta(minutes=a + n)),
    st.integers(0, 600), st.integers(1, 300),
)


@given(st.lists(ranges, max_size=8))
def test_merge_is_sorted_disjoint_and_covers_the_same_minutes(rs: list[TimeRange]) -> None:
    merged = merge(rs)
    for a, b in zip(merged, merged[1:], strict=False):
        assert a.end < b.start
    minute = timedelta(minutes=1)
    for m in range(0, 901):
        x = base + m * minute
        assert any(r.start <= x < r.end for r in rs) == any(r.start <= x < r.end for r in merged)


@given(ranges, st.lists(ranges, max_size=6))
def test_subtract_leaves_exactly_the_uncovered_part(whole: TimeRange, taken: list[TimeRange]) -> None:
    free = subtract(whole, taken)
    minute = timedelta(minutes=1)
    x = whole.start
    while x < whole.end:
        in_free = any(r.start <= x < r.end for r in free)
        in_taken = any(r.start <= x < r.end for r in taken)
        assert in_free == (not in_taken)
        x += minute
    for r in free:
        assert whole.contains(r)


@given(ranges, ranges)
def test_overlap_is_symmetric_and_half_open(a: TimeRange, b: TimeRange) -> None:
    assert a.overlaps(b) == b.overlaps(a)
    if a.end == b.start:
        assert not a.overlaps(b)


def test_a_conflict_says_the_times_the_rooms_and_whose_booking_it_is() -> None:
    from zoneinfo import ZoneInfo

    from reservations.domain.rules import conflict_message

    tokyo = ZoneInfo("Asia/Tokyo")
    evening = (at(DAY, 17, 30), at(DAY, 21))
    assert conflict_message([evening, evening], tokyo) == (
        "この時間は既に予約があります（17:30〜21:00）。", "This time is already booked (17:30–21:00).")
    assert conflict_message([evening], tokyo, rooms=[("多目的ホールA", "Hall A")]) == (
        "この時間は既に予約があります（17:30〜21:00、多目的ホールA）。",
        "This time is already booked (17:30–21:00, Hall A).")
    ja, en = conflict_message([evening], tokyo, own_group=True)
    assert ja.startswith("この時間は、この団体が既に予約しています（17:30〜21:00）") and en.startswith("Your group")
