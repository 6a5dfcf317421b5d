"""The start page and public facility pages; the language switch."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session
from flask_login import current_user
from sqlalchemy import select

from ..extensions import db
from ..models import Facility
from .safety import safe_next

bp = Blueprint("public", __name__)


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    facilities = db.session.scalars(select(Facility).order_by(Facility.sort_order, Facility.id)).all()
    sample = any(f.is_sample for f in facilities)
    return render_template("public/index.html", facilities=facilities, sample_data=sample)


@bp.post("/language")
def set_language():  # type: ignore[no-untyped-def]
    language = request.form.get("language", "ja")
    if language not in ("ja", "en"):
        language = "ja"
    session["language"] = language
    if current_user.is_authenticated:
        current_user.language = language
        db.session.commit()
    return redirect(safe_next(request.form.get("next"), default="/"))
