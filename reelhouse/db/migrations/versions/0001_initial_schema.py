"""initial schema

Revision ID: 0001
Revises: 
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("server_secrets",
    sa.Column("name", sa.String(length=64), nullable=False),
    sa.Column("value", sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint("name")
    )
    op.create_table("workspaces",
    sa.Column("id", sa.String(length=36), nullable=False),
    sa.Column("name", sa.String(length=255), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("name")
    )
    op.create_table("access_tokens",
    sa.Column("id", sa.String(length=36), nullable=False),
    sa.Column("workspace_id", sa.String(length=36), nullable=False),
    sa.Column("name", sa.String(length=255), nullable=False),
    sa.Column("secret_hash", sa.String(length=64), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("revoked_at", sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_access_tokens_workspace_id"), ["workspace_id"], unique=False)

    op.create_table("uploads",
    sa.Column("id", sa.String(length=36), nullable=False),
    sa.Column("workspace_id", sa.String(length=36), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("cors_origin", sa.String(length=255), nullable=False),
    sa.Column("timeout", sa.Integer(), nullable=False),
    sa.Column("expires_at", sa.DateTime(), nullable=False),
    sa.Column("settings", sa.JSON(), nullable=False),
    sa.Column("session_id", sa.String(length=36), nullable=True),
    sa.Column("total_size", sa.BigInteger(), nullable=True),
    sa.Column("committed", sa.BigInteger(), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("updated_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("uploads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_uploads_workspace_id"), ["workspace_id"], unique=False)

    op.create_table("media",
    sa.Column("id", sa.String(length=36), nullable=False),
    sa.Column("workspace_id", sa.String(length=36), nullable=False),
    sa.Column("upload_id", sa.String(length=36), nullable=True),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("title", sa.String(length=255), nullable=True),
    sa.Column("creator_id", sa.String(length=255), nullable=True),
    sa.Column("metadata", sa.JSON(), nullable=False),
    sa.Column("max_resolution", sa.String(length=8), nullable=False),
    sa.Column("media_quality", sa.String(length=16), nullable=False),
    sa.Column("source_access", sa.Boolean(), nullable=False),
    sa.Column("optimize_audio", sa.Boolean(), nullable=False),
    sa.Column("mp4_support", sa.String(length=32), nullable=True),
    sa.Column("inputs", sa.JSON(), nullable=False),
    sa.Column("options", sa.JSON(), nullable=False),
    sa.Column("source_url", sa.Text(), nullable=True),
    sa.Column("container_format", sa.String(length=32), nullable=True),
    sa.Column("duration", sa.Float(), nullable=True),
    sa.Column("width", sa.Integer(), nullable=True),
    sa.Column("height", sa.Integer(), nullable=True),
    sa.Column("frame_rate", sa.String(length=16), nullable=True),
    sa.Column("aspect_ratio", sa.String(length=16), nullable=True),
    sa.Column("is_audio_only", sa.Boolean(), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("updated_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["upload_id"], ["uploads.id"], ),
    sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("upload_id")
    )
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_media_workspace_id"), ["workspace_id"], unique=False)

    op.create_table("jobs",
    sa.Column("id", sa.String(length=36), nullable=False),
    sa.Column("key", sa.String(length=255), nullable=False),
    sa.Column("kind", sa.String(length=32), nullable=False),
    sa.Column("workspace_id", sa.String(length=36), nullable=False),
    sa.Column("media_id", sa.String(length=36), nullable=True),
    sa.Column("params", sa.JSON(), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("run_after", sa.DateTime(), nullable=False),
    sa.Column("lease_until", sa.DateTime(), nullable=True),
    sa.Column("progress", sa.Float(), nullable=False),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("updated_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["media_id"], ["media.id"], ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("key")
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_jobs_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_media_id"), ["media_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_status"), ["status"], unique=False)

    op.create_table("playback_ids",
    sa.Column("id", sa.String(length=36), nullable=False),
    sa.Column("media_id", sa.String(length=36), nullable=False),
    sa.Column("access_policy", sa.String(length=16), nullable=False),
    sa.Column("domains", sa.JSON(), nullable=False),
    sa.Column("user_agents", sa.JSON(), nullable=False),
    sa.Column("resolution", sa.String(length=8), nullable=True),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["media_id"], ["media.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("playback_ids", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_playback_ids_media_id"), ["media_id"], unique=False)

    op.create_table("tracks",
    sa.Column("id", sa.String(length=36), nullable=False),
    sa.Column("media_id", sa.String(length=36), nullable=False),
    sa.Column("type", sa.String(length=16), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("stream_index", sa.Integer(), nullable=True),
    sa.Column("language_code", sa.String(length=35), nullable=True),
    sa.Column("language_name", sa.String(length=255), nullable=True),
    sa.Column("title", sa.String(length=255), nullable=True),
    sa.Column("width", sa.Integer(), nullable=True),
    sa.Column("height", sa.Integer(), nullable=True),
    sa.Column("frame_rate", sa.String(length=16), nullable=True),
    sa.Column("codec", sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(["media_id"], ["media.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("tracks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tracks_media_id"), ["media_id"], unique=False)



def downgrade() -> None:
    with op.batch_alter_table("tracks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tracks_media_id"))

    op.drop_table("tracks")
    with op.batch_alter_table("playback_ids", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_playback_ids_media_id"))

    op.drop_table("playback_ids")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_status"))
        batch_op.drop_index(batch_op.f("ix_jobs_media_id"))
        batch_op.drop_index(batch_op.f("ix_jobs_kind"))

    op.drop_table("jobs")
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_workspace_id"))

    op.drop_table("media")
    with op.batch_alter_table("uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_uploads_workspace_id"))

    op.drop_table("uploads")
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_tokens_workspace_id"))

    op.drop_table("access_tokens")
    op.drop_table("workspaces")
    op.drop_table("server_secrets")
