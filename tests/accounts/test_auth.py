"""Sign up, log in and out, open redirects, rate limit, password reset and change, language."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from reservations.extensions import db
from reservations.models import AuditEvent, OutboxMessage, PasswordResetToken, User
from reservations.passwords import check_password
from reservations.services import admin_config, api_tokens, feeds
from tests.factories import NOW, PASSWORD, make_group, make_user

from .conftest import login

pytestmark = pytest.mark.usefixtures("fixed_now")


def _user_count() -> int:
    return db.session.scalar(select(func.count(User.id))) or 0


def _logged_in(client) -> bool:  # type: ignore[no-untyped-def]
    return client.get("/profile").status_code == 200


# --- sign up -------------------------------------------------------------------------------

def test_signup_creates_member_logs_in_and_lowercases_email(client) -> None:  # type: ignore[no-untyped-def]
    res = client.post("/signup", data={"email": " Hanako@Example.JP ", "display_name": "花子",
                                       "password": "a long enough pw", "language": "en"})
    assert res.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "hanako@example.jp"))
    assert user is not None and user.role == "member" and user.language == "en"
    assert user.password_hash.startswith("$argon2id$") and check_password(user.password_hash, "a long enough pw")
    assert _logged_in(client)
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.signed_up")) is not None


def test_signup_errors_keep_what_was_typed_but_not_the_password(client) -> None:  # type: ignore[no-untyped-def]
    res = client.post("/signup", data={"email": "taro@example.jp", "display_name": "太郎さん",
                                       "password": "short9", "language": "ja"})
    assert res.status_code == 422
    html = res.get_data(as_text=True)
    assert 'value="taro@example.jp"' in html and 'value="太郎さん"' in html
    assert "short9" not in html
    assert 'aria-invalid="true"' in html
    assert _user_count() == 0


def test_signup_refuses_a_taken_email_in_any_case(client, session) -> None:  # type: ignore[no-untyped-def]
    make_user(email="taken@example.jp")
    session.commit()
    res = client.post("/signup", data={"email": "TAKEN@example.jp", "display_name": "x",
                                       "password": "a long enough pw", "language": "ja"})
    assert res.status_code == 422
    assert "既に登録されています" in res.get_data(as_text=True)
    assert _user_count() == 1


def test_signup_error_in_english_for_an_english_visitor(client) -> None:  # type: ignore[no-untyped-def]
    client.post("/language", data={"language": "en"})
    res = client.post("/signup", data={"email": "not-an-address", "display_name": "x",
                                       "password": "a long enough pw", "language": "en"})
    assert res.status_code == 422
    assert "Please enter a valid email address." in res.get_data(as_text=True)


# --- log in and out --------------------------------------------------------------------------

def test_login_and_wrong_password_message(client, session) -> None:  # type: ignore[no-untyped-def]
    user = make_user(email="m@example.jp")
    session.commit()
    res = login(client, "m@example.jp", "wrong password!")
    assert res.status_code == 422
    html = res.get_data(as_text=True)
    assert "メールアドレスまたはパスワードが正しくありません。" in html
    assert 'value="m@example.jp"' in html and "wrong password!" not in html
    assert not _logged_in(client)
    res = login(client, "M@EXAMPLE.JP")
    assert res.status_code == 302 and res.headers["Location"] == "/"
    assert _logged_in(client)
    assert user.email == "m@example.jp"


def test_unknown_email_gets_the_same_message(client) -> None:  # type: ignore[no-untyped-def]
    res = login(client, "nobody@example.jp")
    assert "メールアドレスまたはパスワードが正しくありません。" in res.get_data(as_text=True)


def test_inactive_user_cannot_log_in(client, session) -> None:  # type: ignore[no-untyped-def]
    make_user(email="gone@example.jp", active=False)
    session.commit()
    login(client, "gone@example.jp")
    assert not _logged_in(client)


def test_logout_needs_a_post(client, session) -> None:  # type: ignore[no-untyped-def]
    make_user(email="m@example.jp")
    session.commit()
    login(client, "m@example.jp")
    page = client.get("/logout")
    assert page.status_code == 200 and 'method="post"' in page.get_data(as_text=True)
    assert _logged_in(client), "GET must not log out"
    res = client.post("/logout")
    assert res.status_code == 302
    assert not _logged_in(client)


def test_protected_page_sends_to_login_and_back(client, session) -> None:  # type: ignore[no-untyped-def]
    make_user(email="m@example.jp")
    session.commit()
    res = client.get("/groups")
    assert res.status_code == 302 and "/login" in res.headers["Location"]
    form = client.get(res.headers["Location"]).get_data(as_text=True)
    assert 'name="next" type="hidden" value="/groups"' in form
    res = login(client, "m@example.jp", next="/groups")
    assert res.headers["Location"] == "/groups"


@pytest.mark.parametrize("target", ["//evil.example", "\\\\evil.example", "/\\evil.example",
                                    "https:evil.example", "https://evil.example", "https://evil.example/x",
                                    "javascript:alert(1)", "evil.example/x"])
def test_next_never_leaves_the_site(client, session, target: str) -> None:  # type: ignore[no-untyped-def]
    make_user(email="m@example.jp")
    session.commit()
    page = client.get("/login", query_string={"next": target}).get_data(as_text=True)
    assert 'id="next" name="next" type="hidden" value=""' in page  # not carried into the form
    res = login(client, "m@example.jp", next=target)  # a forged hidden field
    assert res.status_code == 302
    assert res.headers["Location"] == "/"
    client.post("/logout")
    res = client.post("/login?next=" + target, data={"email": "m@example.jp", "password": PASSWORD})
    assert res.headers["Location"] == "/"


def test_login_is_rate_limited(limited_app) -> None:  # type: ignore[no-untyped-def]
    make_user(email="m@example.jp")
    db.session.commit()
    client = limited_app.test_client()
    codes = [login(client, "m@example.jp", "wrong password!").status_code for _ in range(4)]
    assert codes == [422, 422, 422, 429]
    assert login(client, "m@example.jp").status_code == 429  # even the right password, until the window ends
    assert client.get("/login").status_code == 200  # only POSTs count


def test_signup_is_rate_limited(limited_app) -> None:  # type: ignore[no-untyped-def]
    """Each sign-up costs an argon2 hash and tells whether an address has an account."""
    make_user(email="taken@example.jp")
    db.session.commit()
    client = limited_app.test_client()
    codes = [client.post("/signup", data={"email": "taken@example.jp", "display_name": "x",
                                          "password": "a long enough pw", "language": "ja"}).status_code
             for _ in range(4)]
    assert codes == [422, 422, 422, 429]
    assert client.get("/signup").status_code == 200  # only POSTs count


# --- password reset --------------------------------------------------------------------------

def _request_reset(client, email: str) -> str | None:  # type: ignore[no-untyped-def]
    res = client.post("/password/forgot", data={"email": email})
    assert res.status_code == 200
    msg = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "password_reset",
                                                        OutboxMessage.recipient == email.lower()))
    if msg is None:
        return None
    match = re.fullmatch(r"http://localhost/password/reset/([A-Za-z0-9_-]+)", msg.context["url"])
    assert match, msg.context
    return match.group(1)


def test_password_reset_happy_path_stores_only_the_hash(client, session) -> None:  # type: ignore[no-untyped-def]
    user = make_user(email="m@example.jp")
    session.commit()
    token = _request_reset(client, "M@example.jp")
    assert token
    row = session.scalar(select(PasswordResetToken))
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() != token
    assert row.expires_at == NOW + timedelta(hours=1)
    assert client.get(f"/password/reset/{token}").status_code == 200
    res = client.post(f"/password/reset/{token}", data={"password": "brand new secret", "confirm": "brand new secret"})
    assert res.status_code == 302 and res.headers["Location"].endswith("/login")
    assert login(client, "m@example.jp").status_code == 422  # the old password is gone
    assert login(client, "m@example.jp", "brand new secret").status_code == 302
    session.refresh(user)
    assert user.session_version == 1


def test_password_reset_link_works_once(client, session) -> None:  # type: ignore[no-untyped-def]
    make_user(email="m@example.jp")
    session.commit()
    token = _request_reset(client, "m@example.jp")
    client.post(f"/password/reset/{token}", data={"password": "brand new secret", "confirm": "brand new secret"})
    assert client.get(f"/password/reset/{token}").status_code == 404
    res = client.post(f"/password/reset/{token}", data={"password": "another secret!", "confirm": "another secret!"})
    assert res.status_code == 404
    assert login(client, "m@example.jp", "another secret!").status_code == 422


def test_password_reset_link_expires_after_an_hour(app, client, session) -> None:  # type: ignore[no-untyped-def]
    make_user(email="m@example.jp")
    session.commit()
    token = _request_reset(client, "m@example.jp")
    app.config["FIXED_NOW"] = (NOW + timedelta(minutes=59)).isoformat()
    assert client.get(f"/password/reset/{token}").status_code == 200
    app.config["FIXED_NOW"] = (NOW + timedelta(hours=1)).isoformat()
    res = client.post(f"/password/reset/{token}", data={"password": "brand new secret", "confirm": "brand new secret"})
    assert res.status_code == 404
    assert login(client, "m@example.jp").status_code == 302  # password unchanged


def test_password_reset_does_not_reveal_whether_an_email_exists(client, session) -> None:  # type: ignore[no-untyped-def]
    make_user(email="m@example.jp")
    session.commit()
    known = client.post("/password/forgot", data={"email": "m@example.jp"}).get_data(as_text=True)
    unknown = client.post("/password/forgot", data={"email": "nobody@example.jp"}).get_data(as_text=True)
    assert known == unknown
    assert session.scalar(select(func.count(OutboxMessage.id))) == 1


def test_reset_links_are_masked_in_the_request_log(app) -> None:  # type: ignore[no-untyped-def]
    """Whoever reads the access log must not be able to set someone's password."""
    import logging

    for name in ("werkzeug", "gunicorn.access"):
        line = '"POST /password/reset/AbC-123_xyz HTTP/1.1" 302'
        record = logging.LogRecord(name, logging.INFO, __file__, 1, "%s", (line,), None)
        assert all(f.filter(record) for f in logging.getLogger(name).filters)
        assert "AbC-123_xyz" not in record.getMessage() and "/password/reset/***" in record.getMessage()


