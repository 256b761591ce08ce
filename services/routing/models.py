"""Routing's tables, all in the `routing` schema.

A rep's row holds both their settings (written by admins) and their live load (written by
assignments and verdicts), so claiming a slot is one conditional UPDATE of one row.
"""

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    MetaData,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import platform_tables

metadata = MetaData(schema="routing")


class Base(DeclarativeBase):
    metadata = metadata


platform = platform_tables(metadata)


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class Team(Base):
    __tablename__ = "teams"
    __table_args__ = (
        Index("teams_one_fallback", "fallback", unique=True, postgresql_where=text("fallback")),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    strategy: Mapped[str] = mapped_column(String(32))
    sla_minutes: Mapped[int]
    sla_seconds: Mapped[int | None]  # overrides sla_minutes when set (sub-minute SLAs)
    max_attempts: Mapped[int] = mapped_column(server_default=text("3"))
    # a rep's record: `breach_limit` breaches within `breach_window_days` scale their share
    # of weighted round robin by `breach_share` until they recover (no limit: rule off)
    breach_limit: Mapped[int | None]
    breach_window_days: Mapped[int] = mapped_column(server_default=text("7"))
    breach_share: Mapped[float] = mapped_column(Float, server_default=text("0.5"))
    escalation_contact: Mapped[str | None] = mapped_column(String(320))
    fallback: Mapped[bool] = mapped_column(server_default=text("false"))
    updated_at: Mapped[datetime] = _now()


class Rep(Base):
    __tablename__ = "reps"
    __table_args__ = (CheckConstraint("open_load >= 0", name="reps_open_load_not_negative"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200))
    team_id: Mapped[str] = mapped_column(ForeignKey(Team.id), index=True)
    capacity: Mapped[int]
    daily_cap: Mapped[int | None]
    weight: Mapped[int]
    territories: Mapped[list[str]] = mapped_column(JSONB)
    languages: Mapped[list[str]] = mapped_column(JSONB)
    company_sizes: Mapped[list[str]] = mapped_column(JSONB)
    industries: Mapped[list[str]] = mapped_column(JSONB)
    timezone: Mapped[str] = mapped_column(String(64))
    working_hours: Mapped[str] = mapped_column(String(1000))
    out_of_office: Mapped[list[list[str]]] = mapped_column(JSONB)
    active: Mapped[bool]
    open_load: Mapped[int] = mapped_column(server_default=text("0"))
    assigned_day: Mapped[date | None]
    assigned_today: Mapped[int] = mapped_column(server_default=text("0"))
    rr_pass: Mapped[float] = mapped_column(Float, server_default=text("0"))
    share: Mapped[float] = mapped_column(Float, server_default=text("1"))  # see Team.breach_*
    updated_at: Mapped[datetime] = _now()


class Rule(Base):
    __tablename__ = "rules"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    position: Mapped[int] = mapped_column(unique=True)
    team_id: Mapped[str] = mapped_column(ForeignKey(Team.id))
    conditions: Mapped[dict[str, list[str]]] = mapped_column(JSONB)


class Criteria(Base):
    __tablename__ = "criteria"
    __table_args__ = (
        Index(
            "criteria_one_active",
            "status",
            unique=True,
            postgresql_where=text("status = 'active'"),
        ),
    )

    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    rules: Mapped[dict[str, object]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16))
    approvals: Mapped[dict[str, str]] = mapped_column(JSONB)  # role -> approving key's name
    created_at: Mapped[datetime] = _now()
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Assignment(Base):
    """One lead given to one rep. `assigned` and `accepted` count in the rep's open load."""

    __tablename__ = "assignments"
    __table_args__ = (
        Index(
            "assignments_one_open_per_lead",
            "lead_id",
            unique=True,
            postgresql_where=text("status <> 'closed'"),
        ),
        Index("assignments_due", "follow_up_due", postgresql_where=text("status = 'assigned'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    lead_id: Mapped[uuid.UUID] = mapped_column(index=True)
    rep_id: Mapped[str] = mapped_column(String(64), index=True)
    team_id: Mapped[str] = mapped_column(String(64), index=True)
    rule: Mapped[str] = mapped_column(String(100))
    strategy: Mapped[str] = mapped_column(String(32))
    attempt: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    verdict: Mapped[str | None] = mapped_column(String(16))
    company_domain: Mapped[str | None] = mapped_column(String(255), index=True)
    follow_up_due: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    assigned_at: Mapped[datetime] = _now()
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    previous_rep_id: Mapped[str | None] = mapped_column(String(64))
    # the routing profile, kept so an SLA breach can reassign the lead (erasure clears it)
    lead: Mapped[dict[str, object] | None] = mapped_column(JSONB)
    correlation_id: Mapped[uuid.UUID | None]
    cause_event_id: Mapped[uuid.UUID | None]


class Queued(Base):
    """An SQL waiting for a rep; served highest score first, then oldest."""

    __tablename__ = "queue"
    __table_args__ = (Index("queue_order", "team_id", text("score DESC"), "queued_at"),)

    lead_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    team_id: Mapped[str | None] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(100))
    score: Mapped[int]
    lead: Mapped[dict[str, object]] = mapped_column(JSONB)  # the routing profile and grade
    correlation_id: Mapped[uuid.UUID | None]
    cause_event_id: Mapped[uuid.UUID]
    reason: Mapped[str] = mapped_column(String(200))
    queued_at: Mapped[datetime] = _now()


class Decision(Base):
    """The latest routing decision for a lead and its explanation."""

    __tablename__ = "decisions"

    lead_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    outcome: Mapped[str] = mapped_column(String(16))
    criteria_version: Mapped[int | None]
    explanation: Mapped[dict[str, object]] = mapped_column(JSONB)
    decided_at: Mapped[datetime] = _now()


class CapacityChange(Base):
    """A team whose capacity changed since the last sales.capacity.v1: insert-only, so
    assignments never wait on each other to mark it; the publisher deletes what it sends."""

    __tablename__ = "capacity_changes"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(64))


class SlaBreach(Base):
    """A rep who let a lead's follow-up deadline pass without a verdict."""

    __tablename__ = "sla_breaches"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    lead_id: Mapped[uuid.UUID] = mapped_column(index=True)
    rep_id: Mapped[str] = mapped_column(String(64), index=True)
    team_id: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int]
    due: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    late_by_s: Mapped[float] = mapped_column(Float)
    breached_at: Mapped[datetime] = _now()


