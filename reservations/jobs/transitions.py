"""Set-based lifecycle changes for the scheduler's jobs.

The same effects as ``services.bookings._change`` — status through the
lifecycle table, SEQUENCE + 1, ``updated_at``, freed units for final states,
one audit event per booking and a notice — but as one statement each per batch. The
UPDATE repeats the state it acts on in its WHERE clause, so a booking changed
meanwhile (paid, cancelled, already released by another runner) is left
alone, and only the ids the database actually changed get audit events and mail.

The audit events and the outbox rows are written by INSERT … SELECT from the changed
rows (``audit.booking_snapshot_sql``, ``notify.recipient_rows``): no booking is loaded
into Python, which at 100,000 expired holds was nearly all of the job's time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    bindparam,
    cast,
    insert,
    literal,
    null,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import NullType, TypeDecorator, TypeEngine

from ..domain.lifecycle import Action, Status, is_active, transition
from ..models import AuditEvent, Booking, OccupiedUnit, Room
from ..models.types import UTCDateTime
from ..services import audit
from .notices import queue_selected

NOTE = "scheduler"


def bulk_transition(
    session: Session, ids: Sequence[int], *, frm: Status, action: Action, now: datetime,
    notice: str | None, where: Sequence[ColumnElement[bool]] = (),
) -> list[int]:
    """Move the bookings ``ids`` that are still in ``frm`` (and match ``where``) on by ``action``.
    Returns the ids changed, in order."""
    if not ids:
        return []
    to = transition(frm, action)  # refuses a transition the lifecycle table does not allow
    res: Any = session.execute(
        update(Booking)
        .where(id_in(Booking.id, ids), Booking.status == frm.value, *where)
        .values(status=to.value, sequence=Booking.sequence + 1, updated_at=now)
        .returning(Booking.id)
        .execution_options(synchronize_session=False)
    )
    done = sorted(res.scalars().all())
    if not done:
        return []
    if not is_active(to):
        session.execute(
            update(OccupiedUnit).where(id_in(OccupiedUnit.booking_id, done)).values(active=False)
            .execution_options(synchronize_session=False)
        )
    _expire_loaded(session, set(done))
    changed = id_in(Booking.id, done)
    session.execute(insert(AuditEvent).from_select(_AUDIT_COLUMNS, _audit_rows(changed, frm, action, now)))
    if notice:
        queue_selected(session, notice, changed, now=now)
    return done


_AUDIT_COLUMNS = ("at", "actor_id", "action", "booking_id", "group_id", "facility_id", "before", "after", "note")


def _audit_rows(changed: ColumnElement[bool], frm: Status, action: Action, now: datetime) -> Any:
    """What ``audit.record`` writes for each changed booking (actor: the system), as a SELECT.
    The before-image is the after-image with the old status and SEQUENCE, the only columns
    (besides ``updated_at``) the UPDATE touched."""
    after = audit.booking_snapshot_sql()
    before = audit.booking_snapshot_sql({"status": literal(frm.value, String), "sequence": Booking.sequence - 1})
    return (
        select(literal(now, UTCDateTime()), cast(null(), Integer), literal(f"booking.{action.value}", String),
               Booking.id, Booking.group_id, Room.facility_id, before, after, literal(NOTE, String))
        .join(Room, Room.id == Booking.room_id)
        .where(changed)
        .order_by(Booking.id)
    )


def _expire_loaded(session: Session, ids: set[int]) -> None:
    """The UPDATEs bypass the session: bookings and units of ``ids`` already loaded are
    expired, so whoever holds them reads the new state."""
    for obj in list(session.identity_map.values()):
        if (isinstance(obj, Booking) and obj.id in ids) or (isinstance(obj, OccupiedUnit) and obj.booking_id in ids):
            session.expire(obj)


class _IdList(TypeDecorator[list[int]]):
    """A list of ids bound as ONE parameter: an integer array on PostgreSQL, JSON text on SQLite."""

    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(ARRAY(Integer) if dialect.name == "postgresql" else String())

    def process_bind_param(self, value: list[int] | None, dialect: Dialect) -> Any:
        if value is None or dialect.name == "postgresql":
            return value
        return json.dumps([int(v) for v in value])


class _IdIn(FunctionElement[Any]):
    # not Boolean(): SQLite would then get "… IN (…) = 1" in a WHERE, and lose its index
    type = NullType()
    inherit_cache = True
    name = "id_in"


def id_in(column: Any, ids: Sequence[int]) -> ColumnElement[bool]:
    """``column IN ids`` with one bound parameter however many ids: a batch of 10,000 ids as
    10,000 parameters cost more to render and bind than the statement took to run."""
    return _IdIn(column, bindparam(None, list(ids), type_=_IdList()))


@compiles(_IdIn)
@compiles(_IdIn, "sqlite")
def _id_in_sqlite(element: _IdIn, compiler: SQLCompiler, **kw: Any) -> str:
    column, ids = element.clauses.clauses
    return f"{compiler.process(column, **kw)} IN (SELECT value FROM json_each({compiler.process(ids, **kw)}))"  # noqa: S608 - compiled SQL, no input


@compiles(_IdIn, "postgresql")
def _id_in_pg(element: _IdIn, compiler: SQLCompiler, **kw: Any) -> str:
    column, ids = element.clauses.clauses
    return f"{compiler.process(column, **kw)} = ANY(CAST({compiler.process(ids, **kw)} AS INTEGER[]))"
