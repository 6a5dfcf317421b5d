"""The OpenAPI document matches the real routes, and its page loads nothing from elsewhere."""

from __future__ import annotations

import re

from tests.api.conftest import World


def _rule_to_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def test_document_is_openapi_31(client) -> None:  # type: ignore[no-untyped-def]
    res = client.get("/api/v1/openapi.json")
    assert res.status_code == 200 and res.mimetype == "application/json"
    doc = res.get_json()
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["title"] and doc["info"]["version"]
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": "A personal API token."}
    refs = set(re.findall(r'"#/components/schemas/([A-Za-z]+)"', res.get_data(as_text=True)))
    assert refs <= set(doc["components"]["schemas"]), refs - set(doc["components"]["schemas"])
    op_ids = [op["operationId"] for methods in doc["paths"].values() for op in methods.values()]
    assert len(op_ids) == len(set(op_ids))
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"{([a-z_]+)}", path)), (method, path)
            assert op["responses"], (method, path)
            if method == "get":
                assert "304" in op["responses"]


def test_every_route_is_documented_and_every_documented_route_exists(app, client) -> None:  # type: ignore[no-untyped-def]
    doc = client.get("/api/v1/openapi.json").get_json()
    documented = {(path, method.upper()) for path, methods in doc["paths"].items() for method in methods}
    routed = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1") or rule.endpoint == "api.fallback":
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routed.add((_rule_to_path(rule.rule), method))
    assert routed == documented
    for issue_path in ["/api/v1/facilities", "/api/v1/facilities/{facility_id}", "/api/v1/rooms",
                       "/api/v1/rooms/{room_id}", "/api/v1/rooms/{room_id}/availability",
                       "/api/v1/facilities/{facility_id}/availability", "/api/v1/search", "/api/v1/bookings",
                       "/api/v1/bookings/{booking_id}", "/api/v1/bookings/{booking_id}/cancel",
                       "/api/v1/bookings/{booking_id}/approve", "/api/v1/bookings/{booking_id}/reject",
                       "/api/v1/bookings/{booking_id}/confirm", "/api/v1/bookings/{booking_id}/check-in",
                       "/api/v1/bookings/{booking_id}/no-show", "/api/v1/desk/today", "/api/v1/groups",
                       "/api/v1/me"]:
        assert issue_path in doc["paths"], issue_path


def test_public_and_protected_operations_say_so(client) -> None:  # type: ignore[no-untyped-def]
    doc = client.get("/api/v1/openapi.json").get_json()
    assert {} in doc["paths"]["/api/v1/rooms"]["get"]["security"]
    assert doc["paths"]["/api/v1/bookings"]["post"]["security"] == [{"bearerAuth": []}]
    assert doc["paths"]["/api/v1/bookings"]["post"]["requestBody"]["required"] is True
    assert "409" in doc["paths"]["/api/v1/bookings"]["post"]["responses"]


def test_docs_page_is_self_contained(client, world: World) -> None:  # type: ignore[no-untyped-def]
    res = client.get("/api/v1/docs")
    assert res.status_code == 200 and res.mimetype == "text/html"
    html = res.get_data(as_text=True)
    assert "<script" not in html and "style=" not in html and "<style" not in html
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html)
    assert "/static/css/api.css" in html
    assert 'id="create_booking"' in html and "/api/v1/bookings/{booking_id}/check-in" in html
    assert "default-src 'self'" in res.headers["Content-Security-Policy"]
    assert client.get("/static/css/api.css").status_code == 200
