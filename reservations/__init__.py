"""Naya Plaza Reservations: booking public meeting rooms in Yokkaichi."""

from __future__ import annotations

from typing import Any

from flask import Flask


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the web app. ``config`` overrides everything else (tests use it)."""
    from pathlib import Path

    from . import models  # noqa: F401  (register tables on the metadata)
    from .config import load_config
    from .database import configure_engine
    from .extensions import babel, csrf, db, limiter, login_manager, migrate

    root = Path(__file__).resolve().parent.parent
    app = Flask(
        __name__,
        instance_path=str(root / "instance"),
        instance_relative_config=True,
        template_folder=str(root / "templates"),
        static_folder=str(root / "static"),
    )
    from .web.safety import DatabaseId

    app.url_map.converters["int"] = DatabaseId  # before any route: ids out of range are a 404
    load_config(app, config)

    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine)
    migrate.init_app(app, db, directory=str(root / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)

    from .web import i18n

    babel.init_app(app, locale_selector=i18n.select_locale)

    from .web import register_web

    register_web(app)

    from .cli import register_cli

    register_cli(app)
    return app
