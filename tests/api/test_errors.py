"""No request under /api/ gets an HTML page or a bare 500."""

from __future__ import annotations

from tests.api.conftest import World
from tests.api.contract import assert_problem


def test_unexpected_exception_is_a_logged_500_problem(client, world: World, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    from reservations.api import views_public

    def boom(*a, **k):  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internals")

    monkeypatch.setattr(views_public.avail, "search", boom)
    res = client.get("/api/v1/search")
    body = assert_problem(res, 500, "internal_error")
    assert "secret internals" not in res.get_data(as_text=True)
    assert body["instance"] == "/api/v1/search"
    assert any("unhandled API error" in r.getMessage() for r in caplog.records)


def test_contention_is_a_503_problem_to_retry(client, world: World, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy.exc import OperationalError

    from reservations.api import views_public

    class PgError(Exception):
        sqlstate = "40001"

    def busy(*a, **k):  # type: ignore[no-untyped-def]
        raise OperationalError("SELECT ...", {}, PgError("could not serialize access"))

    monkeypatch.setattr(views_public.avail, "search", busy)
    res = client.get("/api/v1/search")
    body = assert_problem(res, 503, "busy")
    assert res.headers["Retry-After"] == "2"
    assert "serialize" not in res.get_data(as_text=True) and "try again" in body["detail"]
    assert not any("unhandled API error" in r.getMessage() for r in caplog.records)


def test_rate_limit_is_a_429_problem(database_url) -> None:  # type: ignore[no-untyped-def]
    from reservations import create_app
    from reservations.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "k", "TESTING": True,
                      "API_RATE_LIMIT": "2 per minute", "RATELIMIT_ENABLED": True})
    with app.app_context():
        client = app.test_client()
        codes = [client.get("/api/v1/facilities").status_code for _ in range(3)]
        assert codes[:2] == [200, 200]
        assert_problem(client.get("/api/v1/facilities"), 429, "rate_limited")
        db.session.remove()
        db.engine.dispose()


def test_html_never_comes_back(client, world: World) -> None:  # type: ignore[no-untyped-def]
    for method, path in [("GET", "/api"), ("GET", "/api/"), ("POST", "/api/v1"), ("GET", "/api/v1/bookings/abc"),
                         ("PATCH", "/api/v1/me"), ("GET", "/api/v1/rooms/-1")]:
        res = client.open(path, method=method)
        assert res.mimetype == "application/problem+json", (method, path, res.status_code)
        assert b"<html" not in res.data.lower()
