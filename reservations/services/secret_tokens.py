"""The secrets behind links and API access (password reset, private feeds, invitations,
API tokens): 256 bits from ``secrets``, and only their SHA-256 ever stored, so a copy of
the database does not open anyone's feed or account."""

from __future__ import annotations

import hashlib
import secrets


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
