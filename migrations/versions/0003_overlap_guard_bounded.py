"""The SQLite overlap trigger looks at a bounded stretch of the index; no hold exceeds 24 hours.

0002's trigger asked for holds with ``start_at < NEW.end_at AND end_at > NEW.start_at``:
the index on (unit_id, start_at, end_at) could only use the upper bound, so each insert
scanned a room's whole history (9.5 bookings/s at a million rows, see benchmarks/README.md).
A hold that overlaps NEW starts after ``NEW.start_at - 24 hours`` once no hold may be longer
than 24 hours, so that limit becomes part of the schema on both databases (the domain's own
limit, MAX_BOOKING_HOURS, is lower) and the trigger is bounded on both sides.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# SQLite stores instants as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC); datetime() gives the same
# form without the fraction, which compares correctly as text for a bound this generous.
_OVERLAP_BOUNDED = """
    SELECT RAISE(ABORT, 'booking_overlap')
    WHERE EXISTS (
        SELECT 1 FROM occupied_units o
        WHERE o.unit_id = NEW.unit_id AND o.active AND o.id != NEW.id
          AND o.start_at < NEW.end_at
          AND o.start_at > datetime(NEW.start_at, '-25 hours')
          AND o.end_at > NEW.start_at
    );
"""

_OVERLAP_UNBOUNDED = """
    SELECT RAISE(ABORT, 'booking_overlap')
    WHERE EXISTS (
        SELECT 1 FROM occupied_units o
        WHERE o.unit_id = NEW.unit_id AND o.active AND o.id != NEW.id
          AND o.start_at < NEW.end_at AND o.end_at > NEW.start_at
    );
"""

_TOO_LONG = (
    "CREATE TRIGGER occupied_units_not_too_long BEFORE {event} ON occupied_units "
    "WHEN julianday(NEW.end_at) - julianday(NEW.start_at) > 1.0 "
    "BEGIN SELECT RAISE(ABORT, 'occupied_unit_too_long'); END"
)


def _sqlite_overlap_triggers(body: str) -> None:
    op.execute("DROP TRIGGER IF EXISTS occupied_units_no_overlap_insert")
    op.execute("DROP TRIGGER IF EXISTS occupied_units_no_overlap_update")
    op.execute(
        "CREATE TRIGGER occupied_units_no_overlap_insert BEFORE INSERT ON occupied_units "
        "WHEN NEW.active BEGIN " + body + " END"
    )
    op.execute(
        "CREATE TRIGGER occupied_units_no_overlap_update BEFORE UPDATE OF unit_id, start_at, end_at, active "
        "ON occupied_units WHEN NEW.active BEGIN " + body + " END"
    )


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE occupied_units ADD CONSTRAINT ck_occupied_units_at_most_a_day "
            "CHECK (end_at - start_at <= interval '24 hours')"
        )
    else:
        op.execute(_TOO_LONG.format(event="INSERT"))
        op.execute(_TOO_LONG.format(event="UPDATE OF start_at, end_at").replace(
            "occupied_units_not_too_long", "occupied_units_not_too_long_update"))
        _sqlite_overlap_triggers(_OVERLAP_BOUNDED)


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE occupied_units DROP CONSTRAINT IF EXISTS ck_occupied_units_at_most_a_day")
    else:
        op.execute("DROP TRIGGER IF EXISTS occupied_units_not_too_long")
        op.execute("DROP TRIGGER IF EXISTS occupied_units_not_too_long_update")
        _sqlite_overlap_triggers(_OVERLAP_UNBOUNDED)
