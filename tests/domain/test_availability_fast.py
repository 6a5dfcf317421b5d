"""The grid's cells by the fast path (slot bounds once per scheme, holds bisected by start) are
exactly those of the straightforward definition: every hold checked against every cell."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from reservations.domain.availability import Cell, CellState, day_cells, free_intervals
from reservations.domain.calendar import Closure, FacilityCalendar, local, local_day
from reservations.domain.rules import Occupied, RoomRules, find_conflicts
from reservations.domain.slots import FixedSlots, FreeTime, Slot
from reservations.domain.timeranges import TimeRange, subtract
from reservations.domain.windows import BookingWindow

from .helpers import SLOTS, TZ, at, calendar, held, hourly_room, room, t

NOW = t(2026, 12, 1, 10)


def reference_cells(
    rules: RoomRules, cal: FacilityCalendar, day: date, existing: Sequence[Occupied], now: datetime,
    group_class: str, keep: Callable[[datetime, str | None], bool] | None = None,
) -> list[Cell]:
    """The cells by their definition, as day_cells computed them before the fast path."""
    from reservations.domain.windows import window_for

    closed = cal.closed_reason(day, rules.related)
    window = window_for(rules.windows, group_class)
    window_open = window.is_open(day, local_day(now, cal.tz))
    opens = window.opens_on(day)
    scheme = rules.scheme
    spans: list[tuple[datetime, datetime, str | None]] = []
    if isinstance(scheme, FixedSlots):
        for s in scheme.slots:
            span = scheme.span(day, s.code, cal.tz)
            if span:
                spans.append((span[0], span[1], s.code))
    else:
        hours = cal.opening(day)
        spans = [(a, b, None) for a, b in scheme.steps(*hours)] if hours else []
    cells = []
    for start, end, code in spans:
        if keep is not None and not keep(start, code):
            continue
        ids: tuple[int, ...] = ()
        if closed:
            state, rja, ren = CellState.CLOSED, closed.label_ja, closed.label_en
        elif start <= now:
            state, rja, ren = CellState.PAST, "", ""
        else:
            hits = find_conflicts(rules.units, start, end + rules.buffer, existing)
            if hits:
                ids = tuple(sorted({h.booking_id for h in hits}))
                state, rja, ren = CellState.TAKEN, "", ""
            elif not window_open:
                state = CellState.NOT_OPEN
                rja, ren = f"{opens:%Y年%m月%d日}受付開始", f"Opens {opens:%Y-%m-%d}"
            else:
                state, rja, ren = CellState.FREE, "", ""
        cells.append(Cell(rules.room_id, day, start, end, code, state, rja, ren, ids))
    return cells


def reference_free(rules: RoomRules, cal: FacilityCalendar, day: date, existing: Sequence[Occupied],
                   now: datetime) -> list[TimeRange]:
    if cal.closed_reason(day, rules.related):
        return []
    hours = cal.opening(day)
    if hours is None or max(hours[0], now) >= hours[1]:
        return []
    taken = [TimeRange(o.start - rules.buffer, o.end) for o in existing
             if o.units & rules.units and o.end > o.start - rules.buffer]
    return subtract(TimeRange(max(hours[0], now), hours[1]), taken)


# -- hand-picked cases ---------------------------------------------------------------------------

DAY = date(2026, 12, 8)  # a Tuesday


def states(cells: list[Cell]) -> list[tuple[str | None, CellState, tuple[int, ...]]]:
    return [(c.slot_code, c.state, c.booking_ids) for c in cells]


def test_divisible_hall_part_booked_makes_the_whole_busy_and_the_whole_both_parts() -> None:
    hall = room(10, units=frozenset({11, 12}), related=frozenset({10, 11, 12}))
    part_a = room(11, related=frozenset({10, 11}))
    part_b = room(12, related=frozenset({10, 12}))
    holds = [held(1, {11}, at(DAY, 13), at(DAY, 17), room_id=11),
             held(2, {11, 12}, at(DAY, 17, 30), at(DAY, 21), room_id=10)]
    assert states(day_cells(hall, calendar(), DAY, holds, NOW, "registered")) == [
        ("morning", CellState.FREE, ()), ("afternoon", CellState.TAKEN, (1,)), ("evening", CellState.TAKEN, (2,))]
    assert states(day_cells(part_b, calendar(), DAY, holds, NOW, "registered")) == [
        ("morning", CellState.FREE, ()), ("afternoon", CellState.FREE, ()), ("evening", CellState.TAKEN, (2,))]
    assert states(day_cells(part_a, calendar(), DAY, holds, NOW, "registered"))[1] == (
        "afternoon", CellState.TAKEN, (1,))


def test_a_closure_of_a_part_closes_the_whole_and_not_the_other_part() -> None:
    cal = calendar(closures=(Closure(DAY, DAY, "床工事", "Floor works", room_id=11),))
    hall = room(10, units=frozenset({11, 12}), related=frozenset({10, 11, 12}))
    part_b = room(12, related=frozenset({10, 12}))
    closed = day_cells(hall, cal, DAY, [], NOW, "registered")
    assert {c.state for c in closed} == {CellState.CLOSED} and closed[0].reason_en == "Floor works"
    assert {c.state for c in day_cells(part_b, cal, DAY, [], NOW, "registered")} == {CellState.FREE}


def test_buffer_reaches_the_next_booking_and_touching_holds_do_not_conflict() -> None:
    buffered = room(1, buffer_minutes=30)
    holds = [held(7, {1}, at(DAY, 17, 0), at(DAY, 17, 30))]  # ends as evening starts
    assert states(day_cells(room(1), calendar(), DAY, holds, NOW, "registered"))[1:] == [
        ("afternoon", CellState.FREE, ()), ("evening", CellState.FREE, ())]
    # the afternoon's cleanup (until 17:30) meets the 17:00 hold
    assert states(day_cells(buffered, calendar(), DAY, holds, NOW, "registered"))[1] == (
        "afternoon", CellState.TAKEN, (7,))


def test_window_not_yet_open_past_cells_and_holidays() -> None:
    later = day_cells(room(), calendar(), date(2027, 3, 2), [held(3, {1}, at(date(2027, 3, 2), 9), at(date(2027, 3, 2), 10))],
                      NOW, "general")
    assert states(later)[0] == ("morning", CellState.TAKEN, (3,))  # taken wins over not open
    assert later[1].state == CellState.NOT_OPEN and later[1].reason_en == "Opens 2027-02-01"
    today = day_cells(room(), calendar(), NOW.date(), [], NOW, "registered")
    assert [c.state for c in today] == [CellState.PAST, CellState.FREE, CellState.FREE]
    holiday = day_cells(room(), calendar(), date(2027, 1, 11), [], NOW, "registered")
    assert {c.state for c in holiday} == {CellState.CLOSED} and "成人の日" in holiday[0].reason_ja


def test_partial_day_slots_and_hours() -> None:
    short = FixedSlots((Slot("am", "朝", "Early", time(6), time(7, 15)), Slot("late", "深夜", "Late", time(22), time(23, 59))))
    r = room(1, scheme=short)
    cells = day_cells(r, calendar(), DAY, [held(4, {1}, at(DAY, 23, 30), at(DAY, 23, 45))], NOW, "registered")
    assert states(cells) == [("am", CellState.FREE, ()), ("late", CellState.TAKEN, (4,))]
    half = calendar(hours={1: (time(13), time(15, 30))})
    steps = day_cells(hourly_room(), half, DAY, [], NOW, "registered")
    assert [c.start for c in steps] == [at(DAY, 13) + timedelta(minutes=30 * n) for n in range(5)]


def test_holds_in_another_zone_compare_as_instants() -> None:
    utc_hold = Occupied(9, 1, frozenset({1}), at(DAY, 13).astimezone(UTC), at(DAY, 14).astimezone(UTC))
    ny = ZoneInfo("America/New_York")
    ny_hold = Occupied(8, 1, frozenset({1}), at(DAY, 18).astimezone(ny), at(DAY, 19).astimezone(ny))
    cells = day_cells(room(), calendar(), DAY, [utc_hold, ny_hold], NOW, "registered")
    assert states(cells) == [("morning", CellState.FREE, ()), ("afternoon", CellState.TAKEN, (9,)),
                             ("evening", CellState.TAKEN, (8,))]


# -- randomized: fast path == reference ----------------------------------------------------------

SCHEMES = [SLOTS, FreeTime(30, 60, 240), FreeTime(60, 60, 480), FreeTime(15, 30, 120),
           FixedSlots((Slot("a", "A", "A", time(9), time(9, 45)), Slot("b", "B", "B", time(9, 45), time(18)),
                       Slot("c", "C", "C", time(18, 30), time(23))))]


def random_case(rng: random.Random) -> tuple[RoomRules, FacilityCalendar, date, list[Occupied], datetime, str]:
    scheme = rng.choice(SCHEMES)
    units = frozenset(rng.sample([1, 2, 3], rng.randint(1, 2)))
    rules = room(1, scheme=scheme, units=units, related=frozenset({1}) | units,
                 buffer_minutes=rng.choice([0, 0, 15, 30, 90]),
                 windows={"registered": BookingWindow(rng.randint(0, 3), rng.random() < 0.7),
                          "general": BookingWindow(rng.randint(0, 2), rng.random() < 0.7)})
    hours = {wd: (time(rng.choice([6, 8, 9]), rng.choice([0, 30])), time(rng.choice([17, 21, 22]), rng.choice([0, 30])))
             for wd in range(7) if rng.random() < 0.9}
    closures = tuple(
        Closure(d, d + timedelta(days=rng.randint(0, 2)), "点検", "Inspection", rng.choice([None, 1, 2, 3]))
        for d in (date(2026, 12, 1) + timedelta(days=rng.randint(0, 90)) for _ in range(rng.randint(0, 3))))
    cal = FacilityCalendar(TZ, hours, frozenset(rng.sample(range(7), rng.randint(0, 1))), rng.random() < 0.5,
                           rng.random() < 0.8, closures)
    day = date(2026, 12, 1) + timedelta(days=rng.randint(0, 90))
    base = local(day, time(0), TZ)
    holds = []
    for n in range(rng.randint(0, 25)):
        s = base + timedelta(minutes=rng.randrange(-24 * 60, 48 * 60, rng.choice([5, 15, 30])))
        e = s + timedelta(minutes=rng.randint(1, 14 * 60))
        zone = rng.choice([ZoneInfo(TZ), UTC])
        holds.append(Occupied(rng.randint(1, 40), 1, frozenset(rng.sample([1, 2, 3, 4], rng.randint(1, 2))),
                              s.astimezone(zone), e.astimezone(zone)))
        if n and rng.random() < 0.1:
            holds.append(holds[-1])  # the same hold twice (a hold filed under two units)
    now = local(day, time(rng.randint(0, 23), rng.choice([0, 30])), TZ) - timedelta(days=rng.choice([0, 0, 1, 40, 100]))
    return rules, cal, day, holds, now, rng.choice(["registered", "general", "other"])


@pytest.mark.parametrize("seed", range(40))
def test_fast_cells_equal_the_reference_on_random_days(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(60):
        rules, cal, day, holds, now, group_class = random_case(rng)
        keep: Callable[[datetime, str | None], bool] | None = None
        if rng.random() < 0.4:
            cut = rng.randint(8, 20)
            keep = lambda start, code, cut=cut: (code or "") != "b" and start.astimezone(ZoneInfo(TZ)).hour >= cut  # noqa: E731
        assert day_cells(rules, cal, day, holds, now, group_class, keep) == \
            reference_cells(rules, cal, day, holds, now, group_class, keep)
        if isinstance(rules.scheme, FreeTime):
            assert free_intervals(rules, cal, day, holds, now) == reference_free(rules, cal, day, holds, now)
