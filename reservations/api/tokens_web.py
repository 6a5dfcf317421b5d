"""The profile page's API token forms: session login, CSRF-protected, HTML.

The profile page includes ``templates/api/_tokens.html``; the token is shown
once, on the page the create form answers with (never flashed into a cookie).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..clock import utcnow
from ..domain.errors import DomainError
from ..extensions import db
from ..models import ApiToken
from ..services import api_tokens

bp = Blueprint("api_tokens", __name__, url_prefix="/api-tokens")


def _profile_url() -> str:
    return url_for("auth.profile") if "auth.profile" in current_app.view_functions else "/"


@bp.app_template_global()
def api_tokens_of(user: Any) -> list[ApiToken]:
    """For the partial: the user's tokens, active first."""
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    return api_tokens.tokens_of(db.session(), user)


@bp.post("/create")
@login_required
def create_token_form():  # type: ignore[no-untyped-def]
    from ..web.i18n import lang

    try:
        token, secret = api_tokens.create_token(db.session(), current_user, name=request.form.get("name", ""),
                                                now=utcnow())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message(lang()), "error")
        return redirect(_profile_url())
    resp = current_app.make_response(render_template("api/token_created.html", token=token, secret=secret,
                                                     profile_url=_profile_url()))
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/<int:token_id>/revoke")
@login_required
def revoke_token_form(token_id: int):  # type: ignore[no-untyped-def]
    from ..web.i18n import lang

    try:
        api_tokens.revoke_token(db.session(), token_id, actor=current_user, now=utcnow())
        db.session.commit()
        flash(_("APIトークンを無効にしました。"), "success")
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message(lang()), "error")
    return redirect(_profile_url())
