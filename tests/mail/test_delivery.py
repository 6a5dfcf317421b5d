"""Delivering the outbox to a real SMTP server (aiosmtpd in-process), with an injected clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from email import message_from_bytes, policy

import icalendar
from sqlalchemy import select, update

from reservations.jobs.runner import run_job
from reservations.mail.outbox import deliver_mail
from reservations.models import OutboxMessage
from tests.factories import NOW

from .conftest import book, free_port, outbox

T0 = NOW + timedelta(minutes=5)


def _rows(session):  # type: ignore[no-untyped-def]
    session.rollback()
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_console_sink_writes_eml_files(session, world, settings) -> None:  # type: ignore[no-untyped-def]
    b = book(session, world)
    r = deliver_mail(session, T0, settings)
    rows = _rows(session)
    assert r.count("sent") == len(rows) == 3
    for row in rows:
        assert row.status == "sent" and row.sent_at == T0 and row.attempts == 1 and row.lease_owner is None
        eml = settings.mail_dir / f"{row.id}.eml"
        parsed = message_from_bytes(eml.read_bytes(), policy=policy.default)
        assert parsed["To"] == row.recipient and parsed["Message-ID"] == row.message_id
        assert f"/bookings/{b.id}" in parsed.get_body(("plain",)).get_content()
    assert deliver_mail(session, T0 + timedelta(hours=1), settings).counts == {}  # nothing sent twice


def test_delivered_once_after_two_451_replies(session, world, smtp_settings, smtp_server) -> None:  # type: ignore[no-untyped-def]
    smtp_server.handler.mode = "451"
    b = book(session, world)
    r = deliver_mail(session, T0, smtp_settings)
    assert r.count("retry") == 3 and smtp_server.handler.received == []
    rows = _rows(session)
    assert {(m.status, m.attempts, m.next_attempt_at) for m in rows} == {("pending", 1, T0 + timedelta(minutes=1))}
    assert all("451" in m.last_error for m in rows)
    assert deliver_mail(session, T0 + timedelta(seconds=59), smtp_settings).counts == {}  # backing off
    r = deliver_mail(session, T0 + timedelta(minutes=1), smtp_settings)
    assert r.count("retry") == 3
    assert {m.next_attempt_at for m in _rows(session)} == {T0 + timedelta(minutes=3)}  # 1, then 2 minutes
    r = deliver_mail(session, T0 + timedelta(minutes=3), smtp_settings)
    assert r.count("sent") == 3
    assert deliver_mail(session, T0 + timedelta(hours=1), smtp_settings).counts == {}
    received = smtp_server.handler.received
    assert len(received) == 3  # each exactly once
    rows = _rows(session)
    assert sorted(str(m["Message-ID"]) for _, _, m in received) == sorted(r.message_id for r in rows)
    assert all(m.status == "sent" and m.attempts == 3 and m.sent_at == T0 + timedelta(minutes=3) for m in rows)
    by_rcpt = {rcpts[0]: msg for _, rcpts, msg in received}
    assert set(by_rcpt) == {m.recipient for m in rows}
    en = by_rcpt[world["member_en"].email]
    assert en["Subject"].startswith("[Naya Plaza] Booking received")
    [att] = list(en.iter_attachments())
    cal = icalendar.Calendar.from_ical(att.get_payload(decode=True))
    assert str(cal["METHOD"]) == "REQUEST" and str(cal.walk("VEVENT")[0]["UID"]) == f"booking-{b.uid}@localhost"
    ja = by_rcpt[world["member"].email]
    assert ja["Subject"].startswith("【なやプラザ予約】予約を受け付けました")


def test_550_fails_at_once_is_listed_and_can_be_retried(app, session, world, smtp_settings, smtp_server) -> None:  # type: ignore[no-untyped-def]
    smtp_server.handler.mode = "550"
    book(session, world)
    r = deliver_mail(session, T0, smtp_settings)
    assert r.count("failed") == 3
    rows = _rows(session)
    assert all(m.status == "failed" and m.attempts == 1 and "550" in m.last_error for m in rows)
    assert deliver_mail(session, T0 + timedelta(days=1), smtp_settings).counts == {}  # failed stay failed

    runner = app.test_cli_runner()
    out = runner.invoke(args=["mail", "failed"])
    assert out.exit_code == 0
    for m in rows:
        assert f"#{m.id}\tbooking_received\t{m.recipient}" in out.output
    assert "3 failed" in out.output
    assert runner.invoke(args=["mail", "retry"]).exit_code != 0  # ids or --all required
    out = runner.invoke(args=["mail", "retry", str(rows[0].id)])
    assert out.exit_code == 0 and "1 message(s) requeued" in out.output
    smtp_server.handler.mode = "accept"
    later = T0 + timedelta(days=2)
    session.rollback()
    session.execute(update(OutboxMessage).where(OutboxMessage.id == rows[0].id).values(next_attempt_at=later))
    session.commit()
    assert deliver_mail(session, later, smtp_settings).count("sent") == 1
    out = runner.invoke(args=["mail", "retry", "--all"])
    assert "2 message(s) requeued" in out.output
    assert deliver_mail(session, NOW + timedelta(days=400), smtp_settings).count("sent") == 2
    assert "no failed mail" in runner.invoke(args=["mail", "failed"]).output
    assert len(smtp_server.handler.received) == 3


def test_transient_failures_stop_after_the_limit(session, world, smtp_settings, smtp_server) -> None:  # type: ignore[no-untyped-def]
    smtp_server.handler.mode, smtp_server.handler.transient = "451", 100
    s = replace(smtp_settings, mail_max_attempts=3)
    book(session, world)
    now = T0
    for _ in range(3):
        deliver_mail(session, now, s)
        now += timedelta(hours=1)
    rows = _rows(session)
    assert all(m.status == "failed" and m.attempts == 3 for m in rows)


def test_connection_refused_is_retried(session, world, settings) -> None:  # type: ignore[no-untyped-def]
    s = replace(settings, smtp_host="127.0.0.1", smtp_port=free_port(), smtp_timeout=2)  # nobody listens
    book(session, world)
    r = deliver_mail(session, T0, s)
    assert r.count("retry") == 3
    assert all(m.status == "pending" and "Connection" in m.last_error for m in _rows(session))


def test_a_row_leased_by_another_sender_is_left_alone_until_the_lease_expires(session, world, smtp_settings, smtp_server) -> None:  # type: ignore[no-untyped-def]
    book(session, world)
    [first, *_] = outbox(session)
    session.execute(update(OutboxMessage).where(OutboxMessage.id == first.id)
                    .values(lease_owner="other", lease_until=T0 + timedelta(minutes=5)))
    session.commit()
    assert deliver_mail(session, T0, smtp_settings).count("sent") == 2
    assert deliver_mail(session, T0 + timedelta(minutes=5), smtp_settings).counts == {}  # lease_until not < now
    assert deliver_mail(session, T0 + timedelta(minutes=6), smtp_settings).count("sent") == 1
    assert len(smtp_server.handler.received) == 3


def test_deliver_mail_through_the_runner(session, world, smtp_settings, smtp_server) -> None:  # type: ignore[no-untyped-def]
    book(session, world)
    r = run_job(session, "deliver-mail", now=T0, settings=smtp_settings, lease_now=NOW)
    assert r.count("sent") == 3 and len(smtp_server.handler.received) == 3
    assert run_job(session, "deliver-mail", now=T0, settings=smtp_settings, lease_now=NOW).counts == {}


def test_smtp_login(session, world, settings) -> None:  # type: ignore[no-untyped-def]
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    from .conftest import ScriptedHandler

    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        logins.append((mechanism, auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.login == b"naya" and auth_data.password == b"secret", handled=False)

    handler = ScriptedHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, authenticator=authenticator,
                            auth_require_tls=False)
    controller.start()
    try:
        book(session, world)
        good = replace(settings, smtp_host="127.0.0.1", smtp_port=port, smtp_username="naya", smtp_password="secret")
        bad = replace(good, smtp_password="wrong")
        assert deliver_mail(session, T0, bad).count("retry") == 3  # a refused login is retried, not failed
        assert deliver_mail(session, T0 + timedelta(minutes=1), good).count("sent") == 3
    finally:
        controller.stop()
    assert logins[-1][1:] == (b"naya", b"secret")
    assert len(handler.received) == 3
