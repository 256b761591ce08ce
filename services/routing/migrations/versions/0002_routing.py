"""Teams, reps, rules, SQL criteria, assignments, the queue, decisions, capacity changes.

Revision ID: routing_0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "routing_0002"
down_revision = "routing_0001"
branch_labels = None
depends_on = None

S = "routing"


def _now(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("strategy", sa.String(32), nullable=False),
        sa.Column("sla_minutes", sa.Integer, nullable=False),
        sa.Column("escalation_contact", sa.String(320)),
        sa.Column("fallback", sa.Boolean, server_default=sa.text("false"), nullable=False),
        _now("updated_at"),
        schema=S,
    )
    op.create_index(
        "teams_one_fallback",
        "teams",
        ["fallback"],
        unique=True,
        schema=S,
        postgresql_where=sa.text("fallback"),
    )
    op.create_table(
        "reps",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("team_id", sa.String(64), sa.ForeignKey(f"{S}.teams.id"), nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("daily_cap", sa.Integer),
        sa.Column("weight", sa.Integer, nullable=False),
        sa.Column("territories", JSONB, nullable=False),
        sa.Column("languages", JSONB, nullable=False),
        sa.Column("company_sizes", JSONB, nullable=False),
        sa.Column("industries", JSONB, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("working_hours", sa.String(1000), nullable=False),
        sa.Column("out_of_office", JSONB, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("open_load", sa.Integer, server_default=sa.text("0"), nullable=False),
        sa.Column("assigned_day", sa.Date),
        sa.Column("assigned_today", sa.Integer, server_default=sa.text("0"), nullable=False),
        sa.Column("rr_pass", sa.Float, server_default=sa.text("0"), nullable=False),
        _now("updated_at"),
        sa.CheckConstraint("open_load >= 0", name="reps_open_load_not_negative"),
        schema=S,
    )
    op.create_index("ix_routing_reps_team_id", "reps", ["team_id"], schema=S)
    op.create_table(
        "rules",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False, unique=True),
        sa.Column("team_id", sa.String(64), sa.ForeignKey(f"{S}.teams.id"), nullable=False),
        sa.Column("conditions", JSONB, nullable=False),
        schema=S,
    )
    op.create_table(
        "criteria",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("rules", JSONB, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("approvals", JSONB, nullable=False),
        _now("created_at"),
        sa.Column("activated_at", sa.DateTime(timezone=True)),
        schema=S,
    )
    op.create_index(
        "criteria_one_active",
        "criteria",
        ["status"],
        unique=True,
        schema=S,
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "assignments",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("lead_id", sa.Uuid, nullable=False),
        sa.Column("rep_id", sa.String(64), nullable=False),
        sa.Column("team_id", sa.String(64), nullable=False),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("strategy", sa.String(32), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("verdict", sa.String(16)),
        sa.Column("company_domain", sa.String(255)),
        sa.Column("follow_up_due", sa.DateTime(timezone=True), nullable=False),
        _now("assigned_at"),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        schema=S,
    )
    for column in ("lead_id", "rep_id", "team_id", "company_domain"):
        op.create_index(f"ix_routing_assignments_{column}", "assignments", [column], schema=S)
    op.create_index(
        "assignments_one_open_per_lead",
        "assignments",
        ["lead_id"],
        unique=True,
        schema=S,
        postgresql_where=sa.text("status <> 'closed'"),
    )
    op.create_table(
        "queue",
        sa.Column("lead_id", sa.Uuid, primary_key=True),
        sa.Column("team_id", sa.String(64)),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("lead", JSONB, nullable=False),
        sa.Column("correlation_id", sa.Uuid),
        sa.Column("cause_event_id", sa.Uuid, nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        _now("queued_at"),
        schema=S,
    )
    op.create_index(
        "queue_order", "queue", ["team_id", sa.text("score DESC"), "queued_at"], schema=S
    )
    op.create_table(
        "decisions",
        sa.Column("lead_id", sa.Uuid, primary_key=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("criteria_version", sa.Integer),
        sa.Column("explanation", JSONB, nullable=False),
        _now("decided_at"),
        schema=S,
    )
    op.create_table(
        "capacity_changes",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("team_id", sa.String(64), nullable=False),
        schema=S,
    )


def downgrade() -> None:
    for table in (
        "capacity_changes",
        "decisions",
        "queue",
        "assignments",
        "criteria",
        "rules",
        "reps",
        "teams",
    ):
        op.drop_table(table, schema=S)
