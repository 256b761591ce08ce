"""Who may give a lead its verdict.

A `sales` key only for a lead currently assigned to its own rep (after a reassignment the
previous rep no longer may); a `crm` key for any lead, on behalf of its assignee; an `admin` key
like a crm key (admin passes every role check); anything else is refused (`NotYours`, 403) with
the reason.
"""

from __future__ import annotations

from shared.problems import Forbidden


class NotYours(Forbidden):
    pass


def acting_rep(role: str, key_rep_id: str | None, assignee: str | None) -> str | None:
    """The rep the verdict is given for, or `NotYours` saying why this key may not give it."""
    if role in {"crm", "admin"}:
        return assignee
    if role != "sales":
        raise NotYours.of(
            f"a {role} key may not give verdicts",
            "authorization",
            "needs a sales key for the assigned rep, or a crm key",
        )
    if not key_rep_id:
        raise NotYours.of(
            "this sales key is not bound to a rep", "authorization", "needs a rep's sales key"
        )
    if assignee is None:
        raise NotYours.of(
            "the lead is not assigned to any rep yet",
            "lead_id",
            f"only its assigned rep may judge it, and {key_rep_id} is not",
        )
    if assignee != key_rep_id:
        raise NotYours.of(
            f"the lead is assigned to another rep, not to {key_rep_id}",
            "lead_id",
            "only the rep it is currently assigned to may judge it",
        )
    return assignee
