"""Engine setup that makes SQLite behave for concurrent booking.

pysqlite starts transactions lazily and never with ``BEGIN IMMEDIATE``, so two
writers can both read "free" and then race. We take over transaction control
(SQLAlchemy's documented recipe) and let a service ask for an immediate write
transaction through :func:`write_transaction`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, scoped_session

IMMEDIATE = "reservations_sqlite_immediate"


def configure_engine(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(IMMEDIATE)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def write_transaction(session: Session) -> Iterator[Session]:
    """Make the session's next transaction a write transaction taken up front.

    On SQLite this is ``BEGIN IMMEDIATE``: the check-then-insert of a booking runs
    while no other writer can commit. On PostgreSQL the exclusion constraint
    decides races, so a normal transaction suffices. A read-only transaction
    already open (e.g. loading the current user) is ended first; pending writes
    would be lost by that, so they are refused.
    """
    if isinstance(session, scoped_session):
        session = session()
    bind = session.get_bind()
    if bind.dialect.name == "sqlite":
        if session.in_transaction():
            if session.connection().get_execution_options().get(IMMEDIATE):
                yield session  # already holding the write lock (nested service call)
                return
            if session.new or session.dirty or session.deleted:
                raise RuntimeError("write_transaction entered with unflushed changes")
            session.commit()  # nothing written yet: ends the read snapshot
        session.connection(execution_options={IMMEDIATE: True})
    yield session