def test_a_bad_token_is_a_404(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/password/reset/not-a-token").status_code == 404


# --- change password, sessions ---------------------------------------------------------------

def test_change_password_logs_out_other_sessions(app, session) -> None:  # type: ignore[no-untyped-def]
    make_user(email="m@example.jp")
    session.commit()
    here, elsewhere = app.test_client(), app.test_client()
    login(here, "m@example.jp")
    login(elsewhere, "m@example.jp")
    assert _logged_in(here) and _logged_in(elsewhere)
    res = here.post("/password/change", data={"current_password": PASSWORD, "new_password": "brand new secret",
                                              "confirm": "brand new secret"})
    assert res.status_code == 302
    assert _logged_in(here)
    assert not _logged_in(elsewhere)


def _credentials(session, user: User) -> tuple[str, str, str]:  # type: ignore[no-untyped-def]
    """An API token, a group feed link and a personal feed link of ``user``."""
    group = make_group(user)
    session.flush()
    _, api_secret = api_tokens.create_token(session, user, name="phone", now=NOW)
    group_link = feeds.group_feed_url(session, group, NOW, user=user, base_url="http://localhost")
    personal_link = feeds.personal_feed_url(session, user, NOW, base_url="http://localhost")
    session.commit()
    assert group_link and personal_link
    return api_secret, group_link.removeprefix("http://localhost"), personal_link.removeprefix("http://localhost")


def _working(client, api_secret: str, *links: str) -> list[bool]:  # type: ignore[no-untyped-def]
    api = client.get("/api/v1/me", headers={"Authorization": f"Bearer {api_secret}"}).status_code == 200
    return [api] + [client.get(link).status_code == 200 for link in links]


def test_a_changed_password_ends_api_tokens_and_private_feed_links(app, session) -> None:  # type: ignore[no-untyped-def]
    """Someone who had the password may have made a token or a calendar link with it: a password
    change is how the owner takes the account back, so those stop working too, and the owner is told."""
    user = make_user(email="m@example.jp")
    secrets = _credentials(session, user)
    outsider = app.test_client()
    assert _working(outsider, *secrets) == [True, True, True]
    here = app.test_client()
    login(here, "m@example.jp")
    res = here.post("/password/change", data={"current_password": PASSWORD, "new_password": "brand new secret",
                                              "confirm": "brand new secret"}, follow_redirects=True)
    assert "APIトークンと非公開カレンダーのリンク（3件）も無効にしました。" in res.get_data(as_text=True)
    assert _working(outsider, *secrets) == [False, False, False]
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "user.password_changed"))
    assert event.after == {"credentials_revoked": 3}
    # new ones work again
    session.expire_all()
    assert _working(outsider, *_credentials(session, user)) == [True, True, True]


