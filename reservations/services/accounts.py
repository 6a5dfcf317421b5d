"""Accounts: sign up, log in, password reset by a one-time link, change password, profile.

Every function is one action in the caller's transaction: it flushes, never
commits. Failures are ``DomainError``s whose ``field`` names the form field.

Password-reset links: the token comes from ``secrets`` and only its SHA-256 is
stored; a link lasts one hour and works once. Changing or resetting the
password bumps ``user.session_version`` (which logs out every other session,
see ``User.get_id``), spends every reset link still outstanding and revokes the
user's API tokens and private calendar links (``revoke_credentials``): a password
is changed or reset because someone else may have had it, and whatever that person
made with it must stop working too.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..database import hold_row, write_transaction
from ..domain.errors import DomainError, RuleFailure
from ..models import ApiToken, FeedToken, PasswordResetToken, User
from ..passwords import check_password, hash_password
from . import audit, notify
from .secret_tokens import hash_secret, new_secret

MIN_PASSWORD = 10
MAX_PASSWORD = 200  # argon2 hashes anything, but a megabyte "password" is only a way to burn CPU
RESET_VALID_FOR = timedelta(hours=1)
LANGUAGES = ("ja", "en")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


@functools.cache
def _dummy_hash() -> str:
    """A hash to check unknown emails against, so they take as long as known ones.

    Made on first use, not at import: argon2 takes 64 MiB while hashing, which every
    worker (and every CLI command) would otherwise pay on start-up."""
    return hash_password("not a real password, only here to spend time")


def _fail(code: str, ja: str, en: str, field: str | None = None) -> RuleFailure:
    return RuleFailure(code, ja, en, field=field)


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def check_email(email: str, field: str = "email") -> list[RuleFailure]:
    if not _EMAIL.match(email) or len(email) > 254:
        return [_fail("email_invalid", "メールアドレスの形式が正しくありません。",
                      "Please enter a valid email address.", field)]
    return []


def check_new_password(password: str, field: str = "password") -> list[RuleFailure]:
    if len(password) < MIN_PASSWORD:
        return [_fail("password_too_short", f"パスワードは{MIN_PASSWORD}文字以上にしてください。",
                      f"The password must be at least {MIN_PASSWORD} characters long.", field)]
    if len(password) > MAX_PASSWORD:
        return [_fail("password_too_long", f"パスワードは{MAX_PASSWORD}文字以内にしてください。",
                      f"The password must be at most {MAX_PASSWORD} characters long.", field)]
    return []


def _check_display_name(name: str) -> list[RuleFailure]:
    if not name:
        return [_fail("display_name_required", "表示名を入力してください。", "Please enter a display name.",
                      "display_name")]
    if len(name) > 100:
        return [_fail("display_name_too_long", "表示名は100文字以内にしてください。",
                      "The display name must be at most 100 characters long.", "display_name")]
    return []


def _check_language(language: str) -> list[RuleFailure]:
    if language not in LANGUAGES:
        return [_fail("language_invalid", "言語を選んでください。", "Please choose a language.", "language")]
    return []


def find_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == normalize_email(email)))


EMAIL_TAKEN = _fail("email_taken", "このメールアドレスは既に登録されています。",
                    "This email address is already registered.", "email")


def add_account(session: Session, user: User) -> User:
    """Insert ``user``, inside a write transaction. On PostgreSQL two sign-ups with one address
    can both pass the look-up; the unique index makes the second wait for the first and fail,
    which is then the same "already registered" as the look-up's, not a server error."""
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        if find_by_email(session, user.email) is None:
            raise
        raise DomainError(EMAIL_TAKEN) from None
    return user


