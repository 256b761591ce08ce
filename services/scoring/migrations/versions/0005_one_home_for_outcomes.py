"""One home for the anonymous outcome evidence, and a backtest that replays capacity.

- `learning_facts` goes: an erased lead's `outcomes` row is unlinked in place (lead id cleared,
  time cut to the day) and is the only evidence kept; the facts copied beside it were a second,
  partial home. A fact of a lead erased before any verdict had no label and taught nothing.
- `capacity_history.queue_length`: free slots are Σ free_slots − Σ queue_length, as live.
- `backtests.cursor_at` and `backtests.replay`: the backtest pages through the leads in the order
  they were created, replaying the capacity-following threshold; `leads_by_creation` serves it.

Revision ID: scoring_0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "scoring_0005"
down_revision = "scoring_0004"
branch_labels = None
depends_on = None

S = "scoring"


def upgrade() -> None:
    op.drop_table("learning_facts", schema=S)
    op.add_column(
        "capacity_history",
        sa.Column("queue_length", sa.Integer, nullable=False, server_default=sa.text("0")),
        schema=S,
    )
    op.add_column("backtests", sa.Column("cursor_at", sa.DateTime(timezone=True)), schema=S)
    op.add_column(
        "backtests",
        sa.Column("replay", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        schema=S,
    )
    op.create_index("leads_by_creation", "leads", ["created_at", "lead_id"], schema=S)


def downgrade() -> None:
    op.drop_index("leads_by_creation", "leads", schema=S)
    op.drop_column("backtests", "replay", schema=S)
    op.drop_column("backtests", "cursor_at", schema=S)
    op.drop_column("capacity_history", "queue_length", schema=S)
    op.create_table(
        "learning_facts",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("model_version", sa.String(63)),
        sa.Column("grade", sa.String(1)),
        sa.Column("total", sa.Integer),
        sa.Column("fired", JSONB, nullable=False),
        sa.Column("outcome", sa.String(16)),
        sa.Column(
            "recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema=S,
    )
