"""``flask --app reservations mail failed`` and ``mail retry [ID...|--all]``."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from .. import clock


def register(app: Flask) -> None:
    mail = AppGroup("mail", help="The outgoing mail queue (outbox).")

    @mail.command("failed")
    def failed_cmd() -> None:
        """List mail that could not be delivered."""
        from ..extensions import db
        from .outbox import failed_messages

        rows = failed_messages(db.session())
        if not rows:
            click.echo("no failed mail")
            return
        for m in rows:
            click.echo(f"#{m.id}\t{m.kind}\t{m.recipient}\tattempts={m.attempts}\t"
                       f"created={m.created_at.isoformat()}\t{m.last_error or ''}")
        click.echo(f"{len(rows)} failed; `flask --app reservations mail retry ID` or `--all` to send again")

    @mail.command("retry")
    @click.argument("ids", nargs=-1, type=int)
    @click.option("--all", "all_", is_flag=True, help="Requeue every failed message.")
    def retry_cmd(ids: tuple[int, ...], all_: bool) -> None:
        """Put failed mail back in the queue (due now, attempts reset)."""
        from ..extensions import db
        from .outbox import retry

        if not ids and not all_:
            raise click.UsageError("give message ids or --all")
        session = db.session()
        count = retry(session, now=clock.utcnow(), ids=None if all_ else list(ids))
        session.commit()
        click.echo(f"{count} message(s) requeued")

    app.cli.add_command(mail)
