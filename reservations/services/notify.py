"""Queueing notifications in the outbox, in the same transaction as their cause.

Rendering and delivery happen later (``reservations.mail``); here we only
decide who is told what, under a dedupe key that makes a retried action or a
rerun job harmless.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    exists,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ..models import Booking, Group, Membership, OutboxMessage, User

KINDS = (
    "booking_received", "approved", "rejected", "confirmed", "claim_reminder", "reminder",
    "released", "cancelled", "cancelled_by_staff", "cancelled_closure", "no_show",
)


def recipients(booking: Booking) -> list[tuple[str, str]]:
    """(email, language) pairs: whoever booked, the group's representatives, and the group's
    contact address. The booker only while their account is active and, for a group's booking,
    while they are still in the group: someone who left, was removed or was deactivated is no
    longer told about the group's bookings (the representatives and the contact address are)."""
    out: dict[str, str] = {}
    booker = booking.booked_by
    if (booker is not None and not booker.is_staff and booker.active
            and (booking.group is None or any(m.user_id == booker.id for m in booking.group.memberships))):
        out[booker.email] = booker.language
    if booking.group is not None:
        for m in booking.group.memberships:
            if m.role == "representative" and m.user.active:
                out.setdefault(m.user.email, m.user.language)
        if booking.group.contact_email:
            out.setdefault(booking.group.contact_email.lower(), "ja")
    return sorted(out.items())


def recipient_rows(bookings: ColumnElement[bool]) -> Select[tuple[int, int, int | None, str, str, int]]:
    """``recipients`` for every booking matching ``bookings`` as one SELECT, so a job can queue a
    whole batch with INSERT … SELECT: (booking id, SEQUENCE, group id, email, language, rank) for
    every candidate address, unranked duplicates included.

    Same rules, same precedence (``rank``): the booker unless staff, inactive or out of the group
    (0), then the group's active representatives (1), then the group's contact address,
    lower-cased, in Japanese (2). An address
    met again keeps its first language: the caller takes, per booking and address, the row of
    the lowest rank (``jobs.notices.queue_selected`` inserts them in that order and lets the
    unique key drop the rest). ``tests/jobs/test_release_set_based.py`` checks it against
    ``recipients`` on varied data.
    """
    picked = select(Booking.id, Booking.sequence, Booking.group_id, Booking.booked_by_id).where(bookings) \
        .cte("picked")
    head = (picked.c.id, picked.c.sequence, picked.c.group_id)
    still_in_group = exists().where(Membership.group_id == picked.c.group_id, Membership.user_id == User.id)
    booker = (
        select(*head, User.email, User.language, literal(0, Integer))
        .join(User, User.id == picked.c.booked_by_id)
        .where(User.role.not_in(("staff", "admin")), User.active,  # User.is_staff
               or_(picked.c.group_id.is_(None), still_in_group))
    )
    representatives = (
        select(*head, User.email, User.language, literal(1, Integer))
        .join(Membership, Membership.group_id == picked.c.group_id)
        .join(User, User.id == Membership.user_id)
        .where(Membership.role == "representative", User.active)
    )
    contact = (
        select(*head, func.lower(Group.contact_email), literal("ja", String), literal(2, Integer))
        .join(Group, Group.id == picked.c.group_id)
        .where(Group.contact_email.is_not(None), Group.contact_email != "")
    )
    return union_all(booker, representatives, contact)  # type: ignore[return-value]


def message_rows(kind: str, booking: Booking, *, now: datetime, key_suffix: str | None = None,
                 context: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The outbox rows of ``kind`` for ``booking``: one per recipient, due now, under the dedupe key
    ``<kind>:<booking id>:<suffix>:<email>`` (the suffix defaults to the booking's SEQUENCE)."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind}")
    suffix = key_suffix if key_suffix is not None else str(booking.sequence)
    return [{
        "dedupe_key": f"{kind}:{booking.id}:{suffix}:{email}", "kind": kind, "booking_id": booking.id,
        "group_id": booking.group_id, "recipient": email, "language": language, "context": dict(context or {}),
        "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now,
    } for email, language in recipients(booking)]


def insert_ignoring_queued(session: Session) -> Any:
    """``INSERT INTO outbox … ON CONFLICT (dedupe_key) DO NOTHING`` for the session's database: a
    row whose key is queued already is left alone. Its rows come from ``from_select`` or as the
    parameters of the execution."""
    return _insert_ignoring_queued(session.get_bind().dialect.name)


@cache
def _insert_ignoring_queued(dialect: str) -> Any:
    # built once per database kind: building it cost as much as running it
    make = pg_insert if dialect == "postgresql" else sqlite_insert
    return make(OutboxMessage.__table__).on_conflict_do_nothing(index_elements=["dedupe_key"])


def queue(
    session: Session, kind: str, booking: Booking, *, now: datetime,
    key_suffix: str | None = None, context: dict[str, Any] | None = None,
) -> None:
    """Queue ``kind`` for every recipient of ``booking``; a key queued already is left alone.

    One statement, straight to the database: the unique key decides what is new (no look-up
    first), no ORM object is made (a booking's notices were a third of its flush), and nothing
    is returned (asking for the rows back cost 3% of a booking; no caller needs them)."""
    rows = message_rows(kind, booking, now=now, key_suffix=key_suffix, context=context)
    if rows:
        session.execute(insert_ignoring_queued(session), rows)


def queue_to_user(session: Session, kind: str, user: User, *, now: datetime, key: str,
                  context: dict[str, Any]) -> None:
    """Mail that is about an account rather than a booking (password reset, member added)."""
    queue_to_address(session, kind, user.email, user.language, now=now, key=key, context=context)


def queue_to_address(session: Session, kind: str, email: str, language: str, *, now: datetime, key: str,
                     context: dict[str, Any]) -> None:
    """Mail to an address that has no account (group invitations). A key queued already is left
    alone, by the unique key as for booking notices."""
    session.execute(insert_ignoring_queued(session), {
        "dedupe_key": f"{kind}:{key}", "kind": kind, "booking_id": None, "group_id": None, "recipient": email,
        "language": language, "context": context, "status": "pending", "attempts": 0, "next_attempt_at": now,
        "created_at": now,
    })
