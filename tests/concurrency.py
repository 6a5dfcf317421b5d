"""Helpers for tests where two transactions meet: another request in a thread, and waiting until
PostgreSQL shows it waiting for a lock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from flask import Flask
from sqlalchemy import text

from reservations.domain.errors import DomainError
from reservations.extensions import db


def outcome(app: Flask, action: Callable[[], object], *, ok: str = "ok") -> str:
    """Run ``action`` as a request of its own would (its own app context and session) and commit:
    ``ok``, the codes of the DomainError it raised, or ``error:<type>:<message>`` for anything else
    (which the test then shows in its assertion rather than losing in the thread)."""
    with app.app_context():
        try:
            action()
            db.session.commit()
            return ok
        except DomainError as exc:
            db.session.rollback()
            return ",".join(exc.codes)
        except Exception as exc:  # noqa: BLE001  (returned, and asserted by the test)
            db.session.rollback()
            return f"error:{type(exc).__name__}:{exc}"
        finally:
            db.session.remove()


def wait_until_waiting_for_lock(query_like: str, *, not_pid: int | None = None, timeout: float = 30.0) -> bool:
    """Whether, within ``timeout`` seconds, a PostgreSQL session running a query LIKE
    ``query_like`` (other than ``not_pid``) waits for a lock. Read in autocommit:
    ``pg_stat_activity`` is a snapshot taken once per transaction."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watch:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if watch.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                  "AND pid != :pid AND query LIKE :q"),
                             {"pid": not_pid or 0, "q": query_like}).scalar_one():
                return True
            time.sleep(0.01)  # polling another transaction's state, not waiting on the clock under test
    return False


def outcome_once_it_waits(app: Flask, action: Callable[[], object], *, query_like: str,
                          then: Callable[[], object], ok: str = "ok") -> str:
    """Start ``action`` as another request (``outcome``); once PostgreSQL shows it waiting for a lock
    on a query LIKE ``query_like``, call ``then`` (commit the transaction that holds the lock) and
    return the action's outcome. ``then`` is called even when the action never waited, so that it
    can end; the outcome then starts with "did not wait", for the test's assertion to show."""
    outcomes: list[str] = []
    thread = threading.Thread(target=lambda: outcomes.append(outcome(app, action, ok=ok)))
    thread.start()
    waited = False
    try:
        waited = wait_until_waiting_for_lock(query_like)
    finally:
        try:
            then()
        finally:
            thread.join(timeout=60)
    said = outcomes[0] if outcomes else "error:no outcome within 60 s"
    return said if waited else f"did not wait: {said}"
