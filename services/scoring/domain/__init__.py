"""Scoring's pure decisions: the model document, the scoring function, the capacity-following
threshold, a lead's standing and a model's lifecycle. No I/O, no web framework."""

from services.scoring.domain.document import ScoringModel, parse_model
from services.scoring.domain.scoring import Activity, Fired, Profile, Score, score_lead
from services.scoring.domain.standing import Standing
from services.scoring.domain.threshold import Held, TeamSlots, Threshold, effective_threshold

__all__ = [
    "Activity",
    "Fired",
    "Held",
    "Profile",
    "Score",
    "ScoringModel",
    "Standing",
    "TeamSlots",
    "Threshold",
    "effective_threshold",
    "parse_model",
    "score_lead",
]
