"""The .ics attached to booking mail: one VEVENT, ``METHOD:REQUEST`` or ``METHOD:CANCEL``.

The feeds area owns the calendar representation of a booking; :func:`invitation`
uses its ``booking_invitation(booking, method, base_url, language)`` when that
exists, and otherwise the minimal version below (same UID ``booking-<uid>@<host>``
and SEQUENCE as the feeds, so a calendar that has the booking from a feed updates
the same event).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import icalendar

from ..models import Booking

PRODID = "-//Naya Plaza Reservations//reservations//JA"


def _feeds_function() -> Callable[..., bytes] | None:
    for module in ("reservations.feeds", "reservations.feeds.invitations", "reservations.feeds.invitation",
                   "reservations.feeds.ics"):
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        fn = getattr(mod, "booking_invitation", None)
        if callable(fn):
            return fn  # type: ignore[no-any-return]
    return None


def invitation(booking: Booking, method: str, base_url: str, language: str) -> bytes:
    fn = _feeds_function()
    if fn is not None:
        return fn(booking, method, base_url, language)
    return booking_invitation(booking, method, base_url, language)


def _clean(value: str) -> str:
    """No control characters in TEXT values (user-entered purpose, names)."""
    return "".join(ch for ch in value if ch in "\n\t" or ord(ch) >= 32).strip()


def booking_invitation(booking: Booking, method: str, base_url: str, language: str) -> bytes:
    """A minimal iTIP message for ``booking`` (RFC 5546): REQUEST for new/changed, CANCEL."""
    method = method.upper()
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(f"unsupported METHOD {method}")
    host = urlsplit(base_url).hostname or "localhost"
    room = booking.room
    facility = room.facility
    tz = ZoneInfo(facility.timezone or "Asia/Tokyo")
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", method)
    cal.add("calscale", "GREGORIAN")
    ev = icalendar.Event()
    ev.add("uid", f"booking-{booking.uid}@{host}")
    ev.add("sequence", booking.sequence)
    ev.add("dtstamp", booking.updated_at)
    ev.add("last-modified", booking.updated_at)
    ev.add("created", booking.created_at)
    ev.add("dtstart", booking.start_at.astimezone(tz))
    ev.add("dtend", booking.end_at.astimezone(tz))
    group = booking.group.name if booking.group is not None else booking.contact_name
    summary = f"{room.name(language)}: {group}" if group else room.name(language)
    ev.add("summary", _clean(summary))
    ev.add("location", _clean(f"{facility.name(language)} {room.name(language)} {facility.address(language)}"))
    if booking.purpose:
        ev.add("description", _clean(booking.purpose))
    ev.add("url", f"{base_url.rstrip('/')}/bookings/{booking.id}")
    ev.add("organizer", f"mailto:no-reply@{host}", parameters={"CN": facility.name(language)})
    if method == "CANCEL":
        ev.add("status", "CANCELLED")
    else:
        ev.add("status", "CONFIRMED" if booking.status in ("confirmed", "checked_in") else "TENTATIVE")
    ev.add("transp", "OPAQUE")
    cal.add_component(ev)
    end = booking.end_at.astimezone(tz).date()
    if end < date(2037, 1, 1):
        cal.add_missing_timezones()
    else:
        cal.add_missing_timezones(last_date=end + timedelta(days=366))
    data: Any = cal.to_ical()
    return bytes(data)
