"""All of scoring's SQL, by what it is about: `models`, `leads`, `capacity`, and for learning
`outcomes`, `capacity_history` and `backtests`.

Locks, in the one order every transaction takes them, so no two can wait on each other: a lead's
own row (`lock_lead`, `claim_lead`), then the capacity ledger (`capacity(lock=True)`); other
leads' rows only with `SKIP LOCKED` while the ledger is held (`best_held`). Releases are
conditional updates (`state = 'held'`), so a lead is never released twice, even by two instances.
"""

from services.scoring.repository.backtests import (
    add_backtest,
    backtest,
    change_backtest,
    claim_backtest,
    replay_page,
)
from services.scoring.repository.capacity import (
    CapacityState,
    best_held,
    capacity,
    change_ledger,
    held_leads,
    ledger,
    release,
    save_team,
    team_states,
)
from services.scoring.repository.capacity_history import (
    capacity_states,
    record_capacity_state,
    recorded_states,
)
from services.scoring.repository.leads import (
    PROFILE_FIELDS,
    activities_of,
    add_activity,
    change_lead,
    claim_lead,
    due_for_decay,
    erase,
    lead,
    lock_lead,
    profile_of,
)
from services.scoring.repository.models import (
    ACTIVE_MODEL_TTL_S,
    active_model,
    add_model,
    change_model,
    forget_active_model,
    history,
    install_active_model,
    model_row,
    model_rows,
    not_scored_with,
    record_history,
    rescoring_progress,
    retire_active,
)
from services.scoring.repository.outcomes import (
    outcomes_of,
    recent_outcomes,
    record_outcome,
    unlink_outcome,
)

__all__ = [
    "ACTIVE_MODEL_TTL_S",
    "PROFILE_FIELDS",
    "CapacityState",
    "active_model",
    "activities_of",
    "add_activity",
    "add_backtest",
    "add_model",
    "backtest",
    "best_held",
    "capacity",
    "capacity_states",
    "change_backtest",
    "change_lead",
    "change_ledger",
    "change_model",
    "claim_backtest",
    "claim_lead",
    "due_for_decay",
    "erase",
    "forget_active_model",
    "held_leads",
    "history",
    "install_active_model",
    "lead",
    "ledger",
    "lock_lead",
    "model_row",
    "model_rows",
    "not_scored_with",
    "outcomes_of",
    "profile_of",
    "recent_outcomes",
    "record_capacity_state",
    "record_history",
    "record_outcome",
    "recorded_states",
    "release",
    "replay_page",
    "rescoring_progress",
    "retire_active",
    "save_team",
    "team_states",
    "unlink_outcome",
]
