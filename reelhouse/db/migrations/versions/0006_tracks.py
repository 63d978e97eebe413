"""tracks: added audio/subtitle tracks (their URL, revision, failure reason) and rendition accessibility traits

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tracks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("url", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("closed_captions", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("error", sa.Text(), nullable=True))
    with op.batch_alter_table("renditions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("characteristics", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("renditions", schema=None) as batch_op:
        batch_op.drop_column("characteristics")
    with op.batch_alter_table("tracks", schema=None) as batch_op:
        batch_op.drop_column("error")
        batch_op.drop_column("revision")
        batch_op.drop_column("closed_captions")
        batch_op.drop_column("url")
