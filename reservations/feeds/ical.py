"""Bookings as iCalendar (RFC 5545): pure functions from loaded booking rows to bytes.

Nothing here touches the database or the request; the feed service loads the
bookings (room, facility and group already joined) and the views add HTTP.

Choices that subscribed clients depend on (see ``shared/context/ICAL-CHECKLIST.md``):

* One VEVENT per booking. A series is stored as separate bookings, each with its
  own never-changing UID ``booking-<uid>@<host of BASE_URL>``, so cancelling one
  occurrence changes exactly that event (STATUS:CANCELLED, SEQUENCE+1) and no
  RRULE/EXDATE/RECURRENCE-ID bookkeeping can go wrong in a client.
* DTSTAMP and LAST-MODIFIED are the booking's ``updated_at``, not "now", so the
  body (and the ETag) only change when the data changes. SEQUENCE is the
  booking's ``sequence``, which the booking service increments on every change.
* DTSTART/DTEND carry ``TZID`` of the facility's zone with a VTIMEZONE in the
  same calendar (``add_missing_timezones``); never floating times.
* Bookings that ended without being used stay in the window as STATUS:CANCELLED
  so clients remove them: cancelled, rejected, released and also **no_show** —
  a no-show frees the room from that moment, and a busy block would tell the
  public it is taken. Private feeds still say "無断不使用 / No-show" in the title.
* Public events never carry a person's name, e-mail or phone; the group's name
  and the purpose only where the group chose to make them public.
* Text from users is stripped of control characters; ``icalendar`` escapes
  ``\\ ; , newline`` and folds at 75 octets between UTF-8 characters.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import icalendar

from ..domain.lifecycle import status_label

if TYPE_CHECKING:
    from ..models import Booking, Room

PRODID = "-//Naya Plaza Reservations//Calendar feeds//JA"
# bump when the rendering changes, so cached ETags of unchanged data stop matching
FORMAT_VERSION = "1"
REFRESH = timedelta(hours=1)
CALENDAR_TZ = "Asia/Tokyo"

ICAL_STATUS: dict[str, str] = {
    "pending": "TENTATIVE",
    "provisional": "TENTATIVE",
    "confirmed": "CONFIRMED",
    "checked_in": "CONFIRMED",
    "completed": "CONFIRMED",
    "cancelled": "CANCELLED",
    "rejected": "CANCELLED",
    "released": "CANCELLED",
    "no_show": "CANCELLED",
}

BOOKED = {"ja": "予約済み", "en": "Booked", "both": "予約済み (Booked)"}

# C0 controls except LF, DEL, C1 controls, lone surrogates, BOM/zero-width no-break space
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufeff]")


def clean_text(value: str | None) -> str:
    """User text made safe for a TEXT value: CRLF/CR become LF, tabs spaces, other controls go."""
    if not value:
        return ""
    value = value.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return _CONTROL.sub("", value).strip()


def host_of(base_url: str) -> str:
    return urlsplit(base_url).hostname or "localhost"


def event_uid(booking_uid: str, base_url: str) -> str:
    """The UID a booking has forever, in feeds, downloads and mail alike."""
    return f"booking-{booking_uid}@{host_of(base_url)}"


def booking_url(booking_id: int, base_url: str) -> str:
    return f"{base_url.rstrip('/')}/bookings/{booking_id}"


def ical_status(status: str) -> str:
    return ICAL_STATUS[status]


def _names(language: str, ja: str, en: str) -> str:
    if language == "en":
        return en or ja
    return ja


def _label(status: str, language: str) -> str:
    if language == "both":
        return f"{status_label(status, 'ja')} ({status_label(status, 'en')})"
    return status_label(status, language)


@dataclass(frozen=True, slots=True)
class Place:
    """The room and facility an event is in: shared by all events of a room in a feed."""

    room_ja: str
    room_en: str
    facility_ja: str
    facility_en: str
    address_ja: str
    address_en: str | None
    timezone: str


@dataclass(frozen=True, slots=True)
class EventSource:
    """What an event shows of a booking, read as plain columns.

    A year's feed of a busy room has thousands of events; building ORM objects
    (with room, facility and group) for them cost more than rendering them.
    ``source_of`` makes one from a loaded ``Booking`` for single downloads and mail.
    """

    id: int
    uid: str
    status: str
    sequence: int
    created_at: datetime
    updated_at: datetime
    start_at: datetime
    end_at: datetime
    purpose: str | None
    attendees: int
    claim_deadline: datetime | None
    fee_total: int | None
    contact_name: str | None
    group_name: str | None  # None: no group (booked for a person by staff)
    group_public_name: bool
    group_public_purpose: bool
    place: Place


def place_of(room: Room) -> Place:
    f = room.facility
    return Place(room.name_ja, room.name_en, f.name_ja, f.name_en, f.address_ja, f.address_en,
                 f.timezone or CALENDAR_TZ)


def source_of(b: Booking) -> EventSource:
    g = b.group
    return EventSource(
        b.id, b.uid, b.status, b.sequence, b.created_at, b.updated_at, b.start_at, b.end_at, b.purpose,
        b.attendees, b.claim_deadline, b.fee_total, b.contact_name,
        g.name if g is not None else None, bool(g is not None and g.public_name),
        bool(g is not None and g.public_purpose), place_of(b.room))


@dataclass(frozen=True)
class _PlaceText:
    room: str
    facility: str
    address: str
    tz: ZoneInfo


@functools.lru_cache(maxsize=4096)
def _place_text(place: Place, language: str) -> _PlaceText:
    """Cleaned names of a place in one language: a pure function of the place's content."""
    return _PlaceText(
        room=clean_text(_names(language, place.room_ja, place.room_en)),
        facility=clean_text(_names(language, place.facility_ja, place.facility_en)),
        address=clean_text((place.address_en or place.address_ja) if language == "en" else place.address_ja),
        tz=ZoneInfo(place.timezone or CALENDAR_TZ),
    )


