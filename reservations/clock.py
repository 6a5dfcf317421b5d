"""The one place that reads the real time.

Services and jobs take ``now`` from their caller; the web and job boundaries
get it here, so a test (or ``jobs run --now``) can run everything "as of" any
instant by setting ``FIXED_NOW``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app, has_app_context


def parse_instant(value: str) -> datetime:
    """An ISO 8601 instant with an offset; naive input is refused rather than guessed."""
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        raise ValueError("an offset is required, e.g. 2026-12-01T10:00:00+09:00")
    return dt.astimezone(UTC)


def utcnow() -> datetime:
    if has_app_context():
        fixed = current_app.config.get("FIXED_NOW")
        if fixed:
            return parse_instant(fixed) if isinstance(fixed, str) else fixed.astimezone(UTC)
    return datetime.now(UTC)
