"""Checking a response against the OpenAPI document's schema for it."""

from __future__ import annotations

from typing import Any

import pytest

from reservations.api.openapi import build_document


def assert_schema(body: Any, name: str) -> None:
    jsonschema_rs = pytest.importorskip("jsonschema_rs")  # comes with schemathesis
    doc = build_document()
    schema = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
    validator = jsonschema_rs.Draft202012Validator(schema)
    errors = [str(e) for e in validator.iter_errors(body)]
    assert not errors, errors[:5]


def assert_problem(res: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert res.status_code == status, (res.status_code, res.get_data(as_text=True)[:500])
    assert res.mimetype == "application/problem+json"
    body = res.get_json(force=True)
    assert_schema(body, "Problem")
    assert body["status"] == status
    assert body["type"] == f"https://naya-plaza.example.jp/problems/{body['code']}"
    if code is not None:
        assert body["code"] == code, body
    return body