# An event is first a tuple of (property, value) pairs: cheap to compute and hashable, so the
# expensive part (icalendar building and folding the event) is cached on its exact content.
# A feed polled hourly by many subscribers re-renders only the events that changed.
Fields = tuple[tuple[str, Any], ...]


def _base_fields(b: EventSource, host: str, tz: ZoneInfo) -> list[tuple[str, Any]]:
    return [
        ("uid", f"booking-{b.uid}@{host}"),
        ("dtstamp", b.updated_at),
        ("created", b.created_at),
        ("last-modified", b.updated_at),
        ("sequence", b.sequence),
        ("dtstart", b.start_at.astimezone(tz)),
        ("dtend", b.end_at.astimezone(tz)),
        ("status", ICAL_STATUS[b.status]),
        ("transp", "OPAQUE"),
    ]


def public_fields(b: EventSource, language: str, base_url: str, host: str | None = None) -> Fields:
    """A busy block: "予約済み (Booked)" or the group's public name, and the room.

    ``language`` is "ja", "en" or "both" (the default of public feeds: bilingual
    label, Japanese names).
    """
    place = _place_text(b.place, "en" if language == "en" else "ja")
    who = clean_text(b.group_name) if b.group_name is not None and b.group_public_name else BOOKED[language]
    room = place.room
    fields = _base_fields(b, host or host_of(base_url), place.tz)
    fields.append(("summary", f"{who} — {room}" if who else room))
    fields.append(("location", f"{room}, {place.facility}"))
    if b.group_name is not None and b.group_public_purpose:
        purpose = clean_text(b.purpose)
        if purpose:
            fields.append(("description", purpose))
    fields.append(("class", "PUBLIC"))
    return tuple(fields)


def _local(dt: datetime, tz: ZoneInfo) -> str:
    return dt.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def private_fields(b: EventSource, language: str, base_url: str, host: str | None = None) -> Fields:
    """Full details for the group's own members: room, address, purpose, status, deadline, link."""
    lang = "en" if language == "en" else "ja"
    place = _place_text(b.place, lang)
    tz = place.tz
    room, facility, address = place.room, place.facility, place.address
    who = clean_text(b.group_name) if b.group_name is not None else clean_text(b.contact_name)
    summary = f"{room} — {who}" if who else room
    if b.status not in ("confirmed", "checked_in", "completed"):
        summary = f"[{status_label(b.status, lang)}] {summary}"
    url = booking_url(b.id, base_url)
    en = lang == "en"
    lines = [f"{'Status' if en else '状態'}: {status_label(b.status, lang)}"]
    if who:
        lines.append(f"{'Group' if en else '団体'}: {who}")
    # room and address are in LOCATION: not repeated, feeds stay well under Google's 1 MB
    purpose = clean_text(b.purpose)
    if purpose:
        lines.append(f"{'Purpose' if en else '利用目的'}: {purpose}")
    lines.append(f"{'Attendees' if en else '利用人数'}: {b.attendees}")
    if b.status == "provisional" and b.claim_deadline is not None:
        lines.append(f"{'Claim/pay by' if en else '手続き期限'}: {_local(b.claim_deadline, tz)}")
    if b.fee_total:
        lines.append(f"{'Fee' if en else '使用料'}: {b.fee_total:,} {'yen' if en else '円'}")
    lines.append(f"{'Booking no.' if en else '受付番号'}: {b.id}")
    lines.append(url)
    fields = _base_fields(b, host or host_of(base_url), tz)
    fields += [
        ("summary", summary),
        ("location", ", ".join(x for x in (f"{facility} {room}", address) if x)),
        ("description", "\n".join(lines)),
        ("url", url),
        ("class", "PRIVATE"),
    ]
    return tuple(fields)


def _event(fields: Fields) -> icalendar.Event:
    ev = icalendar.Event()
    for name, value in fields:
        ev.add(name, value)
    return ev


