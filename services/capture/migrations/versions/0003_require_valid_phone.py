"""Forms say whether a phone must be a valid number (else it is kept as typed, unverified).

Revision ID: capture_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "capture_0003"
down_revision = "capture_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "forms",
        sa.Column("require_valid_phone", sa.Boolean, server_default=sa.false(), nullable=False),
        schema="capture",
    )


def downgrade() -> None:
    op.drop_column("forms", "require_valid_phone", schema="capture")
