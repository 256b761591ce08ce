"""Platform tables: outbox and processed events.

Revision ID: feedback_0001
"""

from shared.migrations import create_platform_tables_v1, drop_platform_tables_v1

revision = "feedback_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_platform_tables_v1("feedback")


def downgrade() -> None:
    drop_platform_tables_v1("feedback")
