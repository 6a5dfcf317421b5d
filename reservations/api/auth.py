"""Bearer-token authentication. The session cookie is never consulted, so CSRF cannot apply."""

from __future__ import annotations

from flask import current_app, g, request
from sqlalchemy.exc import OperationalError

from ..clock import utcnow
from ..extensions import db
from ..models import User
from ..services import api_tokens
from .errors import ApiError


def _unauthorized(detail: str, error: str = "invalid_token") -> ApiError:
    return ApiError(401, "unauthorized", "Authentication required", detail,
                    headers={"WWW-Authenticate": f'Bearer realm="api", error="{error}"'})


def load_token_user() -> None:
    """Before each API request: resolve ``Authorization: Bearer`` into ``g.api_user``.

    No header: anonymous (public reads still work). A header that is not a
    valid, unrevoked token: 401 — even on public endpoints, so a client with
    a broken token finds out at once.
    """
    g.api_user = None
    header = request.headers.get("Authorization")
    if header is None:
        return
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise _unauthorized("Use 'Authorization: Bearer <token>'.", "invalid_request")
    found = api_tokens.token_user(db.session(), secret.strip())
    if found is None:
        db.session.rollback()
        raise _unauthorized("The token is unknown or has been revoked.")
    token, user = found
    try:
        if api_tokens.record_use(db.session(), token, now=utcnow()):
            db.session.commit()  # last_used_at: the write lock is not kept for the view
    except OperationalError:  # the advisory timestamp could not be written (busy database)
        db.session.rollback()
        current_app.logger.warning("could not record API token use")
        found = api_tokens.token_user(db.session(), secret.strip())  # read again after the rollback
        if found is None:
            raise _unauthorized("The token is unknown or has been revoked.") from None
        token, user = found
    g.api_user = user


def current() -> User | None:
    return g.get("api_user")


def require_user() -> User:
    user = current()
    if user is None:
        raise ApiError(401, "unauthorized", "Authentication required",
                       "This endpoint needs 'Authorization: Bearer <token>'.",
                       headers={"WWW-Authenticate": 'Bearer realm="api"'})
    return user
