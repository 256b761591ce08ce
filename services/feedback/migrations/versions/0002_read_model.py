"""The read model of every lead and the report tables.

Revision ID: feedback_0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "feedback_0002"
down_revision = "feedback_0001"
branch_labels = None
depends_on = None

SCHEMA = "feedback"
COUNTERS = (
    "lead",
    "mql",
    "sql",
    "accepted",
    "opportunity",
    "won",
    "returned",
    "queued",
    "rejected",
    "recycled",
    "lost",
    "judged",
    "rating_sum",
    "rating_count",
    "sla_met",
    "sla_missed",
    "reassigned",
)


def dimensions() -> list[sa.Column[str]]:
    names = ("source", "form", "utm_source", "utm_medium", "utm_campaign", "team", "rep")
    sizes = [(name, 300) for name in names] + [("model_version", 100)]
    return [
        sa.Column(name, sa.String(size), nullable=False, server_default="") for name, size in sizes
    ]


def rollup() -> list[sa.Column[object]]:
    return [
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("dimension", sa.String(20), primary_key=True),
        sa.Column("value", sa.String(300), primary_key=True),
    ]


def upgrade() -> None:
    op.create_table(
        "leads",
        sa.Column("lead_id", sa.Uuid, primary_key=True),
        sa.Column("correlation_id", sa.Uuid),
        sa.Column("email", sa.String(320)),
        sa.Column("first_name", sa.String(100)),
        sa.Column("last_name", sa.String(100)),
        sa.Column("job_title", sa.String(150)),
        sa.Column("company", sa.String(200)),
        sa.Column("country", sa.String(2)),
        sa.Column("score", sa.Integer),
        sa.Column("grade", sa.String(1)),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema=SCHEMA,
    )
    op.create_table(
        "timeline",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", sa.Uuid, nullable=False, unique=True),
        sa.Column("lead_id", sa.Uuid, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_type", sa.String(50), nullable=False),
        sa.Column("actor", sa.String(300), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("detail", JSONB, nullable=False),
        sa.Column(
            "recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema=SCHEMA,
    )
    op.create_index("timeline_lead", "timeline", ["lead_id", "occurred_at"], schema=SCHEMA)
    op.create_table(
        "erased_leads",
        sa.Column("lead_id", sa.Uuid, primary_key=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "lead_facts",
        sa.Column("lead_id", sa.Uuid, primary_key=True),
        sa.Column("day", sa.Date, nullable=False),
        *dimensions(),
        sa.Column("steps", ARRAY(sa.String(20)), nullable=False),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("stage_at", sa.DateTime(timezone=True)),
        sa.Column("captured_at", sa.DateTime(timezone=True)),
        sa.Column("mql_at", sa.DateTime(timezone=True)),
        sa.Column("first_assigned_at", sa.DateTime(timezone=True)),
        sa.Column("assigned_at", sa.DateTime(timezone=True)),
        sa.Column("first_verdict_at", sa.DateTime(timezone=True)),
        sa.Column("sla_due", sa.DateTime(timezone=True)),
        sa.Column("sla_met", sa.Boolean),
        sa.Column("reassigned", sa.Integer, nullable=False),
        sa.Column("rating", sa.Integer),
        sa.Column("reason_verdict", sa.String(20)),
        sa.Column("reason_code", sa.String(50)),
        sa.Column("revenue_currency", sa.String(3)),
        sa.Column("revenue_amount", sa.Numeric(18, 2)),
        schema=SCHEMA,
    )
    op.create_index("lead_facts_day", "lead_facts", ["day"], schema=SCHEMA)
    op.create_index("lead_facts_listing", "lead_facts", ["stage", "day"], schema=SCHEMA)
    op.create_table(
        "segment_day",
        *rollup(),
        *(sa.Column(name, sa.Integer, nullable=False, server_default="0") for name in COUNTERS),
        schema=SCHEMA,
    )
    op.create_table(
        "reason_day",
        *rollup(),
        sa.Column("verdict", sa.String(20), primary_key=True),
        sa.Column("reason_code", sa.String(50), primary_key=True),
        sa.Column("leads", sa.Integer, nullable=False, server_default="0"),
        schema=SCHEMA,
    )
    op.create_table(
        "revenue_day",
        *rollup(),
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("deals", sa.Integer, nullable=False, server_default="0"),
        sa.Column("amount", sa.Numeric(18, 2), nullable=False, server_default="0"),
        schema=SCHEMA,
    )
    op.create_table(
        "speed_day",
        *rollup(),
        sa.Column("metric", sa.String(30), primary_key=True),
        sa.Column("bucket", sa.SmallInteger, primary_key=True),
        sa.Column("leads", sa.Integer, nullable=False, server_default="0"),
        schema=SCHEMA,
    )
    op.create_table(
        "flow_day",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("mqls", sa.Integer, nullable=False, server_default="0"),
        sa.Column("threshold_min", sa.Integer),
        sa.Column("threshold_max", sa.Integer),
        sa.Column("threshold_last", sa.Integer),
        sa.Column("threshold_at", sa.DateTime(timezone=True)),
        schema=SCHEMA,
    )
    op.create_table(
        "capacity_day",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("team_id", sa.String(300), primary_key=True),
        sa.Column("reps_available", sa.Integer, nullable=False),
        sa.Column("total_capacity", sa.Integer, nullable=False),
        sa.Column("open_load", sa.Integer, nullable=False),
        sa.Column("free_slots", sa.Integer, nullable=False),
        sa.Column("queue_length", sa.Integer, nullable=False),
        sa.Column("queue_max", sa.Integer, nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )


def downgrade() -> None:
    for table in (
        "capacity_day",
        "flow_day",
        "speed_day",
        "revenue_day",
        "reason_day",
        "segment_day",
        "lead_facts",
        "erased_leads",
        "timeline",
        "leads",
    ):
        op.drop_table(table, schema=SCHEMA)
