"""Fees: slots, joined slots, hours, extras, exemptions, cancellation."""

from __future__ import annotations

from datetime import date

import pytest

from reservations.domain.fees import (
    CancellationTier,
    FeeQuote,
    FeeTable,
    UnknownExtra,
    cancellation_fee,
    quote_fee,
)

from .helpers import CIVIC_50, FEES, PUBLIC_100, t

S, E = t(2026, 12, 8, 17, 30), t(2026, 12, 8, 21)


@pytest.mark.parametrize(("slot", "extras", "exemption", "count", "total"), [
    ("evening", (), None, 1, 880),
    ("full_day", (), None, 3, 2640),
    ("evening", ("aircon",), None, 1, 1100),
    ("full_day", ("aircon",), None, 3, 2640 + 660),  # air conditioning per slot
    ("evening", ("aircon",), CIVIC_50, 1, 550),
    ("evening", ("cooking",), CIVIC_50, 1, 440 + 220),  # cooking is not exemptible
    ("evening", ("aircon", "cooking"), PUBLIC_100, 1, 220),
    ("evening", (), PUBLIC_100, 1, 0),
])
def test_slot_fees(slot: str, extras: tuple[str, ...], exemption, count: int, total: int) -> None:  # type: ignore[no-untyped-def]
    q = quote_fee(FEES, start=S, end=E, slot_code=slot, slot_label=("夜間", "Evening"), slot_count=count,
                  extras=extras, exemption=exemption)
    assert q.total == total
    assert q.lines[0].code == "room"
    if exemption:
        assert q.lines[-1].amount <= 0 and q.lines[-1].code == f"exemption:{exemption.code}"


@pytest.mark.parametrize(("hours", "total"), [((9, 0, 10, 0), 300), ((9, 0, 10, 30), 450), ((9, 0, 13, 0), 1200)])
def test_hourly_fees(hours: tuple[int, int, int, int], total: int) -> None:
    table = FeeTable(per_hour=300)
    q = quote_fee(table, start=t(2026, 12, 8, hours[0], hours[1]), end=t(2026, 12, 8, hours[2], hours[3]),
                  slot_code=None)
    assert q.total == total


def test_odd_exemption_rounds_down_in_the_users_favour() -> None:
    from reservations.domain.fees import Exemption

    q = quote_fee(FeeTable(per_slot={"x": 885}), start=S, end=E, slot_code="x", exemption=Exemption("e", "e", "e", 50))
    assert q.total == 885 - 442


def test_unknown_extra_is_refused() -> None:
    with pytest.raises(UnknownExtra):
        quote_fee(FEES, start=S, end=E, slot_code="evening", extras=("sauna",))


def test_quote_round_trips_through_dict() -> None:
    q = quote_fee(FEES, start=S, end=E, slot_code="evening", extras=("aircon",), exemption=CIVIC_50)
    assert FeeQuote.from_dict(q.to_dict()) == q
    assert q.to_dict()["total"] == q.total


@pytest.mark.parametrize(("days_before", "percent"), [(30, 0), (15, 0), (14, 20), (8, 20), (7, 50), (1, 50), (0, 100)])
def test_cancellation_tiers(days_before: int, percent: int) -> None:
    use = date(2027, 1, 20)
    today = date.fromordinal(use.toordinal() - days_before)
    assert cancellation_fee(1000, use, today) == 1000 * percent // 100


def test_cancellation_waived_or_unpaid_costs_nothing() -> None:
    assert cancellation_fee(1000, date(2027, 1, 20), date(2027, 1, 20), waived=True) == 0
    assert cancellation_fee(0, date(2027, 1, 20), date(2027, 1, 20)) == 0
    assert cancellation_fee(1000, date(2027, 1, 20), date(2027, 1, 19), (CancellationTier(3, 10),)) == 100
