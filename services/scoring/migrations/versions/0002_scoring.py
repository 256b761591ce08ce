"""Models and their history, leads with their standing, activities, capacity, learning facts.

Revision ID: scoring_0002
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "scoring_0002"
down_revision = "scoring_0001"
branch_labels = None
depends_on = None

S = "scoring"


def _at(name: str, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _now(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("version", sa.String(63), primary_key=True),
        sa.Column("document", JSONB, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default=sa.text("'draft'")),
        sa.Column("created_by", sa.String(200), nullable=False),
        _now("created_at"),
        sa.Column("updated_by", sa.String(200), nullable=False),
        _now("updated_at"),
        sa.Column("marketing_approved_by", sa.String(200)),
        _at("marketing_approved_at"),
        sa.Column("sales_approved_by", sa.String(200)),
        _at("sales_approved_at"),
        sa.Column("activated_by", sa.String(200)),
        _at("activated_at"),
        _at("retired_at"),
        schema=S,
    )
    op.create_index(
        "models_one_active",
        "models",
        ["status"],
        unique=True,
        schema=S,
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "model_history",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("version", sa.String(63), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("by", sa.String(200), nullable=False),
        _now("at"),
        schema=S,
    )
    op.create_index("ix_scoring_model_history_version", "model_history", ["version"], schema=S)
    op.create_table(
        "leads",
        sa.Column("lead_id", sa.Uuid, primary_key=True),
        sa.Column("correlation_id", sa.Uuid),
        sa.Column("state", sa.String(16), nullable=False, server_default=sa.text("'nurture'")),
        sa.Column("job_title", sa.String(150)),
        sa.Column("company", sa.String(200)),
        sa.Column("company_size", sa.String(32)),
        sa.Column("industry", sa.String(100)),
        sa.Column("country", sa.String(2)),
        sa.Column("language", sa.String(8)),
        sa.Column("email_domain", sa.String(253)),
        sa.Column("free_mail", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("disposable_email", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("consent_given", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("product_interest", sa.String(300)),
        sa.Column("total", sa.Integer),
        sa.Column("fit", sa.Integer),
        sa.Column("engagement", sa.Integer),
        sa.Column("grade", sa.String(1)),
        sa.Column("model_version", sa.String(63)),
        sa.Column("explanation", JSONB),
        sa.Column("threshold", sa.Integer),
        _at("scored_at"),
        _at("held_since"),
        _at("mql_at"),
        sa.Column("qualifications", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("recycles", sa.Integer, nullable=False, server_default=sa.text("0")),
        _at("engagement_since"),
        _at("cooldown_until"),
        sa.Column("outcome", sa.String(16)),
        _now("created_at"),
        schema=S,
    )
    op.create_index(
        "leads_held_best_first",
        "leads",
        [sa.text("total DESC"), "held_since", "lead_id"],
        schema=S,
        postgresql_where=sa.text("state = 'held'"),
    )
    op.create_index("leads_scored_at", "leads", ["scored_at"], schema=S)
    op.create_table(
        "activities",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("lead_id", sa.Uuid, nullable=False),
        sa.Column("activity_type", sa.String(60), nullable=False),
        _at("happened_at", nullable=False),
        sa.Column("properties", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        schema=S,
    )
    op.create_index("ix_scoring_activities_lead_id", "activities", ["lead_id"], schema=S)
    op.create_table(
        "team_capacity",
        sa.Column("team_id", sa.String(100), primary_key=True),
        sa.Column("reps_available", sa.Integer, nullable=False),
        sa.Column("total_capacity", sa.Integer, nullable=False),
        sa.Column("open_load", sa.Integer, nullable=False),
        sa.Column("free_slots", sa.Integer, nullable=False),
        sa.Column("queue_length", sa.Integer, nullable=False),
        _at("published_at", nullable=False),
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("released_mark", sa.BigInteger, nullable=False),
        schema=S,
    )
    op.create_table(
        "capacity_ledger",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("released_total", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("team_id", sa.String(100)),
        _at("published_at"),
        _at("received_at"),
        sa.CheckConstraint("id = 1", name="capacity_ledger_one_row"),
        schema=S,
    )
    op.execute("INSERT INTO scoring.capacity_ledger (id) VALUES (1)")
    op.create_table(
        "learning_facts",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("model_version", sa.String(63)),
        sa.Column("grade", sa.String(1)),
        sa.Column("total", sa.Integer),
        sa.Column("fired", JSONB, nullable=False),
        sa.Column("outcome", sa.String(16)),
        _now("recorded_at"),
        schema=S,
    )


def downgrade() -> None:
    for table in (
        "learning_facts",
        "capacity_ledger",
        "team_capacity",
        "activities",
        "leads",
        "model_history",
        "models",
    ):
        op.drop_table(table, schema=S)
