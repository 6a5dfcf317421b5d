"""The JSON API under ``/api/v1``: another thin adapter over the same services as the web UI.

Two blueprints:

* ``api`` (``/api/v1``): Bearer-token authentication, never the session cookie,
  so it is exempt from CSRF; every failure is ``application/problem+json``.
* ``api_tokens`` (``/api-tokens/...``): the profile page's forms to create and
  revoke tokens: session-authenticated, CSRF-protected, HTML.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map

from ..domain.errors import DomainError
from ..extensions import csrf, db, limiter
from . import errors
from .auth import load_token_user
from .http import conditional

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


def _rate_limit() -> str:
    return str(current_app.config.get("API_RATE_LIMIT", "600 per minute"))


limiter.limit(_rate_limit)(bp)


@bp.before_request
def _authenticate() -> None:
    load_token_user()  # ids too large for a row never get here: the <int:> converter refuses them


@bp.after_request
def _finish(resp: Response) -> Response:
    if resp.status_code >= 400:
        db.session.rollback()
    return conditional(resp)


@bp.errorhandler(errors.ApiError)
def _api_error(exc: errors.ApiError) -> Response:
    db.session.rollback()
    return errors.from_api_error(exc)


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError) -> Response:
    db.session.rollback()
    return errors.from_domain(exc)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    db.session.rollback()
    return errors.from_http(exc)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> Response:
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001  (the database itself may be what failed)
        current_app.logger.exception("rollback failed")
    return errors.unexpected(exc)


# --- anything under /api/ that no route matches ------------------------------------------------
# Routing failures are not dispatched to a blueprint, so the app's (HTML) handlers would
# answer them. A catch-all rule whose endpoint is in the ``api`` blueprint keeps them JSON;
# it re-matches the path against the API's own rules to tell 404 from 405.

_API_MAP: dict[int, Map] = {}


def _api_map(app: Flask) -> Map:
    key = id(app.url_map)
    if key not in _API_MAP:
        rules = [r.empty() for r in app.url_map.iter_rules()
                 if r.endpoint.startswith("api.") and r.endpoint != "api.fallback"]
        _API_MAP[key] = Map(rules, strict_slashes=False, merge_slashes=False)
    return _API_MAP[key]


ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def fallback(rest: str = "") -> Any:
    adapter = _api_map(current_app).bind("localhost")
    try:
        adapter.match(request.path, method=request.method)
    except MethodNotAllowed as exc:
        if request.method == "OPTIONS":
            return Response(status=204, headers={"Allow": ", ".join(sorted(exc.valid_methods or []))})
        raise
    except HTTPException:
        pass
    raise NotFound()


def _add_fallback(state: Any) -> None:
    app = state.app
    for rule in ("/api", "/api/", "/api/<path:rest>"):
        app.add_url_rule(rule, endpoint="api.fallback", view_func=fallback, methods=ALL_METHODS)


bp.record_once(_add_fallback)


from . import openapi, tokens_web, views_account, views_bookings, views_public, views_staff  # noqa: E402,F401
from .tokens_web import bp as tokens_bp  # noqa: E402

__all__ = ["bp", "tokens_bp"]
