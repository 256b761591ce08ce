"""The outbox's NOTIFY trigger goes: this process's commits wake its relay (shared.outbox).

Revision ID: scoring_0006
"""

from shared.migrations import create_outbox_trigger, drop_outbox_trigger

revision = "scoring_0006"
down_revision = "scoring_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    drop_outbox_trigger("scoring")


def downgrade() -> None:
    create_outbox_trigger("scoring")
