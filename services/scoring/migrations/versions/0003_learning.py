"""Learning: first-touch attribution on leads, outcomes as labels, capacity history, backtests.

Revision ID: scoring_0003
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "scoring_0003"
down_revision = "scoring_0002"
branch_labels = None
depends_on = None

S = "scoring"


def _at(name: str, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.add_column("leads", sa.Column("source", sa.String(100)), schema=S)
    op.add_column("leads", sa.Column("utm_campaign", sa.String(200)), schema=S)
    op.create_table(
        "outcomes",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("lead_id", sa.Uuid, unique=True),
        sa.Column("model_version", sa.String(63), nullable=False),
        sa.Column("fired", JSONB, nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("grade", sa.String(1), nullable=False),
        sa.Column("mql", sa.Boolean, nullable=False),
        sa.Column("source", sa.String(100)),
        sa.Column("utm_campaign", sa.String(200)),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(60)),
        sa.Column("value", sa.Numeric(18, 2)),
        _at("occurred_at", nullable=False),
        schema=S,
    )
    op.create_index("outcomes_by_version", "outcomes", ["model_version", "occurred_at"], schema=S)
    op.create_table(
        "capacity_history",
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("team_id", sa.String(100), nullable=False),
        sa.Column("total_capacity", sa.Integer, nullable=False),
        sa.Column("free_slots", sa.Integer, nullable=False),
        _at("published_at", nullable=False),
        schema=S,
    )
    op.create_index("capacity_history_by_time", "capacity_history", ["published_at"], schema=S)
    op.create_table(
        "backtests",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("version", sa.String(63), nullable=False),
        sa.Column("baseline", sa.String(63)),
        _at("range_from", nullable=False),
        _at("range_to", nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default=sa.text("'queued'")),
        sa.Column("done", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("total", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("cursor", sa.Uuid),
        sa.Column("tally", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("result", JSONB),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column(
            "requested_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        _at("finished_at"),
        schema=S,
    )


def downgrade() -> None:
    for table in ("backtests", "capacity_history", "outcomes"):
        op.drop_table(table, schema=S)
    op.drop_column("leads", "utm_campaign", schema=S)
    op.drop_column("leads", "source", schema=S)
