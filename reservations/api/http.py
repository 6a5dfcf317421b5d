"""Request and response helpers: JSON bodies, pagination cursors, ETags."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from flask import Response, request

from .errors import ApiError

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 100
MAX_BODY = 64 * 1024


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    resp = Response(body, status=status, mimetype="application/json")
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def json_body() -> dict[str, Any]:
    """The request's JSON object: 415 when it is not JSON, 400 when malformed or not an object."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, "payload_too_large", "Payload too large", f"At most {MAX_BODY} bytes.")
    mimetype = request.mimetype or ""
    raw = request.get_data(cache=True)
    if not raw and not mimetype:
        return {}  # an action without a body (e.g. POST .../check-in)
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise ApiError(415, "unsupported_media_type", "Unsupported media type",
                       "Send the body as application/json.")
    if len(raw) > MAX_BODY:
        raise ApiError(413, "payload_too_large", "Payload too large", f"At most {MAX_BODY} bytes.")
    try:
        data = json.loads(raw.decode("utf-8")) if raw else {}
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiError(400, "malformed_json", "Malformed JSON", "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "malformed_json", "Malformed JSON", "The request body must be a JSON object.")
    return data


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        offset = data["o"]
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise ValueError
        return offset
    except (ValueError, KeyError, TypeError, UnicodeEncodeError, binascii.Error):
        raise ApiError(400, "invalid_cursor", "Invalid cursor", "The cursor is not one this API gave out.",
                       errors=[{"field": "cursor", "code": "invalid_cursor", "message": "unknown cursor"}]) from None


def paginate(items: Sequence[T], limit: int | None, cursor: str | None) -> tuple[list[T], str | None]:
    """One page of ``items`` (already in a stable order) and the cursor of the next page."""
    size = limit or DEFAULT_LIMIT
    offset = _decode_cursor(cursor) if cursor else 0
    page = list(items[offset:offset + size])
    more = offset + size < len(items)
    return page, (_encode_cursor(offset + size) if more else None)


def page_end(limit: int | None, cursor: str | None) -> int:
    """How many items ``paginate`` must see for this page and to know whether another follows,
    so a search can stop there."""
    return (_decode_cursor(cursor) if cursor else 0) + (limit or DEFAULT_LIMIT) + 1


def conditional(resp: Response) -> Response:
    """ETag (a hash of the body) on successful GETs, and 304 when the client already has it."""
    if request.method not in ("GET", "HEAD") or resp.status_code != 200 or resp.direct_passthrough:
        return resp
    resp.set_etag(hashlib.sha256(resp.get_data()).hexdigest()[:32])
    resp.headers.setdefault("Cache-Control", "no-cache")
    resp.vary.add("Authorization")
    resp.make_conditional(request)  # in place: 304 without a body when If-None-Match matches
    return resp
