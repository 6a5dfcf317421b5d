"""Running one job once: lease, transaction, commit, result.

``run_job`` is what the scheduler, the CLI and the tests call. The job's effects,
audit events and outbox rows are written in one transaction (``BEGIN IMMEDIATE``
on SQLite, plus ``pg_try_advisory_xact_lock`` on PostgreSQL) and committed here;
if the job raises, everything it did is rolled back and the lease is given back,
so the next run starts from the same state.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from .. import clock
from ..database import write_transaction
from . import lease
from .registry import JOBS
from .result import JobResult
from .settings import JobSettings

log = logging.getLogger("reservations.jobs")


class UnknownJob(KeyError):
    pass


def run_job(session: Session, name: str, *, now: datetime, settings: JobSettings,
            owner: str | None = None, lease_now: datetime | None = None) -> JobResult:
    """Run job ``name`` as of ``now``. ``lease_now`` (default: the clock) times the lease, so a
    run "as of" another instant cannot block the real scheduler for long."""
    spec = JOBS.get(name)
    if spec is None:
        raise UnknownJob(name)
    owner = owner or lease.new_owner()
    lease_now = lease_now or clock.utcnow()
    if not lease.acquire(session, name, owner, now=lease_now, ttl=timedelta(seconds=settings.lease_seconds)):
        result = JobResult(name, now, skipped="another runner holds the lease")
        log.info(result.summary())
        return result
    result = JobResult(name, now)
    try:
        if spec.transactional:
            with write_transaction(session):
                if not lease.try_advisory_lock(session, name):
                    session.rollback()
                    result.skipped = "another runner holds the advisory lock"
                else:
                    result = spec.function(session, now, settings)
                    session.commit()
        else:
            result = spec.function(session, now, settings)
            session.commit()
    except BaseException as exc:
        session.rollback()
        lease.release(session, name, owner, now=lease_now,
                      result={"now": now.isoformat(), "error": f"{type(exc).__name__}: {exc}"[:500]})
        raise
    lease.release(session, name, owner, now=lease_now, result=result.to_dict())
    log.info(result.summary())
    return result
