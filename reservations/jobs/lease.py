"""A lease row per job, so two scheduler processes started by mistake never run one job at once.

The lease is taken and given back in short transactions of their own (committed
here), so another process sees it at once. A runner that dies keeps the lease
until ``lease_until``; after that anyone may take it. On PostgreSQL the runner
additionally takes ``pg_try_advisory_xact_lock`` inside the job's transaction
(:func:`try_advisory_lock`).
"""

from __future__ import annotations

import os
import socket
import uuid
import zlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..database import write_transaction
from ..models import JobLease


def new_owner() -> str:
    """Unique per run: host, process and a random part."""
    return f"{socket.gethostname()[:50]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def acquire(session: Session, name: str, owner: str, *, now: datetime, ttl: timedelta) -> bool:
    """Take the lease of job ``name`` until ``now + ttl``; False when someone else holds it."""
    session.rollback()  # start clean: nothing of the caller's may be committed here
    try:
        with write_transaction(session):
            if session.scalar(select(JobLease.name).where(JobLease.name == name)) is None:
                try:
                    with session.begin_nested():
                        session.add(JobLease(name=name))
                        session.flush()
                except IntegrityError:
                    pass  # another runner inserted it first; the UPDATE below decides
            res: Any = session.execute(
                update(JobLease)
                .where(JobLease.name == name,
                       or_(JobLease.lease_until.is_(None), JobLease.lease_until < now, JobLease.owner == owner))
                .values(owner=owner, lease_until=now + ttl, last_started_at=now)
                .execution_options(synchronize_session=False)
            )
            taken = res.rowcount == 1
        session.commit()
    except Exception:
        session.rollback()
        raise
    return taken


def release(session: Session, name: str, owner: str, *, now: datetime, result: dict[str, Any] | None) -> None:
    """Give the lease back (only if still ours) and record how the run ended."""
    session.rollback()
    with write_transaction(session):
        session.execute(
            update(JobLease)
            .where(JobLease.name == name, JobLease.owner == owner)
            .values(lease_until=None, last_finished_at=now, last_result=result)
            .execution_options(synchronize_session=False)
        )
    session.commit()


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key per job name for PostgreSQL advisory locks."""
    return zlib.crc32(f"reservations.job.{name}".encode()) - 2**31


def try_advisory_lock(session: Session, name: str) -> bool:
    """On PostgreSQL, a transaction-scoped advisory lock; elsewhere always True."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": advisory_key(name)}))
