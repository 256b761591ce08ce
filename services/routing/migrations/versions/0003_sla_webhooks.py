"""SLA: team SLA in seconds and maximum attempts, the lead kept on its assignment for
reassignment, breaches, escalations. Webhooks: subscriptions, deliveries, the admin allow-list.

Revision ID: routing_0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "routing_0003"
down_revision = "routing_0002"
branch_labels = None
depends_on = None

S = "routing"


def _now(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    op.add_column("teams", sa.Column("sla_seconds", sa.Integer), schema=S)
    op.add_column(
        "teams",
        sa.Column("max_attempts", sa.Integer, server_default=sa.text("3"), nullable=False),
        schema=S,
    )
    op.add_column("teams", sa.Column("breach_limit", sa.Integer), schema=S)
    op.add_column(
        "teams",
        sa.Column("breach_window_days", sa.Integer, server_default=sa.text("7"), nullable=False),
        schema=S,
    )
    op.add_column(
        "teams",
        sa.Column("breach_share", sa.Float, server_default=sa.text("0.5"), nullable=False),
        schema=S,
    )
    op.add_column(
        "reps",
        sa.Column("share", sa.Float, server_default=sa.text("1"), nullable=False),
        schema=S,
    )
    op.add_column("assignments", sa.Column("previous_rep_id", sa.String(64)), schema=S)
    op.add_column("assignments", sa.Column("lead", JSONB), schema=S)
    op.add_column("assignments", sa.Column("correlation_id", sa.Uuid), schema=S)
    op.add_column("assignments", sa.Column("cause_event_id", sa.Uuid), schema=S)
    op.create_index(
        "assignments_due",
        "assignments",
        ["follow_up_due"],
        schema=S,
        postgresql_where=sa.text("status = 'assigned'"),
    )
    op.create_table(
        "sla_breaches",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("lead_id", sa.Uuid, nullable=False),
        sa.Column("rep_id", sa.String(64), nullable=False),
        sa.Column("team_id", sa.String(64), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("due", sa.DateTime(timezone=True), nullable=False),
        sa.Column("late_by_s", sa.Float, nullable=False),
        _now("breached_at"),
        schema=S,
    )
    op.create_index("ix_routing_sla_breaches_rep_id", "sla_breaches", ["rep_id"], schema=S)
    op.create_index("ix_routing_sla_breaches_lead_id", "sla_breaches", ["lead_id"], schema=S)
    op.create_table(
        "escalations",
        sa.Column("lead_id", sa.Uuid, primary_key=True),
        sa.Column("team_id", sa.String(64), nullable=False),
        sa.Column("last_rep_id", sa.String(64), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        _now("escalated_at"),
        schema=S,
    )
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("event_types", JSONB, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("secret", sa.String(200), nullable=False),
        _now("created_at"),
        schema=S,
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "webhook_id",
            sa.Uuid,
            sa.ForeignKey("routing.webhooks.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("lead_id", sa.Uuid),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("log", JSONB, server_default=sa.text("'[]'::jsonb"), nullable=False),
        _now("created_at"),
        schema=S,
    )
    op.create_index(
        "deliveries_pending",
        "deliveries",
        ["next_attempt_at"],
        schema=S,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index("ix_routing_deliveries_webhook_id", "deliveries", ["webhook_id"], schema=S)
    op.create_index("ix_routing_deliveries_lead_id", "deliveries", ["lead_id"], schema=S)
    op.create_table(
        "webhook_allowed_hosts",
        sa.Column("host", sa.String(255), primary_key=True),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("webhook_allowed_hosts", schema=S)
    op.drop_table("deliveries", schema=S)
    op.drop_table("webhooks", schema=S)
    op.drop_table("escalations", schema=S)
    op.drop_table("sla_breaches", schema=S)
    op.drop_index("assignments_due", "assignments", schema=S)
    for column in ("cause_event_id", "correlation_id", "lead", "previous_rep_id"):
        op.drop_column("assignments", column, schema=S)
    op.drop_column("reps", "share", schema=S)
    for column in ("breach_share", "breach_window_days", "breach_limit", "max_attempts"):
        op.drop_column("teams", column, schema=S)
    op.drop_column("teams", "sla_seconds", schema=S)