def test_a_reset_password_ends_api_tokens_and_private_feed_links(client, session) -> None:  # type: ignore[no-untyped-def]
    user = make_user(email="m@example.jp")
    secrets = _credentials(session, user)
    token = _request_reset(client, "m@example.jp")
    res = client.post(f"/password/reset/{token}", data={"password": "brand new secret", "confirm": "brand new secret"},
                      follow_redirects=True)
    assert "（3件）も無効にしました" in res.get_data(as_text=True)
    assert _working(client, *secrets) == [False, False, False]


def test_a_deactivated_account_comes_back_without_its_old_tokens(app, session) -> None:  # type: ignore[no-untyped-def]
    user = make_user(email="m@example.jp")
    admin = make_user("admin")
    secrets = _credentials(session, user)
    admin_config.set_active(session, user, False, actor=admin, now=NOW)
    session.commit()
    admin_config.set_active(session, user, True, actor=admin, now=NOW)
    session.commit()
    assert _working(app.test_client(), *secrets) == [False, False, False]


def test_a_password_change_without_tokens_says_nothing_about_them(client, session) -> None:  # type: ignore[no-untyped-def]
    make_user(email="m@example.jp")
    session.commit()
    login(client, "m@example.jp")
    res = client.post("/password/change", data={"current_password": PASSWORD, "new_password": "brand new secret",
                                                "confirm": "brand new secret"}, follow_redirects=True)
    page = res.get_data(as_text=True)
    assert "パスワードを変更しました。" in page and "も無効にしました" not in page


