"""Queueing booking notices for many bookings at once.

The same rules as ``services.notify.queue`` (recipients, dedupe key
``<kind>:<booking_id>:<suffix>:<email>``, pending row due now, a key queued already left
alone by the unique key), for a whole batch in one statement: the rows of bookings already
loaded (``queue_bulk``), or one INSERT … SELECT that never brings a row into Python
(``queue_selected``, for bookings the job just changed).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ColumnElement, Integer, String, cast, literal, select, true
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from ..models import Booking, Group, Membership, OutboxMessage
from ..models.types import UTCDateTime
from ..services import notify

Item = tuple[Booking, str, dict[str, Any]]  # booking, key suffix, context


def booking_loads() -> Sequence[LoaderOption]:
    """Eager loads for what recipients, audit and mail read from a booking."""
    return (
        selectinload(Booking.booked_by),
        selectinload(Booking.room),
        selectinload(Booking.group).selectinload(Group.memberships).selectinload(Membership.user),
    )


def queue_bulk(session: Session, kind: str, items: Iterable[Item], *, now: datetime) -> int:
    """Queue ``kind`` for each (booking, suffix, context); existing keys are left alone.
    Returns the number of rows inserted."""
    if kind not in notify.KINDS:
        raise ValueError(f"unknown notification kind {kind}")
    rows: dict[str, dict[str, Any]] = {}
    for booking, suffix, context in items:
        for row in notify.message_rows(kind, booking, now=now, key_suffix=suffix, context=context):
            rows.setdefault(row["dedupe_key"], row)
    if not rows:
        return 0
    stmt = notify.insert_ignoring_queued(session).returning(OutboxMessage.__table__.c.dedupe_key)
    return len(session.execute(stmt, list(rows.values())).all())


def queue_selected(session: Session, kind: str, bookings: ColumnElement[bool], *, now: datetime,
                   context: dict[str, Any] | None = None) -> int:
    """``queue_bulk`` for every booking matching ``bookings``, with its current SEQUENCE as the key
    suffix, as one INSERT … SELECT of ``notify.recipient_rows``. The rows go in by (booking,
    address, rank): the first of an address is its highest-precedence one, and ON CONFLICT DO
    NOTHING on the unique key leaves alone both an address met again (a lower precedence) and a key
    queued before. (An anti-join against the outbox misjudged its size mid-transaction on
    PostgreSQL and went quadratic; a window function to rank them cost a second sort of the batch.)
    Returns the number of rows inserted. A plain INSERT on the table: the session is not flushed
    first (the job's own statements before it are, and they are what it reads)."""
    if kind not in notify.KINDS:
        raise ValueError(f"unknown notification kind {kind}")
    rec = notify.recipient_rows(bookings).subquery("recipients")
    booking_id, sequence, group_id, email, language, rank = rec.c
    key = literal(f"{kind}:", String) + cast(booking_id, String) + ":" + cast(sequence, String) + ":" + email
    instant = literal(now, UTCDateTime())
    rows = (
        select(key, literal(kind, String), booking_id, group_id, email, language,
               literal(dict(context or {}), JSON), literal("pending", String), literal(0, Integer),
               instant, instant)
        .where(true())  # SQLite parses INSERT … SELECT … ON CONFLICT only with a WHERE
        .order_by(booking_id, email, rank)  # the ids queue_bulk would give them; the best rank first
    )
    columns = ("dedupe_key", "kind", "booking_id", "group_id", "recipient", "language", "context", "status",
               "attempts", "next_attempt_at", "created_at")
    stmt = notify.insert_ignoring_queued(session).from_select(columns, rows)
    res: Any = session.execute(stmt)
    return int(res.rowcount)
