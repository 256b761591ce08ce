"""All of scoring's SQL, by what it is about: `models`, `leads`, `capacity`.

Locks, in the one order every transaction takes them, so no two can wait on each other: a lead's
own row (`lock_lead`, `claim_lead`), then the capacity ledger (`capacity(lock=True)`); other
leads' rows only with `SKIP LOCKED` while the ledger is held (`best_held`). Releases are
conditional updates (`state = 'held'`), so a lead is never released twice, even by two instances.
"""

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
from services.scoring.repository.leads import (
    PROFILE_FIELDS,
    activities_of,
    add_activity,
    add_learning_fact,
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

__all__ = [
    "ACTIVE_MODEL_TTL_S",
    "PROFILE_FIELDS",
    "CapacityState",
    "active_model",
    "activities_of",
    "add_activity",
    "add_learning_fact",
    "add_model",
    "best_held",
    "capacity",
    "change_lead",
    "change_ledger",
    "change_model",
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
    "profile_of",
    "record_history",
    "release",
    "rescoring_progress",
    "retire_active",
    "save_team",
    "team_states",
]
