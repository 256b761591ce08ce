"""Forms and idempotent request replay.

Revision ID: capture_0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "capture_0002"
down_revision = "capture_0001"
branch_labels = None
depends_on = None

NOW = sa.func.now()


def upgrade() -> None:
    op.create_table(
        "forms",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("field_mapping", JSONB, nullable=False),
        sa.Column("required_fields", JSONB, nullable=False),
        sa.Column("allowed_origins", JSONB, nullable=False),
        sa.Column("thank_you_url", sa.String(2048)),
        sa.Column("error_url", sa.String(2048)),
        sa.Column("consent_required", sa.Boolean, nullable=False),
        sa.Column("consent_text", sa.String(4000)),
        sa.Column("consent_version", sa.String(50)),
        sa.Column("default_source", sa.String(300)),
        sa.Column("default_campaign", sa.String(300)),
        sa.Column("default_region", sa.String(2)),
        sa.Column("honeypot_field", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        schema="capture",
    )
    op.create_table(
        "idempotent_requests",
        sa.Column("api_key_id", sa.Uuid, primary_key=True),
        sa.Column("idempotency_key", sa.String(200), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("response", JSONB, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False, index=True
        ),
        schema="capture",
    )


def downgrade() -> None:
    op.drop_table("idempotent_requests", schema="capture")
    op.drop_table("forms", schema="capture")
