"""Links that hand a feed or one booking to Apple/Google/Outlook calendars (pure functions).

* ``webcal://`` — Apple Calendar, Thunderbird, Outlook desktop subscribe to it.
* Google: ``https://calendar.google.com/calendar/r?cid=<url-encoded webcal URL>`` opens the
  "add by URL" dialog (Google fetches the feed from its own servers: the URL must be public).
* Outlook on the web: ``https://outlook.office.com/calendar/addfromweb?url=…&name=…`` —
  undocumented; the page also tells people the menu path "Add calendar → Subscribe from web".
* One booking: Google's ``render?action=TEMPLATE`` and Outlook's ``deeplink/compose`` links,
  with UTC times.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from .ical import clean_text

if TYPE_CHECKING:
    from ..models import Booking


def webcal_url(feed_url: str) -> str:
    parts = urlsplit(feed_url)
    return urlunsplit(("webcal", parts.netloc, parts.path, parts.query, parts.fragment))


def subscribe_links(feed_url: str, feed_title: str | None = None) -> dict[str, str]:
    webcal = webcal_url(feed_url)
    outlook = {"url": feed_url}
    if feed_title:
        outlook["name"] = feed_title
    return {
        "feed": feed_url,
        "webcal": webcal,
        "google": "https://calendar.google.com/calendar/r?cid=" + quote(webcal, safe=""),
        "outlook": "https://outlook.office.com/calendar/addfromweb?" + urlencode(outlook, quote_via=quote),
    }


def _utc(dt: datetime, fmt: str) -> str:
    return dt.astimezone(UTC).strftime(fmt)


def add_to_calendar_links(booking: Booking, *, language: str, base_url: str, ics_url: str) -> dict[str, str]:
    lang = "en" if language == "en" else "ja"
    room = booking.room
    facility = room.facility
    title = f"{room.name(lang)}（{facility.name(lang)}）" if lang == "ja" else f"{room.name(lang)} ({facility.name(lang)})"
    location = ", ".join(x for x in (f"{facility.name(lang)} {room.name(lang)}", facility.address(lang)) if x)
    page = f"{base_url.rstrip('/')}/bookings/{booking.id}"
    details = clean_text(booking.purpose)
    details = f"{details}\n{page}" if details else page
    google = urlencode({
        "action": "TEMPLATE",
        "text": clean_text(title),
        "dates": f"{_utc(booking.start_at, '%Y%m%dT%H%M%SZ')}/{_utc(booking.end_at, '%Y%m%dT%H%M%SZ')}",
        "location": clean_text(location),
        "details": details,
    }, quote_via=quote)
    outlook = urlencode({
        "path": "/calendar/action/compose",
        "rru": "addevent",
        "subject": clean_text(title),
        "startdt": _utc(booking.start_at, "%Y-%m-%dT%H:%M:%SZ"),
        "enddt": _utc(booking.end_at, "%Y-%m-%dT%H:%M:%SZ"),
        "location": clean_text(location),
        "body": details,
    }, quote_via=quote)
    return {
        "ics": ics_url,
        "google": "https://calendar.google.com/calendar/render?" + google,
        "outlook": "https://outlook.office.com/calendar/deeplink/compose?" + outlook,
    }
