"""Opportunities (ADR 0005): processes and stages, deals, decision chain, health, forecast."""

from .chain import Attitude, ChainRole, Influence, OpportunityContact
from .deals import (
    LostReason,
    Opportunity,
    OpportunitySource,
    OpportunityStatus,
    OpportunityTask,
    OpportunityTeamMember,
    StageHistory,
    TeamAccess,
    TeamRole,
)
from .forecast import ForecastModel, ForecastSubmission, PeriodKind, PipelineSnapshot
from .health import AnswerLevel, Dimension, HealthAnswer, HealthConfig, HealthSnapshot
from .processes import Competitor, ForecastCategory, SalesProcess, Stage, StageKind, StageTask

__all__ = [
    "AnswerLevel", "Attitude", "ChainRole", "Competitor", "Dimension", "ForecastCategory", "ForecastModel",
    "ForecastSubmission", "HealthAnswer", "HealthConfig", "HealthSnapshot", "Influence", "LostReason", "Opportunity",
    "OpportunityContact", "OpportunitySource", "OpportunityStatus", "OpportunityTask", "OpportunityTeamMember",
    "PeriodKind", "PipelineSnapshot", "SalesProcess", "Stage", "StageHistory", "StageKind", "StageTask", "TeamAccess",
    "TeamRole",
]
