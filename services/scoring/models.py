"""Scoring's tables, all in the `scoring` schema.

`leads` holds each lead's profile (copied from lead.captured.v1; erased on lead.erased.v1), its
latest score and its standing; `activities` the engagement history; `team_capacity` the latest
sales.capacity.v1 state per team and `capacity_ledger` (one row) the count of MQLs ever released,
locked by every release so that no two instances spend the same slot.

Learning (0003): `outcomes` is one row per lead that sales (or routing) judged: the score, grade,
model version and rules that fired when the first verdict came, the latest stage, its reason and
value, the first-touch source and campaign. On erasure its `lead_id` is cleared and its time cut
to the day, so it still counts and nothing leads back: it is the one home of the anonymous
evidence (0005 dropped `learning_facts`, a partial copy made at erasure). `capacity_history` keeps
every sales.capacity.v1 state (the backtest replays it); `backtests` the background jobs, with
the capacity replay's state per model (`replay`, 0005).
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from shared.db import platform_tables

metadata = MetaData(schema="scoring")
platform = platform_tables(metadata)


def _at(name: str, **kwargs: object) -> Column:  # type: ignore[type-arg]
    return Column(name, DateTime(timezone=True), **kwargs)  # type: ignore[arg-type]


def _now(name: str) -> Column:  # type: ignore[type-arg]
    return Column(name, DateTime(timezone=True), nullable=False, server_default=func.now())


models = Table(
    "models",
    metadata,
    Column("version", String(63), primary_key=True),
    Column("document", JSONB, nullable=False),
    Column("status", String(16), nullable=False, server_default=text("'draft'")),
    Column("created_by", String(200), nullable=False),
    _now("created_at"),
    Column("updated_by", String(200), nullable=False),
    _now("updated_at"),
    Column("marketing_approved_by", String(200)),
    _at("marketing_approved_at"),
    Column("sales_approved_by", String(200)),
    _at("sales_approved_at"),
    Column("activated_by", String(200)),
    _at("activated_at"),
    _at("retired_at"),
)
Index(
    "models_one_active",
    models.c.status,
    unique=True,
    postgresql_where=models.c.status == "active",
)

model_history = Table(
    "model_history",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("version", String(63), nullable=False, index=True),
    Column("action", String(32), nullable=False),
    Column("by", String(200), nullable=False),
    _now("at"),
)

leads = Table(
    "leads",
    metadata,
    Column("lead_id", Uuid, primary_key=True),
    Column("correlation_id", Uuid),
    Column("state", String(16), nullable=False, server_default=text("'nurture'")),
    # the profile, copied from capture; every one of these is erased
    Column("job_title", String(150)),
    Column("company", String(200)),
    Column("company_size", String(32)),
    Column("industry", String(100)),
    Column("country", String(2)),
    Column("language", String(8)),
    Column("email_domain", String(253)),
    Column("free_mail", Boolean, nullable=False, server_default=text("false")),
    Column("disposable_email", Boolean, nullable=False, server_default=text("false")),
    Column("consent_given", Boolean, nullable=False, server_default=text("false")),
    Column("product_interest", String(300)),
    Column("source", String(100)),  # first-touch attribution (0003)
    Column("utm_campaign", String(200)),
    # Capture's lead.captured.v1 arrived (0004): until then the profile is unknown and the lead,
    # known only from activities on another topic, is scored but never qualified.
    Column("captured_at", DateTime(timezone=True)),
    # the latest score
    Column("total", Integer),
    Column("fit", Integer),
    Column("engagement", Integer),
    Column("grade", String(1)),
    Column("model_version", String(63)),
    Column("explanation", JSONB),
    Column("threshold", Integer),
    _at("scored_at"),
    # the standing
    _at("held_since"),
    _at("mql_at"),
    Column("qualifications", Integer, nullable=False, server_default=text("0")),
    Column("recycles", Integer, nullable=False, server_default=text("0")),
    _at("engagement_since"),
    _at("cooldown_until"),
    Column("outcome", String(16)),
    _now("created_at"),
)
Index(
    "leads_held_best_first",
    leads.c.total.desc(),
    leads.c.held_since,
    leads.c.lead_id,
    postgresql_where=leads.c.state == "held",
)
Index("leads_scored_at", leads.c.scored_at)
Index("leads_by_creation", leads.c.created_at, leads.c.lead_id)  # the backtest's order (0005)

activities = Table(
    "activities",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("lead_id", Uuid, nullable=False, index=True),
    Column("activity_type", String(60), nullable=False),
    _at("happened_at", nullable=False),
    Column("properties", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
)

team_capacity = Table(
    "team_capacity",
    metadata,
    Column("team_id", String(100), primary_key=True),
    Column("reps_available", Integer, nullable=False),
    Column("total_capacity", Integer, nullable=False),
    Column("open_load", Integer, nullable=False),
    Column("free_slots", Integer, nullable=False),
    Column("queue_length", Integer, nullable=False),
    _at("published_at", nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("released_mark", BigInteger, nullable=False),
)

capacity_ledger = Table(
    "capacity_ledger",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("released_total", BigInteger, nullable=False, server_default=text("0")),
    Column("team_id", String(100)),
    _at("published_at"),
    _at("received_at"),
    CheckConstraint("id = 1", name="capacity_ledger_one_row"),
)

outcomes = Table(
    "outcomes",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("lead_id", Uuid, unique=True),  # NULL once the person is erased
    Column("model_version", String(63), nullable=False),
    Column("fired", JSONB, nullable=False),  # rule ids, when the first verdict came
    Column("total", Integer, nullable=False),
    Column("grade", String(1), nullable=False),
    Column("mql", Boolean, nullable=False),
    Column("source", String(100)),
    Column("utm_campaign", String(200)),
    Column("stage", String(16), nullable=False),
    Column("reason", String(60)),
    Column("value", Numeric(18, 2)),
    _at("occurred_at", nullable=False),
)
Index("outcomes_by_version", outcomes.c.model_version, outcomes.c.occurred_at)

capacity_history = Table(
    "capacity_history",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("team_id", String(100), nullable=False),
    Column("total_capacity", Integer, nullable=False),
    Column("free_slots", Integer, nullable=False),
    _at("published_at", nullable=False),
    Column("queue_length", Integer, nullable=False, server_default=text("0")),  # 0005
)
Index("capacity_history_by_time", capacity_history.c.published_at)

backtests = Table(
    "backtests",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("version", String(63), nullable=False),
    Column("baseline", String(63)),  # the version active when it was asked for
    _at("range_from", nullable=False),
    _at("range_to", nullable=False),
    Column("status", String(16), nullable=False, server_default=text("'queued'")),
    Column("done", Integer, nullable=False, server_default=text("0")),
    Column("total", Integer, nullable=False, server_default=text("0")),
    Column("cursor", Uuid),
    Column("tally", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("result", JSONB),
    Column("requested_by", String(200), nullable=False),
    _now("requested_at"),
    _at("finished_at"),
    _at("cursor_at"),  # with `cursor`: the last lead replayed, in creation order (0005)
    Column("replay", JSONB, nullable=False, server_default=text("'{}'::jsonb")),  # 0005
)
