"""Recurrence across holidays, month ends and the New Year break."""

from __future__ import annotations

from datetime import date

import pytest

from reservations.domain.recurrence import MAX_OCCURRENCES, RecurrenceSpec
from reservations.domain.rules import BookingRequest, check_request

from .helpers import at, calendar, room, t


@pytest.mark.parametrize(("spec", "first", "expected"), [
    (RecurrenceSpec("weekly", count=3), date(2026, 12, 8), [date(2026, 12, 8), date(2026, 12, 15), date(2026, 12, 22)]),
    (RecurrenceSpec("weekly", interval=2, until=date(2027, 1, 5)), date(2026, 12, 8),
     [date(2026, 12, 8), date(2026, 12, 22), date(2027, 1, 5)]),
    (RecurrenceSpec("weekly", weekdays=(1, 3), count=4), date(2026, 12, 8),
     [date(2026, 12, 8), date(2026, 12, 10), date(2026, 12, 15), date(2026, 12, 17)]),
    # second Tuesday of each month
    (RecurrenceSpec("monthly", nth=2, weekdays=(1,), count=3), date(2026, 12, 8),
     [date(2026, 12, 8), date(2027, 1, 12), date(2027, 2, 9)]),
    # last Friday
    (RecurrenceSpec("monthly", nth=-1, weekdays=(4,), count=3), date(2026, 12, 25),
     [date(2026, 12, 25), date(2027, 1, 29), date(2027, 2, 26)]),
    # the 31st: months without one are skipped (RFC 5545 semantics), not moved
    (RecurrenceSpec("monthly", count=3), date(2027, 1, 31), [date(2027, 1, 31), date(2027, 3, 31), date(2027, 5, 31)]),
])
def test_expand(spec: RecurrenceSpec, first: date, expected: list[date]) -> None:
    assert spec.expand(first) == expected


def test_expansion_is_capped() -> None:
    assert len(RecurrenceSpec("weekly", until=date(2030, 1, 1)).expand(date(2026, 12, 8))) == MAX_OCCURRENCES


@pytest.mark.parametrize(("spec", "codes"), [
    (RecurrenceSpec("yearly", count=2), {"recurrence_freq"}),
    (RecurrenceSpec("weekly"), {"recurrence_end"}),
    (RecurrenceSpec("weekly", until=date(2026, 1, 1)), {"recurrence_end"}),
    (RecurrenceSpec("weekly", count=0), {"recurrence_count"}),
    (RecurrenceSpec("weekly", interval=0, count=2), {"recurrence_interval"}),
    (RecurrenceSpec("monthly", nth=5, count=2), {"recurrence_nth"}),
])
def test_validation(spec: RecurrenceSpec, codes: set[str]) -> None:
    assert {f.code for f in spec.validate(date(2026, 12, 8))} == codes


def test_rrule_text_and_dict_round_trip() -> None:
    spec = RecurrenceSpec("monthly", nth=2, weekdays=(1,), until=date(2027, 3, 31))
    assert spec.rrule_text(date(2026, 12, 8)) == "FREQ=MONTHLY;BYDAY=2TU;UNTIL=20270331"
    assert RecurrenceSpec.from_dict(spec.to_dict()) == spec
    assert RecurrenceSpec("weekly", count=4).rrule_text(date(2026, 12, 8)) == "FREQ=WEEKLY;BYDAY=TU;COUNT=4"


def test_weekly_monday_series_reports_holidays_instead_of_dropping_them() -> None:
    """Mondays from Jan 4, 2027: Jan 11 is 成人の日, reported as closed rather than dropped."""
    days = RecurrenceSpec("weekly", count=3).expand(date(2027, 1, 4))
    assert days == [date(2027, 1, 4), date(2027, 1, 11), date(2027, 1, 18)]
    now = t(2026, 12, 1, 10)
    results = {d: [f.code for f in check_request(BookingRequest(1, at(d, 8, 30), at(d, 12), 5, "registered"),
                                                 room(), calendar(), [], now)] for d in days}
    assert results == {date(2027, 1, 4): [], date(2027, 1, 11): ["closed"], date(2027, 1, 18): []}
