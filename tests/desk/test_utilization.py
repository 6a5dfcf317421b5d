"""Utilization: the booked share of each room's bookable hours in a month, as bars and a table."""

from __future__ import annotations

from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient

from reservations.extensions import db
from reservations.services import bookings as bsvc
from reservations.services import reports
from reservations.services.permissions import Forbidden
from tests.desk.conftest import Desk, login
from tests.factories import NOW

DEC = (date(2026, 12, 1), date(2026, 12, 31))
# slots 08:30–12:00, 13:00–17:00, 17:30–21:00 = 11 h a day; open every day but Dec 29–31 (New Year)
OPEN_HOURS = 28 * 11


def _world(desk: Desk) -> None:
    desk.book(desk.large, date(2026, 12, 8), "evening")  # 3.5 h
    desk.book(desk.large, date(2026, 12, 9), "full_day")  # 11 h of slots (the breaks are not bookable)
    gone = desk.book(desk.large, date(2026, 12, 10), "morning")
    bsvc.cancel(db.session(), gone, actor=desk.admin, now=NOW)
    missed = desk.book(desk.large, date(2026, 12, 11), "afternoon")
    missed.status = "no_show"  # as release-no-shows leaves it
    desk.book(desk.large, date(2027, 1, 5), "evening")  # another month
    db.session.commit()


def test_hours_count_only_bookable_time_and_held_bookings(desk: Desk) -> None:
    _world(desk)
    report = reports.utilization(db.session(), desk.staff, desk.facility, *DEC)
    by_room = {r.room.id: r for r in report.rooms}
    large = by_room[desk.large.id]
    assert large.available_hours == OPEN_HOURS
    assert large.booked_hours == 14.5 and large.bookings == 2
    assert large.no_show_hours == 4
    assert large.rate == pytest.approx(14.5 / OPEN_HOURS)
    assert by_room[desk.hall.id].booked_hours == 0 and by_room[desk.hall.id].rate == 0
    assert report.rate == pytest.approx(14.5 / (OPEN_HOURS * len(report.rooms)))


def test_staff_of_another_facility_may_not_look(desk: Desk) -> None:
    with pytest.raises(Forbidden):
        reports.utilization(db.session(), desk.other_staff, desk.facility, *DEC)


def test_page_shows_bars_and_table_and_switches_month(app: Flask, client: FlaskClient, desk: Desk) -> None:
    _world(desk)
    login(client, desk.staff)
    page = client.get(f"/desk/utilization?facility={desk.facility.id}&month=2026-12")
    html = page.data.decode()
    assert page.status_code == 200
    assert "大会議室" in html and "5%" in html  # 14.5 / 308 h
    assert 'class="util-bar"' in html and "<table" in html
    assert "month=2027-01" in html and "month=2026-11" in html
    assert client.get(f"/desk/utilization?facility={desk.other.id}").status_code == 403
    assert client.get("/desk/utilization?month=garbage").status_code == 200  # falls back to this month
    member = app.test_client()
    login(member, desk.member)
    assert member.get("/desk/utilization").status_code == 403