@functools.lru_cache(maxsize=20_000)
def _event_bytes(fields: Fields, zone: str) -> bytes:
    """``zone`` is part of the key only: aware datetimes in different zones compare (and hash)
    equal, so without it a facility's new time zone would come back with the old TZID."""
    data: Any = _event(fields).to_ical()
    return bytes(data)


def private_event(b: Booking, language: str, base_url: str) -> icalendar.Event:
    return _event(private_fields(source_of(b), language, base_url))


@dataclass(frozen=True)
class FeedInfo:
    """What the calendar object says about itself (X-WR-CALNAME and NAME)."""

    name: str
    description: str = ""


def _calendar(method: str, info: FeedInfo | None) -> icalendar.Calendar:
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    if info is not None:
        name = clean_text(info.name)
        cal.add("name", name)
        cal.add("x-wr-calname", name)
        if info.description:
            cal.add("x-wr-caldesc", clean_text(info.description))
        cal.add("x-wr-timezone", CALENDAR_TZ)
        cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
        cal.add("x-published-ttl", "PT1H")
    return cal


def _finish(cal: icalendar.Calendar, latest: date | None) -> bytes:
    """Add a VTIMEZONE for every TZID used and serialise (CRLF, folded, UTF-8)."""
    if latest is not None and latest >= date(2037, 1, 1):
        cal.add_missing_timezones(last_date=latest + timedelta(days=366))
    else:
        cal.add_missing_timezones()
    data: Any = cal.to_ical()
    return bytes(data)


def _latest(bookings: Iterable[EventSource | Booking]) -> date | None:
    ends = [b.end_at.date() for b in bookings]
    return max(ends) if ends else None


def build_feed(bookings: Iterable[EventSource | Booking], info: FeedInfo, *, private: bool, language: str,
               base_url: str) -> bytes:
    """A subscription feed (METHOD:PUBLISH) with one VEVENT per booking, in the given order."""
    rows = [b if isinstance(b, EventSource) else source_of(b) for b in bookings]
    cal = _calendar("PUBLISH", info)
    fields = private_fields if private else public_fields
    host = host_of(base_url)
    latest = _latest(rows)
    last_date = latest + timedelta(days=366) if latest is not None and latest >= date(2037, 1, 1) else None
    frame = bytes(cal.to_ical())
    end = b"END:VCALENDAR\r\n"
    assert frame.endswith(end)
    # the VTIMEZONEs first (for the announced zone even when empty, so X-WR-TIMEZONE has a definition)
    zone_of = {p: p.timezone or CALENDAR_TZ for p in {b.place for b in rows}}
    zones = b"".join(_timezone_bytes(tzid, last_date) for tzid in sorted(set(zone_of.values()) | {CALENDAR_TZ}))
    events = b"".join(_event_bytes(fields(b, language, base_url, host), zone_of[b.place]) for b in rows)
    return frame[: -len(end)] + zones + events + end


@functools.lru_cache(maxsize=64)
def _timezone_bytes(tzid: str, last_date: date | None) -> bytes:
    tz = icalendar.Timezone.from_tzid(tzid, last_date=last_date) if last_date else icalendar.Timezone.from_tzid(tzid)
    data: Any = tz.to_ical()
    return bytes(data)


def booking_ics(booking: Booking, *, language: str, base_url: str) -> bytes:
    """One booking as a downloadable file: METHOD:PUBLISH, full details (the user may view it)."""
    cal = _calendar("PUBLISH", None)
    cal.add_component(private_event(booking, language, base_url))
    return _finish(cal, _latest([booking]))


def _mail_from_address(mail_from: str | None) -> str:
    from email.utils import parseaddr

    if mail_from is None:
        try:
            from flask import current_app, has_app_context

            mail_from = current_app.config.get("MAIL_FROM") if has_app_context() else None
        except ImportError:  # pragma: no cover
            mail_from = None
    address = parseaddr(mail_from or "")[1]
    return address or "no-reply@localhost"


def booking_invitation(booking: Booking, method: str, base_url: str, language: str,
                       *, mail_from: str | None = None) -> bytes:
    """An iTIP message (RFC 5546) for booking mail: ``REQUEST`` (new/changed) or ``CANCEL``.

    Same UID and SEQUENCE as the feeds, so a calendar that already has the event
    from a feed updates it. ORGANIZER is the facility, at the MAIL_FROM address
    (from the app's config unless ``mail_from`` is given).
    """
    method = method.upper()
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(f"unsupported METHOD {method}")
    lang = "en" if language == "en" else "ja"
    ev = private_event(booking, lang, base_url)
    if method == "CANCEL":
        ev["status"] = icalendar.vText("CANCELLED")
    ev.add("organizer", f"mailto:{_mail_from_address(mail_from)}",
           parameters={"CN": _place_text(place_of(booking.room), lang).facility})
    cal = _calendar(method, None)
    cal.add_component(ev)
    return _finish(cal, _latest([booking]))
