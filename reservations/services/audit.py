"""Writing the audit trail. Every state change and staff action comes through ``record``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, insert, type_coerce
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import JSON

from ..models import AuditEvent, Booking, User

# What an audit event records of a booking: (JSON key, Booking attribute, is an instant).
# booking_snapshot (Python, one booking) and booking_snapshot_sql (SQL, a whole batch)
# are both built from this list, so the two cannot record different fields.
BOOKING_SNAPSHOT: tuple[tuple[str, str, bool], ...] = (
    ("status", "status", False),
    ("room_id", "room_id", False),
    ("start", "start_at", True),
    ("end", "end_at", True),
    ("claim_deadline", "claim_deadline", True),
    ("fee_total", "fee_total", False),
    ("sequence", "sequence", False),
)


def booking_snapshot(b: Booking) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, attr, instant in BOOKING_SNAPSHOT:
        value = getattr(b, attr)
        out[key] = (value.isoformat() if value is not None else None) if instant else value
    return out


class json_object(FunctionElement[Any]):  # noqa: N801 - reads like the SQL function it renders
    """A JSON object from alternating key/value arguments: ``json_object`` on SQLite,
    ``json_build_object`` on PostgreSQL (both keep the keys in the order given)."""

    type = JSON()
    inherit_cache = True
    name = "json_object"


@compiles(json_object)
def _json_object(element: json_object, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_object({compiler.process(element.clauses, **kw)})"


@compiles(json_object, "postgresql")
def _json_object_pg(element: json_object, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_build_object({compiler.process(element.clauses, **kw)})"


class iso_instant(FunctionElement[str]):  # noqa: N801 - reads like a SQL function
    """A stored UTC instant as ``datetime.isoformat()`` gives it for an aware UTC value:
    ``YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00``, the fraction only when it is not zero."""

    type = String()
    inherit_cache = True
    name = "iso_instant"


@compiles(iso_instant)
@compiles(iso_instant, "sqlite")
def _iso_instant_sqlite(element: iso_instant, compiler: SQLCompiler, **kw: Any) -> str:
    # UTCDateTime stores 'YYYY-MM-DD HH:MM:SS.ffffff' (naive UTC) on SQLite
    x = compiler.process(element.clauses, **kw)
    base = f"substr({x}, 1, 10) || 'T' || substr({x}, 12, 8)"
    return (f"(CASE WHEN {x} IS NULL THEN NULL WHEN substr({x}, 21, 6) IN ('', '000000') "
            f"THEN {base} || '+00:00' ELSE {base} || '.' || substr({x}, 21, 6) || '+00:00' END)")


@compiles(iso_instant, "postgresql")
def _iso_instant_pg(element: iso_instant, compiler: SQLCompiler, **kw: Any) -> str:
    x = compiler.process(element.clauses, **kw)
    utc = f"timezone('UTC', {x})"  # independent of the session's TimeZone
    return (f"(to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN date_trunc('second', {x}) = {x} "
            f"THEN '' ELSE to_char({utc}, '.US') END || '+00:00')")


def booking_snapshot_sql(overrides: Mapping[str, ColumnElement[Any]] | None = None) -> ColumnElement[Any]:
    """``booking_snapshot`` of the ``bookings`` row in scope, as one SQL expression, so a job can
    write the audit events of a whole batch with INSERT … SELECT. ``overrides`` replaces a
    key's value (e.g. the status before an UPDATE); what it gives is used as is."""
    overrides = overrides or {}
    args: list[ColumnElement[Any]] = []
    for key, attr, instant in BOOKING_SNAPSHOT:
        column: ColumnElement[Any] = getattr(Booking, attr)
        if key in overrides:
            value = overrides[key]
        elif instant:
            value = iso_instant(type_coerce(column, String))
        else:
            value = column
        args += [type_coerce(key, String), value]
    return json_object(*args)


_INSERT = insert(AuditEvent.__table__)


def record(
    session: Session,
    action: str,
    *,
    now: datetime,
    actor: User | None = None,
    booking: Booking | None = None,
    group_id: int | None = None,
    facility_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    note: str = "",
) -> None:
    """Write one audit event now, in the caller's transaction.

    A plain INSERT rather than an ORM object: no caller needs the event as an object, and as one
    each event went through the session's flush (a booking's event and notices were a third of
    its flush). It is in the transaction at once, so a query in the same transaction sees it."""
    if booking is not None:
        group_id = group_id if group_id is not None else booking.group_id
        if facility_id is None and booking.room is not None:
            facility_id = booking.room.facility_id
    session.execute(_INSERT, {
        "at": now, "actor_id": actor.id if actor else None, "action": action,
        "booking_id": booking.id if booking else None, "group_id": group_id, "facility_id": facility_id,
        "before": before, "after": after, "note": note,
    })
