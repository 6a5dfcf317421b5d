"""Instants come back from the database aware and in UTC, whatever shape of text SQLite holds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import literal, select, text

from reservations.extensions import db
from reservations.models.types import UTCDateTime


@pytest.mark.both_databases
def test_written_instants_read_back_equal_and_aware(app) -> None:  # type: ignore[no-untyped-def]
    for value in (datetime(2027, 2, 2, 9, 0, tzinfo=UTC), datetime(2027, 2, 2, 9, 0, 0, 123456, tzinfo=UTC)):
        got = db.session.execute(select(literal(value, UTCDateTime()))).scalar_one()
        assert got == value and got.tzinfo == UTC


@pytest.mark.parametrize("stored, expected", [
    ("2027-02-02 09:00:00.000000", datetime(2027, 2, 2, 9, 0, tzinfo=UTC)),  # what SQLAlchemy writes
    ("2027-02-02 09:00:00.250000", datetime(2027, 2, 2, 9, 0, 0, 250000, tzinfo=UTC)),
    ("2027-02-02 09:00:00", datetime(2027, 2, 2, 9, 0, tzinfo=UTC)),  # written by hand, no fraction
    ("2027-02-02T09:00:00", datetime(2027, 2, 2, 9, 0, tzinfo=UTC)),
    ("2027-02-02 09:00", datetime(2027, 2, 2, 9, 0, tzinfo=UTC)),  # another width: the generic path
    ("2027-02-02 18:00+09", datetime(2027, 2, 2, 9, 0, tzinfo=UTC)),  # the usual width, but an offset
    ("2027-02-02 18:00:00.000+09", datetime(2027, 2, 2, 9, 0, tzinfo=UTC)),
])
def test_sqlite_text_in_any_common_shape_reads_as_utc(app, stored: str, expected: datetime) -> None:  # type: ignore[no-untyped-def]
    assert db.engine.dialect.name == "sqlite"
    query = text("SELECT :v AS v").bindparams(v=stored).columns(v=UTCDateTime())
    got = db.session.execute(query).scalar_one()
    assert got == expected and got.tzinfo == UTC
