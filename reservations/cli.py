"""Command-line entry points (``flask --app reservations ...``).

Each area registers its own commands: jobs and the scheduler (``jobs.commands``),
API tokens (``api.commands``).
"""

from __future__ import annotations

import click
from flask import Flask


def register_cli(app: Flask) -> None:
    @app.cli.command("seed-demo")
    def seed_demo() -> None:
        """Load the demo facilities, groups, users and bookings (idempotent)."""
        from .demo import seed
        from .extensions import db

        created = seed(db.session(), progress=click.echo)
        db.session.commit()
        click.echo("demo data loaded" if created else "demo data already present")

    from .api import commands as api_commands
    from .jobs import commands as job_commands

    job_commands.register(app)
    api_commands.register(app)
