"""``application/problem+json`` (RFC 9457) for every failure under ``/api/``.

Domain failures are mapped here, once: ``not_found`` → 404, ``forbidden`` →
403, ``conflict`` → 409 (with the taken time range and alternatives, never
another group's details), ``illegal_transition`` → 409, anything else → 422
with one entry per field carrying the domain's code.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app, request
from werkzeug.exceptions import HTTPException

from ..database import RETRY_AFTER_S, is_contention
from ..domain.errors import DomainError

PROBLEM_BASE = "https://naya-plaza.example.jp/problems/"
PROBLEM_JSON = "application/problem+json"

# HTTP status → (code, title) for failures that are not the domain's
HTTP_CODES: dict[int, tuple[str, str]] = {
    400: ("bad_request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    422: ("validation_failed", "Validation failed"),
    429: ("rate_limited", "Too many requests"),
    500: ("internal_error", "Internal server error"),
    503: ("busy", "Busy"),
}


class ApiError(Exception):
    """A failure the API answers directly (bad parameters, missing token, malformed JSON)."""

    def __init__(self, status: int, code: str, title: str, detail: str = "", *,
                 errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail or title)
        self.status, self.code, self.title, self.detail = status, code, title, detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}


def language() -> str:
    best = request.accept_languages.best_match(["ja", "en"]) if request else None
    return best or "ja"


def problem(status: int, code: str, title: str, detail: str = "", *,
            errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None,
            extra: dict[str, Any] | None = None) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "code": code,
        "detail": detail or title,
        "instance": request.path,
    }
    if errors is not None:
        body["errors"] = errors
    if extra:
        body.update(extra)
    resp = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_JSON)
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    if status == 401:
        resp.headers.setdefault("WWW-Authenticate", 'Bearer realm="api"')
    resp.headers["Cache-Control"] = "no-store"
    return resp


def from_api_error(exc: ApiError) -> Response:
    return problem(exc.status, exc.code, exc.title, exc.detail, errors=exc.errors, headers=exc.headers,
                   extra=exc.extra)


def from_http(exc: HTTPException) -> Response:
    status = exc.code or 500
    code, title = HTTP_CODES.get(status, ("http_error", exc.name or "Error"))
    headers: dict[str, str] = {}
    allowed = getattr(exc, "valid_methods", None)
    if status == 405 and allowed:
        headers["Allow"] = ", ".join(sorted(allowed))
    if status == 429:
        retry = dict(exc.get_headers()).get("Retry-After")
        if retry:
            headers["Retry-After"] = str(retry)
    detail = title
    if status == 400 and exc.description and "CSRF" not in exc.description:
        detail = str(exc.description)[:300]
    return problem(status, code, title, detail, headers=headers)


def _field_errors(exc: DomainError, lang: str) -> list[dict[str, Any]]:
    return [{"field": f.field, "code": f.code, "message": f.message(lang)} for f in exc.failures]


def from_domain(exc: DomainError, *, conflict_extra: dict[str, Any] | None = None) -> Response:
    lang = language()
    codes = exc.codes
    detail = exc.message(lang)
    if "not_found" in codes:
        return problem(404, "not_found", "Not found", detail)
    if "forbidden" in codes:
        return problem(403, "forbidden", "Forbidden", detail)
    if "conflict" in codes:
        return problem(409, "conflict", "The time is already booked", detail,
                       errors=_field_errors(exc, lang), extra=conflict_extra)
    if "illegal_transition" in codes:
        return problem(409, "illegal_transition", "Not possible in the booking's current status", detail,
                       errors=_field_errors(exc, lang))
    return problem(422, "validation_failed", "Validation failed", detail, errors=_field_errors(exc, lang))


def unexpected(exc: Exception) -> Response:
    if is_contention(exc):
        current_app.logger.warning("database contention, answered 503: %s", exc)
        return problem(503, *HTTP_CODES[503],
                       "The system is busy and could not complete the request. Please try again in a moment.",
                       headers={"Retry-After": str(RETRY_AFTER_S)})
    current_app.logger.exception("unhandled API error: %s", type(exc).__name__)
    return problem(500, "internal_error", "Internal server error", "Something went wrong. Please try again later.")
