"""The scheduler's job registration (without starting the blocking loop) and the jobs CLI."""

from __future__ import annotations

from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select

from reservations.jobs.registry import JOBS
from reservations.jobs.scheduler import build_scheduler, register_jobs, run_scheduled
from reservations.models import Booking, JobLease

from .conftest import book

EXPECTED = {"release-unclaimed": 60, "release-no-shows": 300, "complete-past": 600, "send-reminders": 600,
            "deliver-mail": 30}


def _check(jobs) -> None:  # type: ignore[no-untyped-def]
    assert sorted(j.id for j in jobs) == sorted(EXPECTED)
    for job in jobs:
        assert job.coalesce is True
        assert job.max_instances == 1
        assert 0 < job.misfire_grace_time < EXPECTED[job.id]
        assert isinstance(job.trigger, IntervalTrigger)
        assert job.trigger.interval == timedelta(seconds=EXPECTED[job.id])


def test_blocking_scheduler_gets_each_job_once_under_a_stable_id(app) -> None:  # type: ignore[no-untyped-def]
    scheduler = build_scheduler(app)
    assert isinstance(scheduler, BlockingScheduler) and not scheduler.running
    _check(scheduler.get_jobs())
    register_jobs(scheduler, app)  # registering again (a restart, a reload) does not duplicate
    _check(scheduler.get_jobs())


def test_registering_on_a_running_scheduler_replaces_jobs(app) -> None:  # type: ignore[no-untyped-def]
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.start(paused=True)  # running, but no job fires
    try:
        register_jobs(scheduler, app)
        register_jobs(scheduler, app)
        _check(scheduler.get_jobs())
    finally:
        scheduler.shutdown(wait=False)


def test_scheduled_run_uses_the_app_clock_and_records_the_lease(app, session, world) -> None:  # type: ignore[no-untyped-def]
    b = book(session, world)
    app.config["FIXED_NOW"] = b.claim_deadline.isoformat()
    session.rollback()  # end this session's read snapshot: the run uses its own session
    run_scheduled(app, "release-unclaimed")
    session.rollback()
    assert session.get(Booking, b.id).status == "released"
    row = session.scalar(select(JobLease).where(JobLease.name == "release-unclaimed"))
    assert row.lease_until is None and row.last_result["counts"]["released"] == 1


def test_scheduled_run_logs_a_failure_and_keeps_going(app, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    import reservations.jobs.scheduler as sched

    def boom(*a, **kw):  # type: ignore[no-untyped-def]
        raise RuntimeError("database away")

    monkeypatch.setattr(sched, "run_job", boom)
    monkeypatch.setattr(sched.log, "disabled", False)  # alembic's fileConfig in the test setup disables loggers
    run_scheduled(app, "complete-past")  # does not raise: the scheduler thread survives
    assert "complete-past failed" in caplog.text


def test_jobs_list_and_run_cli(app, session, world) -> None:  # type: ignore[no-untyped-def]
    b = book(session, world)
    deadline = b.claim_deadline
    session.rollback()
    runner = app.test_cli_runner()
    out = runner.invoke(args=["jobs", "list"])
    assert out.exit_code == 0
    for name in JOBS:
        assert name in out.output
    before = (deadline - timedelta(microseconds=1)).isoformat()
    out = runner.invoke(args=["jobs", "run", "release-unclaimed", "--now", before])
    assert out.exit_code == 0, out.output
    assert "nothing to do" in out.output
    out = runner.invoke(args=["jobs", "run", "release-unclaimed", "--now", deadline.isoformat()])
    assert out.exit_code == 0, out.output
    assert "released=1" in out.output and f"bookings {b.id}" in out.output
    session.rollback()
    assert session.get(Booking, b.id).status == "released"
    out = runner.invoke(args=["jobs", "run", "no-such-job"])
    assert out.exit_code != 0 and "unknown job" in out.output
    out = runner.invoke(args=["jobs", "run", "complete-past", "--now", "2026-12-01T10:00:00"])
    assert out.exit_code != 0 and "offset" in out.output
