"""Blueprint 'desk' (filled in by its own issue)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("desk", __name__)
