"""The outbox's NOTIFY trigger goes: this process's commits wake its relay (shared.outbox).

Revision ID: capture_0004
"""

from shared.migrations import create_outbox_trigger, drop_outbox_trigger

revision = "capture_0004"
down_revision = "capture_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    drop_outbox_trigger("capture")


def downgrade() -> None:
    create_outbox_trigger("capture")
