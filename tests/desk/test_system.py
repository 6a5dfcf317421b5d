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


def test_failed_mail_sent_again_to_a_corrected_address(client: FlaskClient, desk: Desk) -> None:
    """A typo in an address fails for good; the administrator sends the message again to the right
    address. A bad address is refused at its row with what was typed kept; the change is audited."""
    typo = _failed(1, "group@exmaple.jp")
    other = _failed(2, "b@example.jp")
    db.session.commit()
    login(client, desk.admin)
    url = f"/admin/system/mail/{typo.id}/resend-to"

    r = client.post(url, data={"recipient": "group@example"})
    page = r.data.decode()
    assert r.status_code == 422 and 'value="group@example"' in page and "メールアドレスの形式が正しくありません" in page
    assert client.post(url, data={"recipient": ""}).status_code == 422
    db.session.expire_all()
    assert (typo.status, typo.recipient) == ("failed", "group@exmaple.jp")  # nothing written

    r = client.post(url, data={"recipient": " Group@Example.jp "}, follow_redirects=True)
    assert r.status_code == 200 and "group@example.jp に再送します" in r.data.decode()
    db.session.expire_all()
    assert (typo.status, typo.attempts, typo.recipient) == ("pending", 0, "group@example.jp")
    assert other.status == "failed"
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "mail.redirected")).one()
    assert event.before == {"recipient": "group@exmaple.jp"} and event.after["recipient"] == "group@example.jp"
    assert client.post(url, data={"recipient": "x@example.jp"}).status_code == 404  # no longer failed


def test_a_one_time_link_is_never_sent_to_another_address(client: FlaskClient, desk: Desk) -> None:
    """A failed password-reset or invitation mail still holds its link: sent to an address the
    administrator types, it would let them set the password or join the group. Retrying it to its
    own address stays possible."""
    reset = _failed(1, "member@example.jp")
    reset.kind, reset.context = "password_reset", {"url": "http://localhost/password/reset/SECRET"}
    db.session.commit()
    login(client, desk.admin)
    page = client.get("/admin/system").data.decode()
    assert f"/admin/system/mail/{reset.id}/resend-to" not in page and "別の宛先には送れません" in page
    r = client.post(f"/admin/system/mail/{reset.id}/resend-to", data={"recipient": "admin@evil.example"})
    assert r.status_code == 422 and "本人にもう一度手続きしてもらってください" in r.data.decode()
    db.session.expire_all()
    assert (reset.status, reset.recipient) == ("failed", "member@example.jp")
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "mail.redirected")) is None
    client.post("/admin/system/mail/retry", data={"message_id": str(reset.id)})
    db.session.expire_all()
    assert (reset.status, reset.recipient) == ("pending", "member@example.jp")


def test_only_admins_redirect_mail(app: Flask, desk: Desk) -> None:
    m = _failed(1, "a@example.jp")
    db.session.commit()
    for user in (desk.member, desk.staff):
        client = app.test_client()
        login(client, user)
        assert client.post(f"/admin/system/mail/{m.id}/resend-to", data={"recipient": "x@example.jp"}).status_code == 403
    db.session.expire_all()
    assert m.recipient == "a@example.jp"


def test_redirecting_mail_needs_a_csrf_token(csrf_app: Flask) -> None:
    from tests.factories import make_user

    admin = make_user("admin")
    m = _failed(1, "a@example.jp")
    db.session.commit()
    client = csrf_app.test_client()
    with client.session_transaction() as s:
        s["_user_id"] = admin.get_id()
        s["_fresh"] = True
    assert client.post(f"/admin/system/mail/{m.id}/resend-to", data={"recipient": "x@example.jp"}).status_code == 400
    db.session.expire_all()
    assert (m.status, m.recipient) == ("failed", "a@example.jp")
