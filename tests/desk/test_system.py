"""The administrator's system page: scheduler runs and mail that could not be delivered."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from reservations.extensions import db
from reservations.jobs.runner import run_job
from reservations.jobs.settings import JobSettings
from reservations.models import AuditEvent, OutboxMessage
from tests.desk.conftest import Desk, login
from tests.factories import NOW


def _failed(n: int, recipient: str) -> OutboxMessage:
    m = OutboxMessage(dedupe_key=f"test:{n}", kind="booking_released", recipient=recipient, language="ja",
                      context={}, status="failed", attempts=5, next_attempt_at=NOW, created_at=NOW,
                      last_error="550 mailbox unavailable")
    db.session.add(m)
    return m


def test_only_admins_see_and_retry(app: Flask, desk: Desk) -> None:
    for user in (desk.member, desk.staff):
        client = app.test_client()
        login(client, user)
        assert client.get("/admin/system").status_code == 403
        assert client.post("/admin/system/mail/retry", data={}).status_code == 403


def test_failed_mail_listed_and_retried_one_then_all(client: FlaskClient, desk: Desk) -> None:
    first, second = _failed(1, "a@example.jp"), _failed(2, "b@example.jp")
    db.session.commit()
    login(client, desk.admin)
    page = client.get("/admin/system").data.decode()
    assert "a@example.jp" in page and "550 mailbox unavailable" in page and "b@example.jp" in page

    r = client.post("/admin/system/mail/retry", data={"message_id": str(first.id)}, follow_redirects=True)
    assert r.status_code == 200 and "1通のメールを再送の待ち行列に戻しました" in r.data.decode()
    db.session.expire_all()
    assert (first.status, first.attempts) == ("pending", 0)
    assert second.status == "failed"
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "mail.retry")).one()
    assert event.actor_id == desk.admin.id and event.after == {"count": 1, "ids": [first.id]}

    r = client.post("/admin/system/mail/retry", data={}, follow_redirects=True)
    assert "1通のメール" in r.data.decode()
    db.session.expire_all()
    assert second.status == "pending"
    r = client.post("/admin/system/mail/retry", data={}, follow_redirects=True)
    assert "再送するメールはありませんでした" in r.data.decode()


def test_bad_message_id_is_400(client: FlaskClient, desk: Desk) -> None:
    login(client, desk.admin)
    assert client.post("/admin/system/mail/retry", data={"message_id": "1 OR 1=1"}).status_code == 400


def test_jobs_that_never_ran_are_flagged_until_they_run(app: Flask, client: FlaskClient, desk: Desk) -> None:
    login(client, desk.admin)
    page = client.get("/admin/system").data.decode()
    assert "スケジューラ（flask --app reservations scheduler）が動いているか" in page
    assert page.count("未実行") == 5
    settings = JobSettings.from_config(app.config)
    real_now = NOW + timedelta(seconds=1)
    for name in ("release-unclaimed", "release-no-shows", "complete-past", "send-reminders", "deliver-mail"):
        run_job(db.session(), name, now=real_now, settings=settings, lease_now=real_now)
    page = client.get("/admin/system").data.decode()
    assert "未実行" not in page and "（遅れ）" not in page
    assert "release-unclaimed" in page
