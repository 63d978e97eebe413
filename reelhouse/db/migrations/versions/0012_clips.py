"""clips: a media cut from a span of its input, and the media it was cut from

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_media_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("clip_start", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("clip_end", sa.Float(), nullable=True))
        batch_op.create_index(batch_op.f("ix_media_source_media_id"), ["source_media_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_source_media_id"))
        batch_op.drop_column("clip_end")
        batch_op.drop_column("clip_start")
        batch_op.drop_column("source_media_id")
