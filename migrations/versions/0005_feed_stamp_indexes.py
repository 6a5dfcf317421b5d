"""Indexes for feed validators: the newest change of a room's or a group's bookings.

A feed's ETag needs max(updated_at) over the bookings it can show; with these
indexes that is one index probe per room or group instead of a scan of a year
of bookings, so a 304 Not Modified costs about as much as any small request.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_bookings_room_updated", "bookings", ["room_id", "updated_at", "id"], unique=False)
    op.create_index("ix_bookings_group_updated", "bookings", ["group_id", "updated_at", "id"], unique=False)


def downgrade():
    op.drop_index("ix_bookings_group_updated", table_name="bookings")
    op.drop_index("ix_bookings_room_updated", table_name="bookings")