def test_change_password_needs_the_current_one(client, session) -> None:  # type: ignore[no-untyped-def]
    make_user(email="m@example.jp")
    session.commit()
    login(client, "m@example.jp")
    res = client.post("/password/change", data={"current_password": "not it at all", "new_password": "brand new secret",
                                                "confirm": "brand new secret"})
    assert res.status_code == 422
    assert "現在のパスワードが正しくありません。" in res.get_data(as_text=True)
    client.post("/logout")
    assert login(client, "m@example.jp").status_code == 302


# --- profile and language --------------------------------------------------------------------

def test_profile_change_keeps_the_language_for_the_user(app, client, session) -> None:  # type: ignore[no-untyped-def]
    user = make_user(email="m@example.jp")
    session.commit()
    login(client, "m@example.jp")
    res = client.post("/profile", data={"display_name": "新しい名前", "language": "en"}, follow_redirects=True)
    assert res.status_code == 200
    assert "Saved." in res.get_data(as_text=True)
    session.refresh(user)
    assert (user.display_name, user.language) == ("新しい名前", "en")
    other = app.test_client()  # a new browser: the choice follows the account
    login(other, "m@example.jp")
    assert "Profile" in other.get("/profile").get_data(as_text=True)


def test_language_switch_sticks_to_the_user(app, client, session) -> None:  # type: ignore[no-untyped-def]
    user = make_user(email="m@example.jp")
    session.commit()
    login(client, "m@example.jp")
    assert "プロフィール" in client.get("/profile").get_data(as_text=True)
    client.post("/language", data={"language": "en", "next": "/profile"})
    session.refresh(user)
    assert user.language == "en"
    other = app.test_client()
    login(other, "m@example.jp")
    html = other.get("/profile").get_data(as_text=True)
    assert "Display name" in html and "表示名" not in html
