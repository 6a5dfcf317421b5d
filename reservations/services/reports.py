"""Room utilization for a facility over a period: how many of the hours a room could be
booked were booked, so staff and the city can see which rooms are under-used.

Available hours are the room's bookable cells (slots, or opening hours for hourly rooms)
on days it is open; booked hours are bookings that held or hold the room (pending,
provisional, confirmed, checked in, completed). No-shows are counted apart: the room was
held but not used, which is what the city's "under-used rooms" question is about.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.availability import CellState, day_cells
from ..domain.calendar import local_day
from ..domain.lifecycle import ACTIVE, Status
from ..models import Booking, Facility, Room, User
from .mapping import FacilityRooms, facility_calendar, local_bounds
from .permissions import require_staff_for

HELD = ACTIVE | {Status.COMPLETED}  # bookings that took the room, whether still to come or past
_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)  # "now" for counting cells: none of them is past


@dataclass(frozen=True)
class RoomUse:
    room: Room
    available_hours: float
    booked_hours: float
    no_show_hours: float
    bookings: int

    @property
    def rate(self) -> float:
        """Booked share of the available hours, 0–1 (0 when the room was never open)."""
        return min(1.0, self.booked_hours / self.available_hours) if self.available_hours else 0.0


@dataclass(frozen=True)
class Utilization:
    facility: Facility
    first: date
    last: date
    rooms: list[RoomUse]

    @property
    def rate(self) -> float:
        available = sum(r.available_hours for r in self.rooms)
        return sum(r.booked_hours for r in self.rooms) / available if available else 0.0


def utilization(session: Session, actor: User, facility: Facility, first: date, last: date) -> Utilization:
    """Per active room of ``facility``, from ``first`` to ``last`` inclusive (local days)."""
    require_staff_for(actor, facility.id)
    fr = FacilityRooms([r for r in facility.rooms if r.active])
    cal = facility_calendar(facility)
    start, end = local_bounds(first, last, cal.tz)
    # the bookable stretches of each room and day; a booking counts only where it covers them
    # (a full-day booking also spans the breaks between slots)
    spans: dict[tuple[int, date], list[tuple[datetime, datetime]]] = {}
    for room in fr.rooms:
        rules = fr.rules(room)
        d = first
        while d <= last:
            spans[(room.id, d)] = [(c.start, c.end) for c in day_cells(rules, cal, d, [], _LONG_AGO, "registered")
                                   if c.state != CellState.CLOSED]
            d += timedelta(days=1)
    booked: dict[int, float] = defaultdict(float)
    no_show: dict[int, float] = defaultdict(float)
    counts: dict[int, int] = defaultdict(int)
    held = {s.value for s in HELD}
    rows = session.execute(
        select(Booking.room_id, Booking.status, Booking.start_at, Booking.end_at)
        .where(Booking.room_id.in_([r.id for r in fr.rooms]), Booking.start_at >= start, Booking.start_at < end)
    )
    for room_id, status, s, e in rows:
        cells = spans.get((room_id, local_day(s, cal.tz)), [])
        hours = sum(max(0.0, (min(e, b) - max(s, a)).total_seconds()) for a, b in cells) / 3600
        if status in held:
            booked[room_id] += hours
            counts[room_id] += 1
        elif status == Status.NO_SHOW.value:
            no_show[room_id] += hours
    out = []
    for room in fr.rooms:
        available = sum((b - a).total_seconds() for (rid, _), cells in spans.items() if rid == room.id
                        for a, b in cells) / 3600
        out.append(RoomUse(room, available, booked[room.id], no_show[room.id], counts[room.id]))
    return Utilization(facility, first, last, out)
