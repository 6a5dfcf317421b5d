"""The scheduler process: APScheduler 3 with an in-memory job store.

Run it as its own process (``flask --app reservations scheduler``), never inside the
web app or its gunicorn workers: each worker would start its own scheduler. Even
if two processes run by mistake, the lease in ``job_leases`` lets only one run a job
at a time and every effect is idempotent.
"""

from __future__ import annotations

import logging
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask

from .. import clock
from .registry import JOBS
from .runner import run_job
from .settings import JobSettings

log = logging.getLogger("reservations.jobs")


def run_scheduled(app: Flask, name: str) -> None:
    """One scheduled run: own app context and session, real time, result logged."""
    from ..extensions import db

    with app.app_context():
        try:
            run_job(db.session(), name, now=clock.utcnow(), settings=JobSettings.from_app(app))
        except Exception:
            log.exception("job %s failed; it will run again at its next time", name)
        finally:
            db.session.remove()


def register_jobs(scheduler: BaseScheduler, app: Flask) -> list[Any]:
    """Add every job under its stable id; registering again replaces, never duplicates."""
    jobs = []
    for spec in JOBS.values():
        existing = scheduler.get_job(spec.name)
        if existing is not None and not scheduler.running:
            scheduler.remove_job(spec.name)  # not started yet: replace_existing applies only at start
        jobs.append(scheduler.add_job(
            run_scheduled,
            trigger=IntervalTrigger(seconds=spec.interval_seconds),
            args=(app, spec.name),
            id=spec.name,
            name=spec.name,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=spec.misfire_grace_seconds,
            # first run one interval after start-up (wall time: FIXED_NOW must not delay it)
        ))
    return jobs


def build_scheduler(app: Flask) -> BlockingScheduler:
    scheduler = BlockingScheduler(
        jobstores={"default": MemoryJobStore()},
        executors={"default": ThreadPoolExecutor(max_workers=len(JOBS))},
        timezone="UTC",
    )
    register_jobs(scheduler, app)
    return scheduler
