"""All of routing's SQL, one module per table group. Rows come back as domain objects; the one
write that guards capacity, `claim` (in `capacity.py`), is a conditional UPDATE, so no two
transactions can both take a rep's last slot."""

from services.routing.repository.admin import AdminQueries
from services.routing.repository.assignments import AssignmentQueries
from services.routing.repository.capacity import CapacityQueries
from services.routing.repository.criteria import CriteriaQueries
from services.routing.repository.decisions import DecisionQueries
from services.routing.repository.organisation import OrganisationQueries
from services.routing.repository.queue import QueueQueries
from services.routing.repository.rows import QueueStats, to_criteria, to_rep
from services.routing.repository.sla import SlaQueries
from services.routing.repository.tables import reps_t, teams_t
from services.routing.repository.webhooks import WebhookQueries


class Repository(
    OrganisationQueries,
    CriteriaQueries,
    AdminQueries,
    CapacityQueries,
    AssignmentQueries,
    QueueQueries,
    DecisionQueries,
    SlaQueries,
    WebhookQueries,
):
    """One transaction's queries."""


__all__ = ["QueueStats", "Repository", "reps_t", "teams_t", "to_criteria", "to_rep"]
