"""Emailed invitations to join a group, for addresses that have no account yet.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

def upgrade():
    op.create_table(
        "group_invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("invited_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"], name=op.f("fk_group_invitations_group_id_groups"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["invited_by_id"], ["users.id"],
                                name=op.f("fk_group_invitations_invited_by_id_users"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["accepted_by_id"], ["users.id"],
                                name=op.f("fk_group_invitations_accepted_by_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_group_invitations_token_hash")),
    )
    with op.batch_alter_table("group_invitations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_group_invitations_group_id"), ["group_id"], unique=False)

def downgrade():
    with op.batch_alter_table("group_invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_group_invitations_group_id"))
    op.drop_table("group_invitations")