class Escalation(Base):
    """A lead that used up its team's attempts (or found no other rep): for a human now."""

    __tablename__ = "escalations"

    lead_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(64))
    last_rep_id: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int]
    reason: Mapped[str] = mapped_column(String(200))
    escalated_at: Mapped[datetime] = _now()


class Webhook(Base):
    """A CRM's subscription: where to send which events, signed with its secret."""

    __tablename__ = "webhooks"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    event_types: Mapped[list[str]] = mapped_column(JSONB)
    active: Mapped[bool]
    secret: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = _now()


class Delivery(Base):
    """One event for one subscription, written in the transaction that made the event; the
    sender job posts it, retries it with backoff, and marks it delivered or dead."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("deliveries_pending", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    webhook_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(Webhook.id, ondelete="CASCADE"), index=True
    )
    message_id: Mapped[str] = mapped_column(String(64))
    lead_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    event_type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # pending, delivered, dead
    attempts: Mapped[int] = mapped_column(server_default=text("0"))
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    log: Mapped[list[dict[str, object]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    created_at: Mapped[datetime] = _now()


class WebhookAllowedHost(Base):
    """A host an admin allows webhooks to reach although it is private (production only)."""

    __tablename__ = "webhook_allowed_hosts"

    host: Mapped[str] = mapped_column(String(255), primary_key=True)