def sign_up(session: Session, *, email: str, display_name: str, password: str, language: str,
            now: datetime) -> User:
    """Create a member account. Raises ``DomainError`` (``email_taken``, ``password_too_short``, ...)."""
    email = normalize_email(email)
    display_name = (display_name or "").strip()
    failures = (check_email(email) + _check_display_name(display_name) + check_new_password(password)
                + _check_language(language))
    if failures:
        raise DomainError(failures)
    with write_transaction(session):
        if find_by_email(session, email) is not None:
            raise DomainError(EMAIL_TAKEN)
        user = add_account(session, User(email=email, display_name=display_name, password_hash=hash_password(password),
                                         language=language, role="member", active=True, created_at=now,
                                         session_version=0))
        audit.record(session, "user.signed_up", now=now, actor=user, after={"user_id": user.id})
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this email and password, else ``None`` (same cost either way)."""
    user = find_by_email(session, email)
    if user is None:
        check_password(_dummy_hash(), password)
        return None
    if not check_password(user.password_hash, password) or not user.active:
        return None
    return user


def request_password_reset(session: Session, email: str, *, now: datetime,
                           link: Callable[[str], str]) -> str | None:
    """Queue a reset link for ``email`` if it belongs to an active account.

    Returns the raw token (for the caller's tests; never show it) or ``None``
    when there is no such account. Callers must answer the same either way.
    ``link`` turns a token into the absolute URL put in the mail.
    """
    user = find_by_email(session, email)
    if user is None or not user.active:
        return None
    token = new_secret()
    digest = hash_secret(token)
    with write_transaction(session):
        session.add(PasswordResetToken(user_id=user.id, token_hash=digest, created_at=now,
                                       expires_at=now + RESET_VALID_FOR))
        notify.queue_to_user(session, "password_reset", user, now=now, key=f"{user.id}:{digest[:16]}",
                             context={"url": link(token), "display_name": user.display_name,
                                      "valid_minutes": int(RESET_VALID_FOR.total_seconds() // 60)})
        audit.record(session, "user.password_reset_requested", now=now, actor=user)
        session.flush()
    return token


INVALID_LINK = _fail("reset_link_invalid",
                     "このリンクは無効か、期限が切れているか、既に使われています。もう一度お申し込みください。",
                     "This link is invalid, has expired or was already used. Please request a new one.")


def valid_reset_token(session: Session, token: str, *, now: datetime) -> PasswordResetToken | None:
    row = session.scalar(select(PasswordResetToken).where(PasswordResetToken.token_hash == hash_secret(token or "")))
    if row is None or row.used_at is not None or row.expires_at <= now or not row.user.active:
        return None
    return row


def _spend_reset_tokens(session: Session, user: User, now: datetime) -> None:
    session.execute(update(PasswordResetToken)
                    .where(PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None))
                    .values(used_at=now))


def revoke_credentials(session: Session, user: User, now: datetime) -> int:
    """Revoke every API token and private calendar link of ``user`` still in use; returns how
    many. Sessions are ended by ``session_version``; these are bearer secrets that outlive them,
    so an account taken back (a password changed or reset) or closed (deactivated) revokes them:
    a reactivated account does not bring back the links it had."""
    revoked = 0
    for model in (ApiToken, FeedToken):
        res: Any = session.execute(
            update(model).where(model.user_id == user.id, model.revoked_at.is_(None))
            .values(revoked_at=now).execution_options(synchronize_session=False))
        revoked += int(res.rowcount or 0)
    return revoked


LOGIN_ENDED = _fail("login_ended", "パスワードの変更などにより、このログインは終了しました。もう一度ログインしてください。",
                   "This login has ended (the password was changed, or the account closed). Please log in again.")


def _refuse_ended_login(user: User, version: int) -> None:
    if not user.active or user.session_version != version:
        raise DomainError(LOGIN_ENDED)


@contextmanager
def hold_account(session: Session, user: User) -> Iterator[Session]:
    """A write transaction that holds ``user``'s row as it is: for making a credential (an API
    token, a calendar link) that a password change, reset or deactivation must revoke. Those take
    the same row, so either this waits for them and is then refused (the login it was asked on has
    ended), or they wait for it and revoke what it made."""
    version = user.session_version
    with write_transaction(session, user):
        _refuse_ended_login(user, version)
        yield session


@dataclass(frozen=True)
class PasswordSet:
    user: User
    revoked: int  # API tokens and private calendar links that stopped working


def _set_password(session: Session, user: User, password: str, now: datetime) -> int:
    user.password_hash = hash_password(password)
    user.session_version = (user.session_version or 0) + 1
    session.flush()
    _spend_reset_tokens(session, user, now)
    return revoke_credentials(session, user, now)


def reset_password(session: Session, token: str, password: str, *, now: datetime) -> PasswordSet:
    """Set a new password from a reset link; the link (and any other open one) is spent, by whoever
    spends it first: a second use of the same link, even at the same moment, is refused."""
    failures = check_new_password(password)
    if failures:
        raise DomainError(failures)
    with write_transaction(session):
        row = valid_reset_token(session, token, now=now)
        if row is None:
            raise DomainError(INVALID_LINK)
        spent: Any = session.execute(
            update(PasswordResetToken).where(PasswordResetToken.id == row.id, PasswordResetToken.used_at.is_(None))
            .values(used_at=now).execution_options(synchronize_session=False))
        if spent.rowcount != 1:  # spent by another request since it was read (PostgreSQL)
            raise DomainError(INVALID_LINK)
        user = row.user
        hold_row(session, user)  # the account as it is, held until the reset commits
        revoked = _set_password(session, user, password, now)
        audit.record(session, "user.password_reset", now=now, actor=user, after={"credentials_revoked": revoked})
        session.flush()
    return PasswordSet(user, revoked)


def change_password(session: Session, user: User, *, current: str, new: str, now: datetime) -> PasswordSet:
    """Change the password; every other session of this user ends (``session_version``). The
    current password is checked against the account as it is, under its lock: a reset committed
    a moment ago makes the old password wrong, rather than being overwritten by it."""
    version = user.session_version
    with write_transaction(session, user):
        if not check_password(user.password_hash, current):
            raise DomainError(_fail("password_wrong", "現在のパスワードが正しくありません。",
                                    "The current password is not correct.", "current_password"))
        _refuse_ended_login(user, version)
        failures = check_new_password(new, field="new_password")
        if failures:
            raise DomainError(failures)
        revoked = _set_password(session, user, new, now)
        audit.record(session, "user.password_changed", now=now, actor=user, after={"credentials_revoked": revoked})
        session.flush()
    return PasswordSet(user, revoked)


def update_profile(session: Session, user: User, *, display_name: str, language: str, now: datetime) -> User:
    display_name = (display_name or "").strip()
    failures = _check_display_name(display_name) + _check_language(language)
    if failures:
        raise DomainError(failures)
    with write_transaction(session):
        before = {"display_name": user.display_name, "language": user.language}
        user.display_name = display_name
        user.language = language
        after = {"display_name": user.display_name, "language": user.language}
        if before != after:
            audit.record(session, "user.profile_updated", now=now, actor=user, before=before, after=after)
        session.flush()
    return user
