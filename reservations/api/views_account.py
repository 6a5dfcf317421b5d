"""Who am I, and my groups."""

from __future__ import annotations

from flask import Response

from ..clock import utcnow
from . import bp, serialize
from .auth import require_user
from .http import MAX_LIMIT, json_response, paginate
from .registry import Param, api_route, query

AUTH_ERRORS: dict[int, str | None] = {400: "Problem", 401: "Problem", 429: "Problem"}


@api_route(bp, "GET", "/me", summary="The token's user", tag="Account", auth="required",
           responses={200: "Me", **AUTH_ERRORS})
def me() -> Response:
    """Your account: role, the facilities you serve (staff), your groups."""
    return json_response(serialize.me(require_user(), utcnow()))


@api_route(bp, "GET", "/groups", summary="My groups", tag="Account", auth="required",
           params=(Param("limit", "integer", "Page size (1–100, default 50).", minimum=1, maximum=MAX_LIMIT),
                   Param("cursor", "string", "The `next_cursor` of the previous page.", max_length=500)),
           responses={200: "GroupPage", **AUTH_ERRORS})
def my_groups() -> Response:
    """The groups you belong to; `group_class` says whether they book as a registered group."""
    user = require_user()
    args = query(my_groups)
    now = utcnow()
    rows = sorted(user.memberships, key=lambda m: m.group_id)
    page, nxt = paginate(rows, args["limit"], args["cursor"])
    return json_response({"items": [serialize.membership(m, now) for m in page], "next_cursor": nxt})
