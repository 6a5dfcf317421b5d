"""The migrations build the whole schema and the overlap guard, and take it down again."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from reservations.extensions import db


def _guard_names(kind: str) -> set[str]:
    with db.engine.connect() as conn:
        if kind == "postgres":
            rows = conn.execute(text("SELECT conname FROM pg_constraint WHERE conname LIKE 'occupied_units_%'"))
        else:
            rows = conn.execute(text("SELECT name FROM sqlite_master WHERE type='trigger'"))
        return {r[0] for r in rows}


@pytest.mark.both_databases
def test_upgrade_creates_and_downgrade_removes_the_overlap_guard(app, db_kind) -> None:  # type: ignore[no-untyped-def]
    expected = {"occupied_units_no_overlap"} if db_kind == "postgres" else {
        "occupied_units_no_overlap_insert", "occupied_units_no_overlap_update"}
    assert expected <= _guard_names(db_kind)
    downgrade(revision="0001")
    assert not (expected & _guard_names(db_kind))
    assert "occupied_units" in inspect(db.engine).get_table_names()
    downgrade(revision="base")
    assert "bookings" not in inspect(db.engine).get_table_names()
    upgrade()
    assert expected <= _guard_names(db_kind)
    assert {"bookings", "facilities", "rooms", "groups", "users", "outbox", "audit_events"} <= set(
        inspect(db.engine).get_table_names())


@pytest.mark.both_databases
def test_the_migrations_build_what_the_models_declare(app, db_kind) -> None:  # type: ignore[no-untyped-def]
    """A column, index or type added to a model without a migration (or the other way round)
    would pass every test built on the migrated schema and fail on a real upgrade."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []
