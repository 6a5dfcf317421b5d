"""Engine setup that makes SQLite behave for concurrent booking.

pysqlite starts transactions lazily and never with ``BEGIN IMMEDIATE``, so two
writers can both read "free" and then race. We take over transaction control
(SQLAlchemy's documented recipe) and let a service ask for an immediate write
transaction through :func:`write_transaction`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, scoped_session
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import Executable

IMMEDIATE = "reservations_sqlite_immediate"
# PostgreSQL ending a transaction because of other transactions: deadlock, serialization failure,
# lock not available
_CONTENTION = frozenset({"40P01", "40001", "55P03"})
RETRY_AFTER_S = 2  # what a 503 for contention asks the client to wait


def is_contention(exc: BaseException) -> bool:
    """Whether the database ended this request's transaction because of other transactions (a
    deadlock, a serialization failure, SQLite still locked after its busy timeout). Nothing is
    wrong with the request, that transaction's writes are undone, and the same request a moment
    later will most likely pass: the user is told so (503 with Retry-After), not shown an error."""
    if not isinstance(exc, DBAPIError):
        return False
    if getattr(exc.orig, "sqlstate", None) in _CONTENTION:
        return True
    return isinstance(exc, OperationalError) and "database is locked" in str(exc.orig)


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
def write_transaction(session: Session, *current: object) -> Iterator[Session]:
    """Make the session's next transaction a write transaction taken up front.

    On SQLite this is ``BEGIN IMMEDIATE``: the check-then-insert of a booking runs
    while no other writer can commit. On PostgreSQL the exclusion constraint
    decides races, so a normal transaction suffices. A read-only transaction
    already open (e.g. loading the current user) is ended first; pending writes
    would be lost by that, so they are refused.

    ``current``: rows the caller loaded before (a booking the view fetched) and is about to
    change from what they hold. They are read again in this transaction and kept from changing
    until it ends (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's write lock already keeps every
    other writer out), so the change is decided on the row as it is, not as it was loaded: a
    payment recorded just after the scheduler released the hold is refused, rather than
    confirming a booking whose time is free again.
    """
    if isinstance(session, scoped_session):
        session = session()
    bind = session.get_bind()
    if any(obj in session.dirty for obj in current):
        raise RuntimeError("write_transaction would read again rows with unflushed changes")
    if bind.dialect.name == "sqlite":
        if session.in_transaction():
            if session.connection().get_execution_options().get(IMMEDIATE):
                yield session  # already holding the write lock (nested service call)
                return
            if session.new or session.dirty or session.deleted:
                raise RuntimeError("write_transaction entered with unflushed changes")
            session.commit()  # nothing written yet: ends the read snapshot
        session.connection(execution_options={IMMEDIATE: True})
    for obj in current:
        hold_row(session, obj)
    yield session


def hold_row(session: Session, obj: object) -> None:
    """Inside a write transaction: read ``obj`` again and, on PostgreSQL, lock its row until the
    transaction ends (``SELECT … FOR UPDATE``); for a row found only once the transaction is open.
    Locked OF the row's own table: a relationship loaded eagerly with it (a user's memberships,
    joined by the login loader) is an outer join, which PostgreSQL will not lock. Its class comes
    from its state, as ``obj`` may be a proxy (Flask-Login's ``current_user``)."""
    session.refresh(obj, with_for_update={"of": instance_state(obj).mapper.class_})


def read_rows(session: Session, statement: Executable, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The rows of one read-only statement, straight from the driver.

    For the one read that most traffic is: a calendar client polling a feed, answered ``304``
    from a single index-probing statement (``services.feeds.room_feed``). Through a session that
    read costs several times the statement (a transaction begun and rolled back, the execution
    context, the result's type processing); here the statement is compiled once per database and
    run on a pooled DBAPI connection. One statement reads one consistent state without a
    transaction. Inside a session's transaction it runs on that transaction's connection, so it
    sees what the session sees.

    Values come as the driver gives them (SQLite: times as ISO text); ``params`` must be plain
    values the driver takes as they are (integers, text): no type conversion is applied.
    """
    if isinstance(session, scoped_session):
        session = session()
    engine = session.get_bind()
    if session.in_transaction():
        return _run(session.connection().connection, engine.dialect, statement, params)
    dbapi = engine.raw_connection()  # type: ignore[union-attr]
    driver = dbapi.driver_connection
    # no BEGIN/ROLLBACK round trips around one statement (SQLite's connections are in autocommit
    # mode already: we emit BEGIN ourselves, see configure_engine)
    autocommit = engine.dialect.name == "postgresql" and not driver.autocommit  # type: ignore[union-attr]
    if autocommit:
        driver.autocommit = True  # type: ignore[union-attr]
    try:
        return _run(dbapi, engine.dialect, statement, params)
    finally:
        try:
            if autocommit:
                driver.autocommit = False  # type: ignore[union-attr]
        except Exception:  # noqa: BLE001 - a connection that cannot be put back as it was is not reused
            dbapi.invalidate()
        dbapi.close()  # back to the pool


def _run(dbapi: Any, dialect: Dialect, statement: Executable, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    compiled = _compiled(statement, dialect)
    values: dict[str, Any] = dict(compiled.construct_params(params, escape_names=False) or {})
    args: Any = tuple(values[name] for name in compiled.positiontup or ()) if compiled.positional else values
    cursor = dbapi.cursor()
    try:
        cursor.execute(compiled.string, args)
        return list(cursor.fetchall())  # the drivers' rows are tuples already
    finally:
        cursor.close()


@lru_cache(maxsize=16)
def _compiled(statement: Executable, dialect: Dialect) -> SQLCompiler:
    """Compiled once per statement and database (both are long-lived objects). Parameters the
    statement renders at execution (IN lists, literal values) or converts by type would need
    SQLAlchemy's execution path: refused here rather than sent half-done."""
    compiled: SQLCompiler = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    if compiled.post_compile_params or compiled.literal_execute_params or compiled._bind_processors:
        raise ValueError("read_rows takes plain parameters only (no IN lists, literals or typed values)")
    return compiled
