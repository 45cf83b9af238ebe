"""Models of the leads app, one module per concern."""

from .leads import Lead, LeadSource, LeadStatus, ScoreBand
from .pools import AssignmentAction, AssignmentRule, LeadClaimCounter, LeadPool, LeadPoolExit
from .scoring import AttributeRule, LeadEvent, ScoringEventKind, ScoringModel, ScoringWeights

__all__ = [
    "AssignmentAction", "AssignmentRule", "AttributeRule", "Lead", "LeadClaimCounter", "LeadEvent", "LeadPool",
    "LeadPoolExit", "LeadSource", "LeadStatus", "ScoreBand", "ScoringEventKind", "ScoringModel", "ScoringWeights",
]
