"""library indexes: a workspace's media by time, status and title; server secrets long enough for a PEM key

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.create_index("ix_media_workspace_created", ["workspace_id", "created_at", "id"], unique=False)
        batch_op.create_index("ix_media_workspace_status_created", ["workspace_id", "status", "created_at", "id"],
                              unique=False)
        batch_op.create_index("ix_media_workspace_title", ["workspace_id", "title", "id"], unique=False)
    with op.batch_alter_table("server_secrets", schema=None) as batch_op:
        batch_op.alter_column("value", existing_type=sa.String(length=255), type_=sa.Text(), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("server_secrets", schema=None) as batch_op:
        batch_op.alter_column("value", existing_type=sa.Text(), type_=sa.String(length=255), existing_nullable=False)
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.drop_index("ix_media_workspace_title")
        batch_op.drop_index("ix_media_workspace_status_created")
        batch_op.drop_index("ix_media_workspace_created")
