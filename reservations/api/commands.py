"""CLI commands of this area, registered by ``reservations.cli``."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Nothing yet."""
