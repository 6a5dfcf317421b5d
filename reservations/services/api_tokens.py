"""Personal API tokens: created once (the secret is shown once), stored as SHA-256, revocable.

A token carries its user's own permissions; nothing else. Like every service
this flushes and never commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from ..database import write_transaction
from ..domain.errors import DomainError, RuleFailure
from ..models import ApiToken, User
from . import accounts, audit
from .permissions import NotFound
from .secret_tokens import hash_secret, new_secret

TOKEN_PREFIX = "npr_"  # noqa: S105  (not a secret: lets secret scanners and people recognise the token)
MAX_NAME = 100
MAX_ACTIVE_TOKENS = 20
LAST_USED_RESOLUTION = timedelta(minutes=5)  # do not write on every request


def create_token(session: Session, user: User, *, name: str, now: datetime) -> tuple[ApiToken, str]:
    """A new token for ``user``; returns the row and the secret (which is not stored)."""
    name = (name or "").strip()
    if len(name) > MAX_NAME:
        raise DomainError(RuleFailure("token_name_too_long", f"名前は{MAX_NAME}文字以内にしてください。",
                                      f"The name can be at most {MAX_NAME} characters.", field="name"))
    with accounts.hold_account(session, user):  # counted and made under the account's lock
        active = session.scalar(select(func.count()).select_from(ApiToken)
                                .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))) or 0
        if active >= MAX_ACTIVE_TOKENS:
            raise DomainError(RuleFailure("too_many_tokens", f"有効なトークンは{MAX_ACTIVE_TOKENS}個までです。",
                                          f"You can have at most {MAX_ACTIVE_TOKENS} active tokens.", field="name"))
        secret = TOKEN_PREFIX + new_secret()
        token = ApiToken(user_id=user.id, name=name, token_hash=hash_secret(secret), created_at=now)
        session.add(token)
        session.flush()
        audit.record(session, "api_token.created", now=now, actor=user, note=f"token {token.id} {name}".strip())
    return token, secret


def revoke_token(session: Session, token_id: int, *, actor: User | None, now: datetime) -> ApiToken:
    """Revoke one token. Users revoke their own; admins (and the CLI, ``actor=None``) any.
    Raises NotFound for someone else's token, so ids reveal nothing."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound()
    if actor is not None and token.user_id != actor.id and not actor.is_admin:
        raise NotFound()
    with write_transaction(session, token):  # revoked twice at once (two tabs): one revocation recorded
        if token.revoked_at is None:
            token.revoked_at = now
            session.flush()
            audit.record(session, "api_token.revoked", now=now, actor=actor, note=f"token {token.id}")
    return token


# built once: every API request with a token runs it
_TOKEN_AND_USER = (select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                   .where(ApiToken.token_hash == bindparam("token_hash")))


def token_user(session: Session, secret: str) -> tuple[ApiToken, User] | None:
    """The token a secret belongs to and its user, in one statement; None when the token is unknown
    or revoked or its user is deactivated."""
    if not secret or len(secret) > 200:
        return None
    row = session.execute(_TOKEN_AND_USER, {"token_hash": hash_secret(secret)}).first()
    if row is None:
        return None
    token, user = row
    if token.revoked_at is not None or not user.active:
        return None
    return token, user


def record_use(session: Session, token: ApiToken, *, now: datetime) -> bool:
    """Mark the token used, at most every few minutes, in a short write transaction of its own (one
    conditional UPDATE), so reads stay reads and concurrent requests with one token do not fight
    over a read-to-write lock upgrade. Returns whether it wrote (the caller then commits)."""
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return False
    token_id = token.id
    with write_transaction(session):
        session.execute(
            update(ApiToken)
            .where(ApiToken.id == token_id,
                   or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - LAST_USED_RESOLUTION))
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
    return True


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                                .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(),
                                          ApiToken.id.desc())))
