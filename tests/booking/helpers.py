"""Making bookings through the service, as of the test clock."""

from __future__ import annotations

from datetime import date

from reservations.domain.recurrence import RecurrenceSpec
from reservations.extensions import db
from reservations.models import Booking, Group, Room, User
from reservations.services import bookings as svc
from tests.factories import NOW


def book(room: Room, group: Group, day: date, slot: str = "evening", *, actor: User, purpose: str = "定例会",
         attendees: int = 10, recurrence: RecurrenceSpec | None = None, free_only: bool = False) -> list[Booking]:
    inp = svc.BookingInput(room_id=room.id, group_id=group.id, day=day, slot_code=slot, purpose=purpose,
                           attendees=attendees, recurrence=recurrence, book_free_only=free_only)
    created = svc.create_booking(db.session(), inp, actor=actor, now=NOW)
    db.session.commit()
    return created
