"""webhooks: endpoints, the event outbox, deliveries and their attempt log

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("webhook_events",
    sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("id", sa.String(length=36), nullable=False),
    sa.Column("workspace_id", sa.String(length=36), nullable=False),
    sa.Column("type", sa.String(length=64), nullable=False),
    sa.Column("object_type", sa.String(length=32), nullable=False),
    sa.Column("object_id", sa.String(length=36), nullable=False),
    sa.Column("data", sa.JSON(), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("seq"),
    sa.UniqueConstraint("id")
    )
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_events_workspace_id"), ["workspace_id"], unique=False)

    op.create_table("webhooks",
    sa.Column("id", sa.String(length=36), nullable=False),
    sa.Column("workspace_id", sa.String(length=36), nullable=False),
    sa.Column("url", sa.Text(), nullable=False),
    sa.Column("events", sa.JSON(), nullable=True),
    sa.Column("enabled", sa.Boolean(), nullable=False),
    sa.Column("disabled_reason", sa.Text(), nullable=True),
    sa.Column("secret", sa.String(length=255), nullable=False),
    sa.Column("previous_secret", sa.String(length=255), nullable=True),
    sa.Column("previous_secret_until", sa.DateTime(), nullable=True),
    sa.Column("lease_until", sa.DateTime(), nullable=True),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhooks_workspace_id"), ["workspace_id"], unique=False)

    op.create_table("webhook_deliveries",
    sa.Column("id", sa.String(length=36), nullable=False),
    sa.Column("webhook_id", sa.String(length=36), nullable=False),
    sa.Column("event_seq", sa.Integer(), nullable=False),
    sa.Column("object_id", sa.String(length=36), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
    sa.Column("retry_from", sa.DateTime(), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("updated_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["event_seq"], ["webhook_events.seq"], ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["webhook_id"], ["webhooks.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_deliveries_event_seq"), ["event_seq"], unique=False)
        batch_op.create_index(batch_op.f("ix_webhook_deliveries_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_webhook_deliveries_webhook_id"), ["webhook_id"], unique=False)

    op.create_table("webhook_attempts",
    sa.Column("id", sa.String(length=36), nullable=False),
    sa.Column("delivery_id", sa.String(length=36), nullable=False),
    sa.Column("number", sa.Integer(), nullable=False),
    sa.Column("started_at", sa.DateTime(), nullable=False),
    sa.Column("status_code", sa.Integer(), nullable=True),
    sa.Column("latency_ms", sa.Integer(), nullable=False),
    sa.Column("response", sa.Text(), nullable=True),
    sa.Column("error", sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(["delivery_id"], ["webhook_deliveries.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_attempts_delivery_id"), ["delivery_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_attempts_delivery_id"))

    op.drop_table("webhook_attempts")
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_webhook_id"))
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_status"))
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_event_seq"))

    op.drop_table("webhook_deliveries")
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhooks_workspace_id"))

    op.drop_table("webhooks")
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_events_workspace_id"))

    op.drop_table("webhook_events")
