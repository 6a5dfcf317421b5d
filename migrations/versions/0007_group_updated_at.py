"""When a group's details or name last changed.

Public feeds show a group's name and purposes as far as the group allows, and private
feeds its name; their ETag and Last-Modified must change when those do. With
``updated_at`` (indexed) the newest change of the groups a feed may show is an index probe.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("groups", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(op.f("ix_groups_updated_at"), "groups", ["updated_at"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_groups_updated_at"), table_name="groups")
    op.drop_column("groups", "updated_at")
