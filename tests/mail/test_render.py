"""Mail content in Japanese and English, plain text + HTML, with a valid .ics for booking mail."""

from __future__ import annotations

from email import message_from_bytes, policy
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from sqlalchemy import update

from reservations.mail.render import build_email, ics_method, message_id, render
from reservations.models import Booking, OutboxMessage
from reservations.services import bookings as svc
from reservations.services.notify import KINDS
from tests.factories import NOW

from .conftest import book

ACCOUNT = {
    "password_reset": {"url": "http://localhost/reset/tok123", "display_name": "山田", "valid_minutes": 60},
    "group_invite": {"url": "http://localhost/invite/abc", "group_name": "手話サークル"},
    "group_member_added": {"group_name": "手話サークル", "added_by": "代表者", "group_id": 1},
    "group_contact_changed": {"group_name": "手話サークル", "changed_by": "代表者", "new_email": "new@example.jp"},
}


def _msg(kind: str, language: str, booking: Booking | None = None, context: dict[str, Any] | None = None,
         oid: int = 7) -> OutboxMessage:
    return OutboxMessage(id=oid, dedupe_key=f"{kind}:{booking.id if booking else 'x'}:0:a@example.jp", kind=kind,
                         booking_id=booking.id if booking else None, recipient="a@example.jp", language=language,
                         context=context or {}, status="pending", attempts=0, next_attempt_at=NOW, created_at=NOW)


def _ics(data: bytes) -> icalendar.Calendar:
    assert b"\r\n" in data and not data.startswith(b"\xef\xbb\xbf")
    return icalendar.Calendar.from_ical(data)


@pytest.mark.parametrize("language", ["ja", "en"])
def test_every_booking_kind_renders_in_both_languages(session, world, settings, language) -> None:  # type: ignore[no-untyped-def]
    b = book(session, world)
    for kind in KINDS:  # one booking, every kind (a fresh world per kind would only be slower)
        _check_kind(session, settings, world, b, kind, language)


def _check_kind(session, settings, world, b, kind, language) -> None:  # type: ignore[no-untyped-def]
    r = render(session, _msg(kind, language, b, {"hours": 24} if "reminder" in kind else {}), settings)
    room = world["room"].name(language)
    assert r.subject and "\n" not in r.subject
    assert room in r.subject or kind == "claim_reminder"
    assert room in r.text and room in r.html
    assert (r.subject.startswith("[Naya Plaza]") if language == "en" else r.subject.startswith("【なやプラザ予約】"))
    assert f"http://localhost/bookings/{b.id}" in r.text
    assert r.html.startswith("<!DOCTYPE html>") and f'lang="{language}"' in r.html
    if language == "en":
        assert "Dear" in r.text and "様" not in r.text
        assert "Tue 8 Dec 2026, 17:30–21:00" in r.text
    else:
        assert "様" in r.text and "2026年12月8日（火）17:30〜21:00" in r.text
    method = ics_method(kind, b)
    if method is None:
        assert r.attachments == []
        return
    [(filename, data, m)] = r.attachments
    assert filename == f"booking-{b.id}.ics" and m == method
    cal = _ics(data)
    assert str(cal["METHOD"]) == method
    [ev] = cal.walk("VEVENT")
    assert str(ev["UID"]) == f"booking-{b.uid}@localhost"
    assert int(ev["SEQUENCE"]) == b.sequence
    assert ev["DTSTART"].dt == b.start_at and ev["DTSTART"].dt.tzinfo == ZoneInfo("Asia/Tokyo")
    assert ev["DTEND"].dt == b.end_at
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Asia/Tokyo"]
    assert str(ev["STATUS"]) == ("CANCELLED" if method == "CANCEL" else "TENTATIVE")


@pytest.mark.parametrize("language", ["ja", "en"])
@pytest.mark.parametrize("kind", sorted(ACCOUNT))
def test_account_mail_renders_without_a_booking(session, settings, kind, language) -> None:  # type: ignore[no-untyped-def]
    r = render(session, _msg(kind, language, None, ACCOUNT[kind]), settings)
    assert ACCOUNT[kind].get("url", "http://localhost/") in r.text
    assert "手話サークル" in r.subject or kind == "password_reset"
    assert r.attachments == []


def test_html_escapes_what_users_typed(session, world, settings) -> None:  # type: ignore[no-untyped-def]
    b = book(session, world)
    session.execute(update(Booking).where(Booking.id == b.id).values(purpose='<script>alert("x")</script> & co'))
    session.commit()
    r = render(session, _msg("booking_received", "ja", b), settings)
    assert "<script>" not in r.html and "&lt;script&gt;" in r.html
    assert '<script>alert("x")</script> & co' in r.text  # plain text stays plain


def test_late_request_kind_for_a_cancelled_booking_carries_a_cancel(session, world, settings) -> None:  # type: ignore[no-untyped-def]
    b = book(session, world)
    svc.cancel(session, b, actor=world["member_en"], now=NOW)
    session.commit()
    r = render(session, _msg("booking_received", "en", b), settings)
    [(_, data, method)] = r.attachments
    assert method == "CANCEL" and str(_ics(data)["METHOD"]) == "CANCEL"
    assert int(_ics(data).walk("VEVENT")[0]["SEQUENCE"]) == 1


def test_built_message_has_text_html_and_ics_and_a_deterministic_message_id(session, world, settings) -> None:  # type: ignore[no-untyped-def]
    b = book(session, world)
    msg = _msg("booking_received", "en", b, oid=42)
    email = build_email(msg, render(session, msg, settings), settings, now=NOW)
    assert email["Message-ID"] == message_id(msg, "localhost") == message_id(msg, "localhost")
    assert email["Message-ID"].startswith("<outbox-42.") and email["Message-ID"].endswith("@localhost>")
    parsed = message_from_bytes(bytes(email), policy=policy.default)
    assert parsed.get_body(("plain",)).get_content().startswith("Dear")
    assert "<h1" in parsed.get_body(("html",)).get_content()
    [att] = list(parsed.iter_attachments())
    assert att.get_content_type() == "text/calendar" and att.get_param("method") == "REQUEST"
    assert att.get_content_charset() == "utf-8"
    _ics(att.get_payload(decode=True))


def test_a_closure_mail_gives_the_reason_staff_wrote_in_the_readers_language(session, world, settings) -> None:  # type: ignore[no-untyped-def]
    b = book(session, world)
    context = {"note": "断水のため臨時休館", "note_en": "Closed: no water supply"}
    ja = render(session, _msg("cancelled_closure", "ja", b, context), settings)
    en = render(session, _msg("cancelled_closure", "en", b, context), settings)
    assert "理由：断水のため臨時休館" in ja.text and "Reason: Closed: no water supply" in en.text
    assert "断水" not in en.text
