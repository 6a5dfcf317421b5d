"""Blueprint 'booking' (filled in by its own issue)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("booking", __name__)
