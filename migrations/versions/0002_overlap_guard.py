"""The database itself forbids two active holds of one room part to overlap.

PostgreSQL: an exclusion constraint over ``tstzrange(start_at, end_at, '[)')``
(needs btree_gist for the ``unit_id WITH =`` part). SQLite has no exclusion
constraints, so triggers refuse an overlapping insert or update; services take
the write lock first with ``BEGIN IMMEDIATE``, so the trigger only ever fires
for a bug, never for an ordinary race.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_OVERLAP = """
    SELECT RAISE(ABORT, 'booking_overlap')
    WHERE EXISTS (
        SELECT 1 FROM occupied_units o
        WHERE o.unit_id = NEW.unit_id AND o.active AND o.id != NEW.id
          AND o.start_at < NEW.end_at AND o.end_at > NEW.start_at
    );
"""


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE occupied_units ADD CONSTRAINT occupied_units_no_overlap "
            "EXCLUDE USING gist (unit_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&) "
            "WHERE (active)"
        )
        op.execute(
            "ALTER TABLE occupied_units ADD CONSTRAINT ck_occupied_units_ordered CHECK (end_at > start_at)"
        )
    else:
        op.execute(
            "CREATE TRIGGER occupied_units_no_overlap_insert BEFORE INSERT ON occupied_units "
            "WHEN NEW.active BEGIN " + _OVERLAP + " END"
        )
        op.execute(
            "CREATE TRIGGER occupied_units_no_overlap_update BEFORE UPDATE OF unit_id, start_at, end_at, active "
            "ON occupied_units WHEN NEW.active BEGIN " + _OVERLAP + " END"
        )
        op.execute(
            "CREATE TRIGGER occupied_units_ordered BEFORE INSERT ON occupied_units "
            "WHEN NEW.end_at <= NEW.start_at BEGIN SELECT RAISE(ABORT, 'occupied_unit_inverted'); END"
        )


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE occupied_units DROP CONSTRAINT IF EXISTS ck_occupied_units_ordered")
        op.execute("ALTER TABLE occupied_units DROP CONSTRAINT IF EXISTS occupied_units_no_overlap")
    else:
        op.execute("DROP TRIGGER IF EXISTS occupied_units_ordered")
        op.execute("DROP TRIGGER IF EXISTS occupied_units_no_overlap_update")
        op.execute("DROP TRIGGER IF EXISTS occupied_units_no_overlap_insert")
