"""CLI commands of this area, registered by ``reservations.cli``:

- ``flask --app reservations scheduler``: the scheduler process (blocking).
- ``flask --app reservations jobs list`` / ``jobs run NAME [--now ISO]``.
- ``flask --app reservations mail failed`` / ``mail retry`` (``reservations.mail.commands``).
"""

from __future__ import annotations

import logging

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from .. import clock


def register(app: Flask) -> None:
    jobs = AppGroup("jobs", help="Scheduled jobs: list them, or run one once.")

    @jobs.command("list")
    def list_cmd() -> None:
        """The jobs, their intervals and their last run."""
        from ..extensions import db
        from ..models import JobLease
        from .registry import JOBS

        leases = {row.name: row for row in db.session.query(JobLease).all()}
        for spec in JOBS.values():
            last = leases.get(spec.name)
            seen = f"last finished {last.last_finished_at.isoformat()}" if last and last.last_finished_at else "never run"
            click.echo(f"{spec.name:<18} every {spec.interval_seconds:>4}s  {seen}  — {spec.description}")

    @jobs.command("run")
    @click.argument("name")
    @click.option("--now", "now_text", default=None,
                  help="Run as of this instant (ISO 8601 with offset, e.g. 2026-12-01T10:00:00+09:00).")
    def run_cmd(name: str, now_text: str | None) -> None:
        """Run one job once and print what it did."""
        from ..extensions import db
        from .registry import JOBS
        from .runner import run_job
        from .settings import JobSettings

        if name not in JOBS:
            raise click.BadParameter(f"unknown job; one of: {', '.join(JOBS)}", param_hint="NAME")
        try:
            now = clock.parse_instant(now_text) if now_text else clock.utcnow()
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--now") from exc
        result = run_job(db.session(), name, now=now, settings=JobSettings.from_app(current_app))
        click.echo(result.summary())
        for what, ids in sorted(result.booking_ids.items()):
            if ids:
                click.echo(f"  {what}: bookings {', '.join(str(i) for i in ids[:50])}"
                           + (" …" if len(ids) > 50 else ""))

    @app.cli.command("scheduler")
    def scheduler_cmd() -> None:
        """Run the job scheduler in this process until stopped (Ctrl-C / SIGTERM)."""
        from .registry import JOBS
        from .scheduler import build_scheduler

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        scheduler = build_scheduler(current_app._get_current_object())  # type: ignore[attr-defined]
        click.echo("scheduler: " + ", ".join(f"{s.name} every {s.interval_seconds}s" for s in JOBS.values()))
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            scheduler.shutdown(wait=False)

    app.cli.add_command(jobs)

    from ..mail import commands as mail_commands

    mail_commands.register(app)
