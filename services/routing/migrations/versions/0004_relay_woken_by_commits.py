"""The outbox's NOTIFY trigger goes: this process's commits wake its relay (shared.outbox).

Revision ID: routing_0004
"""

from shared.migrations import create_outbox_trigger, drop_outbox_trigger

revision = "routing_0004"
down_revision = "routing_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    drop_outbox_trigger("routing")


def downgrade() -> None:
    create_outbox_trigger("routing")
