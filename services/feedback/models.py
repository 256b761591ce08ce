"""Feedback's tables, all in the `feedback` schema.

Two kinds: the read model of every lead (`leads`, `timeline`: about the person, deleted on
erasure) and the report tables (`lead_facts` and the `*_day` aggregates: counts and times, no
personal data, so they stay when a person is erased). The consumers keep the aggregates up to
date by adding each lead's change (see `domain.aggregates`), so reports never scan the leads.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from shared.db import platform_tables
from shared.idempotency import idempotency_table

metadata = MetaData(schema="feedback")
platform = platform_tables(metadata)
idempotent_requests = idempotency_table(metadata)

DIMENSION = 300  # the longest dimension value capture lets through (source, UTM fields)


def _now() -> Column:  # type: ignore[type-arg]
    return Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now())


def _dimensions() -> list[Column]:  # type: ignore[type-arg]
    names = ("source", "form", "utm_source", "utm_medium", "utm_campaign", "team", "rep")
    sizes = [(name, DIMENSION) for name in names] + [("model_version", 100)]
    return [Column(name, String(size), nullable=False, server_default="") for name, size in sizes]


def _rollup() -> list[Column]:  # type: ignore[type-arg]
    """An aggregate row's key: the day, the grouping (`all` or a dimension) and its value."""
    return [
        Column("day", Date, primary_key=True),
        Column("dimension", String(20), primary_key=True),
        Column("value", String(DIMENSION), primary_key=True),
    ]


leads = Table(
    "leads",
    metadata,
    Column("lead_id", Uuid, primary_key=True),
    Column("correlation_id", Uuid),
    Column("email", String(320)),
    Column("first_name", String(100)),
    Column("last_name", String(100)),
    Column("job_title", String(150)),
    Column("company", String(200)),
    Column("country", String(2)),
    Column("score", Integer),
    Column("grade", String(1)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

timeline = Table(
    "timeline",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("event_id", Uuid, nullable=False, unique=True),
    Column("lead_id", Uuid, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("event_type", String(50), nullable=False),
    Column("actor", String(300), nullable=False),
    Column("summary", Text, nullable=False),
    Column("detail", JSONB, nullable=False),
    _now(),
    Index("timeline_lead", "lead_id", "occurred_at"),
)

erased_leads = Table(
    "erased_leads",
    metadata,
    Column("lead_id", Uuid, primary_key=True),
    Column("erased_at", DateTime(timezone=True), nullable=False),
)

lead_facts = Table(
    "lead_facts",
    metadata,
    Column("lead_id", Uuid, primary_key=True),
    Column("day", Date, nullable=False),
    *_dimensions(),
    Column("steps", ARRAY(String(20)), nullable=False),
    Column("stage", String(20), nullable=False),
    Column("stage_at", DateTime(timezone=True)),
    Column("captured_at", DateTime(timezone=True)),
    Column("mql_at", DateTime(timezone=True)),
    Column("first_assigned_at", DateTime(timezone=True)),
    Column("assigned_at", DateTime(timezone=True)),
    Column("first_verdict_at", DateTime(timezone=True)),
    Column("sla_due", DateTime(timezone=True)),
    Column("sla_met", Boolean),
    Column("reassigned", Integer, nullable=False),
    Column("rating", Integer),
    Column("reason_verdict", String(20)),
    Column("reason_code", String(50)),
    Column("revenue_currency", String(3)),
    Column("revenue_amount", Numeric(18, 2)),
    Index("lead_facts_day", "day"),
    Index("lead_facts_listing", "stage", "day"),
)

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

segment_day = Table(
    "segment_day",
    metadata,
    *_rollup(),
    *(Column(name, Integer, nullable=False, server_default="0") for name in COUNTERS),
)

reason_day = Table(
    "reason_day",
    metadata,
    *_rollup(),
    Column("verdict", String(20), primary_key=True),
    Column("reason_code", String(50), primary_key=True),
    Column("leads", Integer, nullable=False, server_default="0"),
)

revenue_day = Table(
    "revenue_day",
    metadata,
    *_rollup(),
    Column("currency", String(3), primary_key=True),
    Column("deals", Integer, nullable=False, server_default="0"),
    Column("amount", Numeric(18, 2), nullable=False, server_default="0"),
)

speed_day = Table(
    "speed_day",
    metadata,
    *_rollup(),
    Column("metric", String(30), primary_key=True),
    Column("bucket", SmallInteger, primary_key=True),
    Column("leads", Integer, nullable=False, server_default="0"),
)

flow_day = Table(
    "flow_day",
    metadata,
    Column("day", Date, primary_key=True),
    Column("mqls", Integer, nullable=False, server_default="0"),
    Column("threshold_min", Integer),
    Column("threshold_max", Integer),
    Column("threshold_last", Integer),
    Column("threshold_at", DateTime(timezone=True)),
)

capacity_day = Table(
    "capacity_day",
    metadata,
    Column("day", Date, primary_key=True),
    Column("team_id", String(DIMENSION), primary_key=True),
    Column("reps_available", Integer, nullable=False),
    Column("total_capacity", Integer, nullable=False),
    Column("open_load", Integer, nullable=False),
    Column("free_slots", Integer, nullable=False),
    Column("queue_length", Integer, nullable=False),
    Column("queue_max", Integer, nullable=False),
    Column("reported_at", DateTime(timezone=True), nullable=False),
)
