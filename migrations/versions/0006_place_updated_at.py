"""When an admin last saved a facility or a room.

Feeds show room and facility names (private feeds also addresses); their ETag and
Last-Modified must change when those do, and a private feed cannot know which rooms it
names without reading its bookings. With ``updated_at`` (indexed) on both tables, the
newest change of any room or facility is two index probes.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    for table in ("facilities", "rooms"):
        op.add_column(table, sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        op.create_index(op.f(f"ix_{table}_updated_at"), table, ["updated_at"], unique=False)


def downgrade():
    # SQLite drops a column in place (3.35+) once no index names it
    for table in ("rooms", "facilities"):
        op.drop_index(op.f(f"ix_{table}_updated_at"), table_name=table)
        op.drop_column(table, "updated_at")
