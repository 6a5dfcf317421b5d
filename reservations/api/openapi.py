"""The OpenAPI 3.1 document, generated from the route registry, and its readable HTML page."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Response, render_template
from markupsafe import Markup, escape

from ..web.safety import MAX_ID
from . import bp
from .http import json_response
from .registry import PREFIX, REGISTRY, Operation, api_route
from .schemas import SCHEMAS

STATUS_TEXT = {200: "OK", 201: "Created", 304: "Not modified", 400: "Bad request (malformed JSON or parameters)",
               401: "Missing, invalid or revoked token", 403: "Not allowed", 404: "Not found",
               405: "Method not allowed", 409: "Conflict", 415: "Body is not application/json",
               422: "Validation failed (per field, with the domain's codes)", 429: "Too many requests"}

INTRO = (
    "The JSON API of Naya Plaza Reservations: read facilities, rooms and availability, book rooms for your "
    "groups and follow the booking to confirmation; staff approve, confirm payments and check groups in.\n\n"
    "* **Authentication**: `Authorization: Bearer <token>`; create a personal token on your profile page or "
    "with `flask --app reservations tokens create EMAIL`. A token carries your own permissions. Reads of "
    "facilities, rooms and availability need no token.\n"
    "* **Times** are ISO 8601 with an offset in the facility's zone (`2026-12-01T18:00:00+09:00`); dates "
    "are `YYYY-MM-DD` in the facility's zone.\n"
    "* **Errors** are `application/problem+json` (RFC 9457) with a stable `type` and `code`; 422 lists "
    "one entry per field with the rule's code; 409 `conflict` names the taken time range and suggests "
    "alternatives.\n"
    "* **Lists** are paginated: `limit` (≤ 100) and the opaque `cursor` from `next_cursor`.\n"
    "* **Caching**: GET responses carry an `ETag`; send it back in `If-None-Match` to get `304`."
)


def _operation(op: Operation) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True,
         "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID} if conv == "int" else {"type": "string"}}
        for conv, name in op.path_params
    ]
    params.extend(p.openapi() for p in op.params)
    out: dict[str, Any] = {
        "operationId": op.endpoint.split(".", 1)[1],
        "summary": op.summary,
        "tags": [op.tag],
        "responses": {},
    }
    if op.description:
        out["description"] = op.description
    if params:
        out["parameters"] = params
    if op.auth == "required":
        out["security"] = [{"bearerAuth": []}]
    else:
        out["security"] = [{}, {"bearerAuth": []}]
    if op.body:
        required = op.body in ("NewBooking", "RejectBody")
        out["requestBody"] = {"required": required,
                              "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{op.body}"}}}}
    for status, schema in sorted(op.responses.items()):
        resp: dict[str, Any] = {"description": STATUS_TEXT.get(status, "Response")}
        if schema == "HTML":
            resp["content"] = {"text/html": {"schema": {"type": "string"}}}
        elif schema == "OpenAPI":
            resp["content"] = {"application/json": {"schema": {"type": "object"}}}
        elif schema == "Problem":
            resp["content"] = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        elif schema is not None:
            resp["content"] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}
        if status in (200,) and op.method == "GET":
            resp["headers"] = {"ETag": {"description": "Hash of the body; send in If-None-Match.",
                                        "schema": {"type": "string"}}}
        if status == 401:
            resp["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
        out["responses"][str(status)] = resp
    if op.method == "GET":
        out["responses"]["304"] = {"description": STATUS_TEXT[304]}
    return out


def build_document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in REGISTRY:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    tags = []
    for op in REGISTRY:
        if op.tag not in tags:
            tags.append(op.tag)
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {"title": "Naya Plaza Reservations API", "version": "1.0.0", "description": INTRO},
        "servers": [{"url": "/"}],
        "tags": [{"name": t} for t in tags],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "A personal API token."}},
        },
    }


@api_route(bp, "GET", "/openapi.json", summary="This document", tag="Meta",
           responses={200: "OpenAPI", 429: "Problem"})
def openapi_document() -> Response:
    """The OpenAPI 3.1 document, generated from the routes themselves."""
    return json_response(build_document())


def inline(text: str) -> Markup:
    """Escape, then render `code` and **strong** (the only markdown the descriptions use)."""
    out = str(escape(text))
    out = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)
    out = re.sub(r"`(.+?)`", r"<code>\1</code>", out)
    return Markup(out)  # noqa: S704  (built from escaped text)


def _blocks(text: str) -> list[tuple[str, Any]]:
    blocks: list[tuple[str, Any]] = []
    for para in text.split("\n\n"):
        lines = para.splitlines()
        if lines and all(x.startswith("* ") for x in lines):
            blocks.append(("ul", [x[2:] for x in lines]))
        else:
            blocks.append(("p", para))
    return blocks


def _resolve(schema: dict[str, Any] | None) -> str:
    """A short human-readable type for the docs page."""
    if not schema:
        return ""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[1]
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = " | ".join(kind)
    if kind == "array":
        return f"array of {_resolve(schema.get('items'))}"
    if "enum" in schema:
        return f"{kind} ({', '.join(str(x) for x in schema['enum'] if x is not None)})"
    if "format" in schema:
        return f"{kind} ({schema['format']})"
    return str(kind)


@api_route(bp, "GET", "/docs", summary="This document as a page", tag="Meta",
           responses={200: "HTML", 429: "Problem"})
def docs() -> Response:
    """The document rendered on the server: no script, nothing loaded from elsewhere."""
    doc = build_document()
    operations = []
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            operations.append({"path": path, "method": method.upper(), "op": op,
                               "public": {} in op.get("security", [])})
    schemas = {name: {"schema": s, "fields": [
        {"name": k, "type": _resolve(v), "required": k in s.get("required", []),
         "description": v.get("description", "")}
        for k, v in s.get("properties", {}).items()]} for name, s in doc["components"]["schemas"].items()}
    html = render_template("api/docs.html", doc=doc, operations=operations, schemas=schemas,
                           resolve=_resolve, prefix=PREFIX, inline=inline, intro=_blocks(INTRO),
                           example=json.dumps(EXAMPLE, indent=2, ensure_ascii=False))
    return Response(html, mimetype="text/html")


EXAMPLE = {"room_id": 4, "group_id": 1, "date": "2026-12-08", "slot": "evening",
           "purpose": "定例会 / monthly meeting", "attendees": 12}
