"""Models of the leads app, one module per concern."""

from .leads import Lead, LeadSource, LeadStatus, ScoreBand
from .pools import AssignmentAction, AssignmentRule, LeadClaimCounter, LeadPool, LeadPoolExit
from .scoring import AttributeRule, LeadBehaviour, LeadEvent, ScoringEventKind, ScoringModel, ScoringWeights

__all__ = [
    "AssignmentAction", "AssignmentRule", "AttributeRule", "Lead", "LeadBehaviour", "LeadClaimCounter", "LeadEvent",
    "LeadPool", "LeadPoolExit", "LeadSource", "LeadStatus", "ScoreBand", "ScoringEventKind", "ScoringModel",
    "ScoringWeights",
]
