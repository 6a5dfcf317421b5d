"""Rendering an outbox row into a message: subject, plain text, HTML and the .ics.

Rows are rendered when they are sent, from their ``kind``, ``context`` and the
booking as it is then, in the row's language. Templates live in
``templates/mail/<lang>/<kind>.txt`` (blocks ``subject`` and ``body``); the plain-text
and HTML layouts (``_layout.txt``, ``_layout.html``) wrap the body with the
booking's details. HTML is escaped by Jinja's autoescape; the text is not.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm import Session

from ..domain.lifecycle import is_active, status_label
from ..jobs.settings import JobSettings
from ..models import Booking, OutboxMessage
from . import ics

TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates" / "mail"
LANGUAGES = ("ja", "en")
WEEKDAYS_JA = "月火水木金土日"
# kinds whose .ics adds or updates the event; others (when the booking is no longer active) cancel it
REQUEST_KINDS = frozenset({"booking_received", "approved", "confirmed", "claim_reminder", "reminder"})
CANCEL_KINDS = frozenset({"rejected", "released", "cancelled", "cancelled_by_staff", "cancelled_closure"})
# group_member_added: members are invited now; kept so that rows queued before still render
ACCOUNT_KINDS = frozenset({"password_reset", "group_invite", "group_member_added", "group_contact_changed"})


class RenderError(Exception):
    """The row cannot become a message (unknown kind, booking gone): a permanent failure."""


@dataclass
class Rendered:
    subject: str
    text: str
    html: str
    attachments: list[tuple[str, bytes, str | None]] = field(default_factory=list)  # filename, data, METHOD


@lru_cache(maxsize=4)
def environment(root: str = str(TEMPLATES)) -> Environment:
    return Environment(
        loader=FileSystemLoader(root),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _when(start: datetime, end: datetime, tz: str, language: str) -> str:
    zone = ZoneInfo(tz)
    s, e = start.astimezone(zone), end.astimezone(zone)
    if language == "en":
        day = s.strftime("%a %d %b %Y").replace(" 0", " ")
        end_text = e.strftime("%H:%M") if e.date() == s.date() else e.strftime("%d %b %H:%M")
        return f"{day}, {s:%H:%M}–{end_text}"
    day = f"{s.year}年{s.month}月{s.day}日（{WEEKDAYS_JA[s.weekday()]}）"
    end_text = f"{e:%H:%M}" if e.date() == s.date() else f"{e.month}月{e.day}日 {e:%H:%M}"
    return f"{day}{s:%H:%M}〜{end_text}"


def _instant(value: datetime, tz: str, language: str) -> str:
    local = value.astimezone(ZoneInfo(tz))
    if language == "en":
        return local.strftime("%a %d %b %Y %H:%M").replace(" 0", " ", 1)
    return f"{local.year}年{local.month}月{local.day}日（{WEEKDAYS_JA[local.weekday()]}）{local:%H:%M}"


def _yen(amount: int, language: str) -> str:
    return f"{amount:,} yen" if language == "en" else f"{amount:,}円"


def booking_details(booking: Booking, language: str, base_url: str) -> dict[str, Any]:
    """What templates may say about a booking, already formatted for ``language``."""
    room, facility = booking.room, booking.room.facility
    tz = facility.timezone or "Asia/Tokyo"
    en = language == "en"
    group = booking.group.name if booking.group is not None else booking.contact_name
    info: dict[str, Any] = {
        "id": booking.id,
        "status": booking.status,
        "status_label": status_label(booking.status, language),
        "room": room.name(language),
        "facility": facility.name(language),
        "address": facility.address(language),
        "phone": facility.phone,
        "when": _when(booking.start_at, booking.end_at, tz, language),
        "group": group,
        "purpose": booking.purpose,
        "attendees": booking.attendees,
        "fee": _yen(booking.fee_total, language),
        "fee_total": booking.fee_total,
        "claim_deadline": _instant(booking.claim_deadline, tz, language) if booking.claim_deadline else None,
        "cancel_reason": booking.cancel_reason or "",
        "cancellation_fee": _yen(booking.cancellation_fee, language) if booking.cancellation_fee else None,
        "url": f"{base_url}/bookings/{booking.id}",
    }
    rows = [
        ("Booking no." if en else "予約番号", str(booking.id)),
        ("Facility" if en else "施設", info["facility"]),
        ("Room" if en else "部屋", info["room"]),
        ("Date and time" if en else "日時", info["when"]),
        ("Group" if en else "団体", group or "—"),
        ("Purpose" if en else "利用目的", booking.purpose or "—"),
        ("Status" if en else "状態", info["status_label"]),
        ("Fee" if en else "使用料", info["fee"]),
    ]
    if info["claim_deadline"] and booking.status == "provisional":
        rows.append(("Claim deadline" if en else "本予約の期限", info["claim_deadline"]))
    info["rows"] = rows
    return info


def ics_method(kind: str, booking: Booking) -> str | None:
    """REQUEST for new/changed bookings, CANCEL when it is cancelled/released; none for no-shows.
    A booking no longer active is never re-added by an old REQUEST kind sent late."""
    if kind in CANCEL_KINDS:
        return "CANCEL"
    if kind in REQUEST_KINDS:
        return "REQUEST" if is_active(booking.status) else "CANCEL"
    return None


def render(session: Session, msg: OutboxMessage, settings: JobSettings, *,
           templates: Path = TEMPLATES) -> Rendered:
    language = msg.language if msg.language in LANGUAGES else "ja"
    env = environment(str(templates))
    name = f"{language}/{msg.kind}.txt"
    try:
        tmpl = env.get_template(name)
    except Exception as exc:
        raise RenderError(f"no template {name}") from exc
    booking = session.get(Booking, msg.booking_id) if msg.booking_id is not None else None
    if msg.booking_id is not None and booking is None:
        raise RenderError(f"booking {msg.booking_id} no longer exists")
    if booking is None and msg.kind not in ACCOUNT_KINDS:
        raise RenderError(f"{msg.kind} needs a booking")
    variables: dict[str, Any] = {
        "lang": language,
        "kind": msg.kind,
        "ctx": dict(msg.context or {}),
        "b": booking_details(booking, language, settings.base_url) if booking is not None else None,
        "base_url": settings.base_url,
    }
    try:
        context = tmpl.new_context(variables)
        subject = " ".join("".join(tmpl.blocks["subject"](context)).split())
        body = "".join(tmpl.blocks["body"](tmpl.new_context(variables))).strip()
        layout = dict(variables, subject=subject, body=body,
                      paragraphs=[p.strip() for p in body.split("\n\n") if p.strip()])
        text = env.get_template(f"{language}/_layout.txt").render(layout).strip() + "\n"
        html = env.get_template(f"{language}/_layout.html").render(layout)
    except Exception as exc:
        raise RenderError(f"{name}: {exc}") from exc
    attachments: list[tuple[str, bytes, str | None]] = []
    if booking is not None:
        method = ics_method(msg.kind, booking)
        if method is not None:
            data = ics.invitation(booking, method, settings.base_url, language)
            attachments.append((f"booking-{booking.id}.ics", data, method))
    return Rendered(subject, text, html, attachments)


def message_id(msg: OutboxMessage, host: str) -> str:
    """Deterministic per notification: the same row always gets the same Message-ID."""
    digest = hashlib.sha256(msg.dedupe_key.encode()).hexdigest()[:16]
    return f"<outbox-{msg.id}.{digest}@{host}>"


def build_email(msg: OutboxMessage, rendered: Rendered, settings: JobSettings, *, now: datetime) -> EmailMessage:
    email = EmailMessage()
    name, address = parseaddr(settings.mail_from)
    email["From"] = formataddr((name, address)) if name else address
    email["To"] = msg.recipient
    email["Subject"] = rendered.subject
    email["Date"] = format_datetime(now)
    email["Message-ID"] = message_id(msg, settings.host)
    email["Content-Language"] = msg.language
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(rendered.text)
    email.add_alternative(rendered.html, subtype="html")
    for filename, data, method in rendered.attachments:
        params = {"charset": "utf-8", **({"method": method} if method else {})}
        email.add_attachment(data, maintype="text", subtype="calendar", filename=filename, params=params)
    return email


def envelope_sender(settings: JobSettings) -> str:
    return parseaddr(settings.mail_from)[1]
