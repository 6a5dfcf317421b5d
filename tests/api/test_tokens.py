"""API tokens: hashed storage, revocation, the CLI, the profile forms, and no cookie authentication."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from reservations import create_app
from reservations.extensions import db
from reservations.models import ApiToken
from reservations.services import api_tokens
from tests.api.conftest import World
from tests.api.contract import assert_problem
from tests.factories import NOW


def test_only_the_hash_is_stored(world: World) -> None:
    rows = db.session.scalars(select(ApiToken)).all()
    secrets = set(world.tokens.values())
    for row in rows:
        assert row.token_hash not in secrets and len(row.token_hash) == 64
    assert {hashlib.sha256(s.encode()).hexdigest() for s in secrets} == {r.token_hash for r in rows}


def test_revoked_token_is_401_and_last_used_is_recorded(client, world: World) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/v1/me", headers=world.auth("member")).status_code == 200
    token = db.session.scalar(select(ApiToken).where(ApiToken.name == "member"))
    assert token.last_used_at == NOW
    api_tokens.revoke_token(db.session(), token.id, actor=world.member, now=NOW)
    db.session.commit()
    res = client.get("/api/v1/me", headers=world.auth("member"))
    assert_problem(res, 401, "unauthorized")
    assert 'error="invalid_token"' in res.headers["WWW-Authenticate"]


def test_deactivated_user_token_is_401(client, world: World) -> None:  # type: ignore[no-untyped-def]
    world.member.active = False
    db.session.commit()
    assert_problem(client.get("/api/v1/me", headers=world.auth("member")), 401)


def test_the_session_cookie_never_authenticates(client, world: World) -> None:  # type: ignore[no-untyped-def]
    with client.session_transaction() as sess:
        sess["_user_id"] = world.member.get_id()
        sess["_fresh"] = True
    assert_problem(client.get("/api/v1/me"), 401)
    assert_problem(client.post("/api/v1/bookings", json={}), 401)


def test_cli_create_and_revoke(app, world: World) -> None:  # type: ignore[no-untyped-def]
    runner = app.test_cli_runner()
    res = runner.invoke(args=["tokens", "create", world.member2.email.upper(), "--name", "kiosk"])
    assert res.exit_code == 0, res.output
    secret = res.stdout.strip().splitlines()[-1]
    assert secret.startswith("npr_") and len(secret) > 40
    row = db.session.scalar(select(ApiToken).where(ApiToken.name == "kiosk"))
    assert row.user_id == world.member2.id and row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    client = app.test_client()
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.get_json()["id"] == world.member2.id
    res = runner.invoke(args=["tokens", "revoke", str(row.id)])
    assert res.exit_code == 0, res.output
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert runner.invoke(args=["tokens", "create", "nobody@example.jp"]).exit_code != 0
    assert runner.invoke(args=["tokens", "revoke", "99999"]).exit_code != 0


def _login(client, user) -> None:  # type: ignore[no-untyped-def]
    with client.session_transaction() as sess:
        sess["_user_id"] = user.get_id()
        sess["_fresh"] = True


def test_profile_forms_create_shows_once_and_revoke(client, world: World) -> None:  # type: ignore[no-untyped-def]
    _login(client, world.member2)
    res = client.post("/api-tokens/create", data={"name": "団体の表計算"})
    assert res.status_code == 200 and res.headers["Cache-Control"] == "no-store"
    html = res.get_data(as_text=True)
    row = db.session.scalar(select(ApiToken).where(ApiToken.name == "団体の表計算"))
    secret = next(w for w in html.replace("<", " ").replace(">", " ").split() if w.startswith("npr_"))
    assert hashlib.sha256(secret.encode()).hexdigest() == row.token_hash
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    # someone else's token cannot be revoked (and its existence is not revealed)
    other = db.session.scalar(select(ApiToken).where(ApiToken.name == "outsider"))
    client.post(f"/api-tokens/{other.id}/revoke")
    db.session.refresh(other)
    assert other.revoked_at is None
    res = client.post(f"/api-tokens/{row.id}/revoke")
    assert res.status_code == 302
    db.session.refresh(row)
    assert row.revoked_at is not None
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_profile_forms_need_login(client, world: World) -> None:  # type: ignore[no-untyped-def]
    res = client.post("/api-tokens/create", data={"name": "x"})
    assert res.status_code in (302, 401)
    assert db.session.scalar(select(ApiToken).where(ApiToken.name == "x")) is None


def test_partial_lists_tokens(app, world: World) -> None:  # type: ignore[no-untyped-def]
    from flask import render_template_string
    from flask_login import login_user

    with app.test_request_context("/profile"):
        login_user(world.member)
        html = render_template_string('{% include "api/_tokens.html" %}')
    assert "member" in html and "/api-tokens/create" in html and 'name="csrf_token"' in html
    assert "outsider" not in html


def test_profile_forms_are_csrf_protected_but_the_api_is_not(database_url) -> None:  # type: ignore[no-untyped-def]
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "k", "TESTING": True,
                      "WTF_CSRF_ENABLED": True, "RATELIMIT_ENABLED": False, "FIXED_NOW": NOW.isoformat()})
    with app.app_context():
        from tests.factories import make_user

        user = make_user()
        _, secret = api_tokens.create_token(db.session(), user, name="csrf", now=NOW)
        db.session.commit()
        client = app.test_client()
        _login(client, user)
        assert client.post("/api-tokens/create", data={"name": "no csrf"}).status_code == 400
        assert db.session.scalar(select(ApiToken).where(ApiToken.name == "no csrf")) is None
        # the API uses no cookie, so it needs no CSRF token: a bad body is a 422, not a CSRF 400
        res = client.post("/api/v1/bookings", json={"room_id": 1}, headers={"Authorization": f"Bearer {secret}"})
        assert res.status_code == 422 and res.mimetype == "application/problem+json"
        db.session.remove()
        db.engine.dispose()
