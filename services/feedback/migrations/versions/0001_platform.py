"""Platform tables: outbox and processed events.

Revision ID: feedback_0001
"""

from shared.migrations import create_platform_tables, drop_platform_tables

revision = "feedback_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_platform_tables("feedback")


def downgrade() -> None:
    drop_platform_tables("feedback")
