"""Capture's tables, all in the `capture` schema."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, MetaData, String, false, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import platform_tables
from shared.idempotency import idempotency_table

metadata = MetaData(schema="capture")


class Base(DeclarativeBase):
    metadata = metadata


platform = platform_tables(metadata)


class Lead(Base):
    """One person, identified by the normalised email; later submissions merge into it."""

    __tablename__ = "leads"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    email_identity: Mapped[str | None] = mapped_column(String(320), unique=True)
    contact: Mapped[dict[str, Any]] = mapped_column(JSONB)
    consent: Mapped[dict[str, Any]] = mapped_column(JSONB)
    first_touch: Mapped[dict[str, Any]] = mapped_column(JSONB)
    last_touch: Mapped[dict[str, Any]] = mapped_column(JSONB)
    correlation_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LeadChange(Base):
    """History of a lead: which fields each submission changed."""

    __tablename__ = "lead_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(Lead.id, ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(200))
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Form(Base):
    """A marketing web form: how its fields map to a lead, what it requires, who may post it."""

    __tablename__ = "forms"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    field_mapping: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict)
    required_fields: Mapped[list[str]] = mapped_column(JSONB, default=list)
    allowed_origins: Mapped[list[str]] = mapped_column(JSONB, default=list)
    thank_you_url: Mapped[str | None] = mapped_column(String(2048))
    error_url: Mapped[str | None] = mapped_column(String(2048))
    consent_required: Mapped[bool] = mapped_column(default=True)
    consent_text: Mapped[str | None] = mapped_column(String(4000))
    consent_version: Mapped[str | None] = mapped_column(String(50))
    default_source: Mapped[str | None] = mapped_column(String(300))
    default_campaign: Mapped[str | None] = mapped_column(String(300))
    default_region: Mapped[str | None] = mapped_column(String(2))
    # False: a phone that cannot be read as a number is kept as typed, flagged unverified.
    require_valid_phone: Mapped[bool] = mapped_column(default=False, server_default=false())
    honeypot_field: Mapped[str] = mapped_column(String(64), default="website")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# The answers given to requests with an Idempotency-Key, replayed for 24 h (shared.idempotency).
idempotent_requests = idempotency_table(metadata)
