"""``database.read_rows``: one statement straight on the driver, for a feed's 304."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from reservations.database import read_rows
from reservations.extensions import db
from reservations.models import Group
from tests.factories import make_group

COUNT = select(func.count(Group.id)).where(Group.name != bindparam("name"))


@pytest.mark.both_databases
def test_reads_on_its_own_connection_and_inside_the_session_transaction(app: Flask) -> None:
    make_group(name="一の会")
    db.session.commit()
    assert not db.session().in_transaction()
    assert read_rows(db.session, COUNT, {"name": "-"}) == [(1,)]
    # the pooled connection went back as it came: the session's writes are still transactional
    make_group(name="二の会")
    db.session.flush()
    assert read_rows(db.session, COUNT, {"name": "-"}) == [(2,)]  # sees what the session sees
    db.session.rollback()
    assert read_rows(db.session, COUNT, {"name": "-"}) == [(1,)]
    assert read_rows(db.session, COUNT, {"name": "一の会"}) == [(0,)]


@pytest.mark.both_databases
def test_leaves_a_pooled_connection_in_transactional_mode(app: Flask) -> None:
    """On PostgreSQL the statement runs in autocommit mode; the connection must go back to the pool
    without it, or the next session's writes would commit one by one."""
    engine = db.engine
    for _ in range(3):
        read_rows(Session(engine), COUNT, {"name": "-"})
    connections = [engine.raw_connection() for _ in range(engine.pool.checkedin() or 1)]
    try:
        for raw in connections:
            driver = raw.driver_connection
            if engine.dialect.name == "postgresql":
                assert driver.autocommit is False  # type: ignore[union-attr]
            else:
                assert driver.isolation_level is None  # type: ignore[union-attr]  # we emit BEGIN
    finally:
        for raw in connections:
            raw.close()


def test_refuses_statements_that_need_the_execution_path(app: Flask) -> None:
    """IN lists are rendered at execution and typed values converted by SQLAlchemy: the driver
    alone would get them half done, so such a statement is refused."""
    with pytest.raises(ValueError, match="plain parameters"):
        read_rows(db.session, select(Group.id).where(Group.id.in_(bindparam("ids", expanding=True))), {"ids": [1]})
