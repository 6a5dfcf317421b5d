"""The web UI: blueprints, login, navigation, error pages.

Views are thin: they parse forms, call services, map ``DomainError`` onto the
form (see ``web.forms_util``) and commit once per request.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from ..database import RETRY_AFTER_S, is_contention
from ..extensions import db, login_manager
from ..models import User

# (endpoint, label, who sees it: "all" | "anon" | "user" | "staff" | "admin")
NAV: list[tuple[str, Any, str]] = [
    ("public.index", _l("施設一覧"), "all"),
    ("booking.search", _l("空き検索"), "all"),
    ("booking.my_bookings", _l("予約一覧"), "user"),
    ("groups.my_groups", _l("団体"), "user"),
    ("desk.today", _l("窓口"), "staff"),
    ("admin.index", _l("管理"), "admin"),
    ("auth.profile", _l("プロフィール"), "user"),
    ("auth.login", _l("ログイン"), "anon"),
    ("auth.signup", _l("新規登録"), "anon"),
    ("auth.logout_page", _l("ログアウト"), "user"),
]

BLUEPRINT_MODULES = ("public", "auth", "groups", "booking", "desk", "admin", "feeds")


def _visible(who: str) -> bool:
    user = current_user
    authed = bool(user and user.is_authenticated)
    return {
        "all": True,
        "anon": not authed,
        "user": authed,
        "staff": authed and user.is_staff,
        "admin": authed and user.is_admin,
    }[who]


def _holds_nul(value: Any, depth: int = 0) -> bool:
    """Whether a string in ``value`` (a JSON document: lists, objects, strings) holds a NUL
    character; nesting deeper than any body the API takes is not looked into."""
    if isinstance(value, str):
        return "\x00" in value
    if depth > 10:
        return False
    if isinstance(value, dict):
        return any(_holds_nul(k, depth + 1) or _holds_nul(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v, depth + 1) for v in value)
    return False


def refuse_nul_characters() -> None:
    """A NUL character in a query string, a form, a path or a JSON body is refused with 400
    before any view reads it: no one types one, and PostgreSQL's text columns refuse it, so it
    would otherwise end as a 500 wherever it reached the database."""
    values = [*request.args.values(), *request.args.keys(), *(request.view_args or {}).values()]
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        values += [*request.form.values(), *request.form.keys()]
        if request.is_json and _holds_nul(request.get_json(silent=True)):
            abort(400, description="A text contains a NUL character.")
    if any(isinstance(v, str) and "\x00" in v for v in values):
        abort(400, description="A text contains a NUL character.")


def register_web(app: Flask) -> None:
    app.before_request(refuse_nul_characters)

    import importlib

    for name in BLUEPRINT_MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        app.register_blueprint(module.bp)
    from ..api import bp as api_bp
    from ..api import tokens_bp

    app.register_blueprint(api_bp)
    app.register_blueprint(tokens_bp)

    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("ログインしてください。")
    login_manager.login_message_category = "info"

    @login_manager.user_loader
    def load_user(value: str) -> User | None:
        try:
            user_id, version = (int(x) for x in value.split(":", 1))
        except ValueError:
            return None
        user = db.session.get(User, user_id)
        if user is None or user.session_version != version or not user.active:
            return None
        return user

    @app.context_processor
    def navigation() -> dict[str, Any]:
        items = []
        for endpoint, label, who in NAV:
            if endpoint in app.view_functions and _visible(who):
                url = url_for(endpoint)
                items.append({"url": url, "label": label, "active": request.path == url})
        from ..domain.lifecycle import status_label
        from .audit_labels import action_label, note_text
        from .i18n import lang, list_separator, paren

        return {"nav_items": items, "lang": lang(), "status_label": status_label, "action_label": action_label,
                "note_text": note_text, "paren": paren, "list_sep": list_separator()}

    @app.after_request
    def security_headers(response):  # type: ignore[no-untyped-def]
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
        )
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        if request.path.startswith("/api/"):
            # a path no API route matched (e.g. an id too large for the <int:> converter) never
            # reaches the API's own handlers: answer as the API does
            from ..api.errors import from_http

            return from_http(exc)
        code = exc.code or 500
        template = f"errors/{code}.html" if code in (400, 403, 404, 429) else "errors/500.html"
        return render_template(template, error=exc), code

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        busy = is_contention(exc) and not request.path.startswith("/api/")
        if busy:
            app.logger.warning("database contention, answered 503: %s", exc)
        else:
            app.logger.exception("unhandled error")
        db.session.rollback()
        if busy:
            return render_template("errors/503.html"), 503, {"Retry-After": str(RETRY_AFTER_S)}
        if request.path.startswith("/api/"):
            return {"type": "about:blank", "title": "Internal Server Error", "status": 500}, 500
        try:
            return render_template("errors/500.html", error=None), 500
        except Exception:  # the error page itself failed: say so plainly, never a trace
            app.logger.exception("error page failed")
            return ("システムエラーが発生しました。時間をおいて再度お試しください。 / "
                    "Something went wrong. Please try again later."), 500, {"Content-Type": "text/plain; charset=utf-8"}
