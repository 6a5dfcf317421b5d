"""CLI commands of this area, registered by ``reservations.cli``:

``flask --app reservations tokens create EMAIL [--name NAME]`` prints a new token once;
``flask --app reservations tokens revoke ID`` revokes one.
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import func, select

tokens = AppGroup("tokens", help="Personal API tokens.")


@tokens.command("create")
@click.argument("email")
@click.option("--name", default="", help="What the token is for (shown on the profile page).")
def create(email: str, name: str) -> None:
    """Create a token for the user with EMAIL and print it (only this once)."""
    from ..clock import utcnow
    from ..domain.errors import DomainError
    from ..extensions import db
    from ..models import User
    from ..services import api_tokens

    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None:
        raise click.ClickException(f"no user with e-mail {email}")
    try:
        token, secret = api_tokens.create_token(db.session(), user, name=name, now=utcnow())
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message("en")) from exc
    db.session.commit()
    click.echo(f"token {token.id} for {user.email} (store it now; it is not shown again):", err=True)
    click.echo(secret)


@tokens.command("revoke")
@click.argument("token_id", type=int)
def revoke(token_id: int) -> None:
    """Revoke the token with TOKEN_ID."""
    from ..clock import utcnow
    from ..domain.errors import DomainError
    from ..extensions import db
    from ..services import api_tokens

    try:
        api_tokens.revoke_token(db.session(), token_id, actor=None, now=utcnow())
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(f"no token {token_id}") from exc
    db.session.commit()
    click.echo(f"token {token_id} revoked")


def register(app: Flask) -> None:
    app.cli.add_command(tokens)
