"""All of routing's SQL. Rows come back as domain objects; the one write that guards capacity,
`claim` (in `work.py`), is a conditional UPDATE, so no two transactions can both take a rep's last
slot."""

from services.routing.repository.organisation import OrganisationQueries
from services.routing.repository.rows import QueueStats, reps_t, teams_t, to_criteria, to_rep
from services.routing.repository.sla import SlaQueries
from services.routing.repository.webhooks import WebhookQueries
from services.routing.repository.work import WorkQueries


class Repository(OrganisationQueries, WorkQueries, SlaQueries, WebhookQueries):
    """One transaction's queries."""


__all__ = ["QueueStats", "Repository", "reps_t", "teams_t", "to_criteria", "to_rep"]
