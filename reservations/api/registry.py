"""The route registry: every API route is declared once, with what the OpenAPI document needs.

``api_route`` adds the Flask rule *and* records the operation (method, path,
query parameters, request and response schemas), so the document is generated
from the same declarations the views run with. Query parameters are parsed
from those declarations too (:func:`query`), so a documented type is the
enforced type. A test compares this registry with ``app.url_map``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import Blueprint, request

from ..domain.calendar import EARLIEST_DAY, LATEST_DAY
from .errors import ApiError

PREFIX = "/api/v1"
MAX_INT = 2**31 - 1  # ids and counts beyond this cannot exist (and some databases refuse them)


@dataclass(frozen=True)
class Param:
    """A query parameter: ``kind`` is integer | string | date | datetime | boolean | csv-int | csv-str."""

    name: str
    kind: str = "string"
    description: str = ""
    required: bool = False
    minimum: int | None = None
    maximum: int | None = None
    enum: tuple[str, ...] = ()
    max_length: int = 200

    def __post_init__(self) -> None:
        if self.kind in ("integer", "csv-int") and self.maximum is None:
            object.__setattr__(self, "maximum", MAX_INT)

    def schema(self) -> dict[str, Any]:
        s: dict[str, Any]
        if self.kind == "integer":
            s = {"type": "integer"}
            if self.minimum is not None:
                s["minimum"] = self.minimum
            if self.maximum is not None:
                s["maximum"] = self.maximum
        elif self.kind == "boolean":
            s = {"type": "boolean"}
        elif self.kind == "date":
            s = {"type": "string", "format": "date"}
        elif self.kind == "datetime":
            s = {"type": "string", "format": "date-time"}
        elif self.kind == "csv-int":
            lo = self.minimum if self.minimum is not None else 0
            hi = self.maximum
            item: dict[str, Any] = {"type": "integer", "minimum": lo}
            if hi is not None:
                item["maximum"] = hi
            s = {"type": "array", "items": item, "maxItems": 20}
        elif self.kind == "csv-str":
            inner: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 60, "pattern": "^[^,]+$"}
            if self.enum:
                inner = {"type": "string", "enum": list(self.enum)}
            s = {"type": "array", "items": inner, "maxItems": 20}
        else:
            s = {"type": "string", "maxLength": self.max_length}
            if self.enum:
                s = {"type": "string", "enum": list(self.enum)}
        return s

    def openapi(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "in": "query", "required": self.required,
                               "schema": self.schema()}
        if self.description:
            out["description"] = self.description
        if self.kind.startswith("csv-"):
            out["style"] = "form"
            out["explode"] = False
        return out


@dataclass
class Operation:
    method: str
    rule: str  # Flask rule relative to the blueprint, e.g. "/rooms/<int:room_id>"
    endpoint: str
    summary: str
    tag: str
    auth: str = "none"  # none | optional | required
    params: tuple[Param, ...] = ()
    body: str | None = None  # name of a component schema
    responses: dict[int, str | None] = field(default_factory=dict)  # status -> schema name (None: no body)
    description: str = ""

    @property
    def path(self) -> str:
        """The OpenAPI path: ``/api/v1/rooms/{room_id}``."""
        return PREFIX + re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", self.rule)

    @property
    def path_params(self) -> list[tuple[str, str]]:
        return re.findall(r"<(?:([a-z]+):)?([a-z_]+)>", self.rule)


REGISTRY: list[Operation] = []


def api_route(
    bp: Blueprint, method: str, rule: str, *, summary: str, tag: str, auth: str = "none",
    params: tuple[Param, ...] = (), body: str | None = None, responses: dict[int, str | None] | None = None,
    description: str = "",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``view`` on ``bp`` and record the operation for the OpenAPI document."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        endpoint = view.__name__
        op = Operation(method.upper(), rule, f"{bp.name}.{endpoint}", summary, tag, auth, params, body,
                       dict(responses or {200: None}), description or (view.__doc__ or "").strip())
        REGISTRY.append(op)
        view._api_operation = op  # type: ignore[attr-defined]
        bp.add_url_rule(rule, endpoint=endpoint, view_func=view, methods=[method.upper()])
        return view

    return decorate


def _bad(name: str, message: str) -> ApiError:
    return ApiError(400, "invalid_parameter", "Invalid query parameter",
                    f"{name}: {message}", errors=[{"field": name, "code": "invalid_parameter", "message": message}])


def _parse(p: Param, raw: str) -> Any:
    if p.kind == "integer":
        try:
            value = int(raw)
        except ValueError:
            raise _bad(p.name, "must be an integer") from None
        if (p.minimum is not None and value < p.minimum) or (p.maximum is not None and value > p.maximum):
            raise _bad(p.name, f"must be between {p.minimum} and {p.maximum}")
        return value
    if p.kind == "boolean":
        if raw not in ("true", "false"):
            raise _bad(p.name, "must be true or false")
        return raw == "true"
    if p.kind == "date":
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            raise _bad(p.name, "must be a date YYYY-MM-DD")
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            raise _bad(p.name, "must be a date YYYY-MM-DD") from None
        if not (EARLIEST_DAY <= day <= LATEST_DAY):
            raise _bad(p.name, "must be a date from 2000-01-01 to 2099-12-31")
        return day
    if p.kind == "datetime":
        from ..clock import parse_instant

        try:
            return parse_instant(raw)
        except ValueError:
            raise _bad(p.name, "must be an ISO 8601 instant with an offset") from None
    if p.kind in ("csv-int", "csv-str"):
        items = [x for x in raw.split(",")] if raw != "" else []
        if len(items) > 20:
            raise _bad(p.name, "at most 20 values")
        if p.kind == "csv-int":
            out = []
            for x in items:
                try:
                    n = int(x)
                except ValueError:
                    raise _bad(p.name, "must be comma-separated integers") from None
                lo = p.minimum if p.minimum is not None else 0
                if n < lo or (p.maximum is not None and n > p.maximum):
                    raise _bad(p.name, f"values must be between {lo} and {p.maximum}")
                out.append(n)
            return tuple(out)
        if any(not x for x in items):
            raise _bad(p.name, "empty value")
        if p.enum and any(x not in p.enum for x in items):
            raise _bad(p.name, "must be one of " + ", ".join(p.enum))
        return tuple(items)
    if p.enum and raw not in p.enum:
        raise _bad(p.name, "must be one of " + ", ".join(p.enum))
    if len(raw) > p.max_length:
        raise _bad(p.name, f"at most {p.max_length} characters")
    return raw


def query(view: Callable[..., Any]) -> dict[str, Any]:
    """The declared query parameters of ``view``, parsed; 400 on a bad or unknown value."""
    op: Operation = view._api_operation  # type: ignore[attr-defined]
    out: dict[str, Any] = {}
    for p in op.params:
        values = request.args.getlist(p.name)
        if not values:
            if p.required:
                raise _bad(p.name, "is required")
            out[p.name] = None
            continue
        if len(values) > 1:
            raise _bad(p.name, "given more than once")
        out[p.name] = _parse(p, values[0])
    return out
