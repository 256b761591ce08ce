"""Platform tables, leads and their change history.

Revision ID: capture_0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from shared.migrations import create_platform_tables_v1, drop_platform_tables_v1

revision = "capture_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_platform_tables_v1("capture")
    op.create_table(
        "leads",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("email_identity", sa.String(320), unique=True),
        sa.Column("contact", JSONB, nullable=False),
        sa.Column("consent", JSONB, nullable=False),
        sa.Column("first_touch", JSONB, nullable=False),
        sa.Column("last_touch", JSONB, nullable=False),
        sa.Column("correlation_id", sa.Uuid, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("erased_at", sa.DateTime(timezone=True)),
        schema="capture",
    )
    op.create_table(
        "lead_changes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "lead_id",
            sa.Uuid,
            sa.ForeignKey("capture.leads.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("changes", JSONB, nullable=False),
        sa.Column(
            "changed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        schema="capture",
    )


def downgrade() -> None:
    op.drop_table("lead_changes", schema="capture")
    op.drop_table("leads", schema="capture")
    drop_platform_tables_v1("capture")
