"""When capture's lead.captured.v1 reached scoring: a lead only known from its activities (its
profile still on the way, on another topic) is scored but never qualified.

Revision ID: scoring_0004
"""

import sqlalchemy as sa
from alembic import op

revision = "scoring_0004"
down_revision = "scoring_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("leads", sa.Column("captured_at", sa.DateTime(timezone=True)), schema="scoring")


def downgrade() -> None:
    op.drop_column("leads", "captured_at", schema="scoring")
