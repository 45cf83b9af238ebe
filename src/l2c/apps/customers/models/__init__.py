"""Models of the customers context, one module per part: accounts and contacts, duplicate control,
public pools, transactions and RFM, risk events. Import them from here."""

from .accounts import (
    Account,
    AccountLevel,
    AccountSource,
    AccountStatus,
    AccountTeamMember,
    BusinessStatus,
    CompanySize,
    Contact,
    Industry,
    Tag,
)
from .duplicates import (
    DuplicateCandidate,
    DuplicateGroup,
    DuplicateGroupStatus,
    DuplicateKey,
    DuplicateObject,
    DuplicateProfile,
    DuplicateRule,
    DuplicateRuleAction,
    DuplicateRuleField,
    DuplicateRuleKind,
    RecordMerge,
)
from .pool import POOL_DEFAULT_VISIBLE_FIELDS, Pool, PoolClaimCounter
from .rfm import AccountRfm, CustomerTransaction, RfmSegmentName, RfmSettings, TransactionSource
from .risk import (
    RISK_KIND_CATEGORY,
    RISK_SEVERITY_RANK,
    RiskCategory,
    RiskEvent,
    RiskEventStatus,
    RiskKind,
    RiskRule,
    RiskSeverity,
)

__all__ = [
    "POOL_DEFAULT_VISIBLE_FIELDS", "RISK_KIND_CATEGORY", "RISK_SEVERITY_RANK", "Account", "AccountLevel",
    "AccountRfm", "AccountSource", "AccountStatus", "AccountTeamMember", "BusinessStatus", "CompanySize",
    "Contact", "CustomerTransaction", "DuplicateCandidate", "DuplicateGroup", "DuplicateGroupStatus",
    "DuplicateKey", "DuplicateObject", "DuplicateProfile", "DuplicateRule", "DuplicateRuleAction",
    "DuplicateRuleField", "DuplicateRuleKind", "Industry", "Pool", "PoolClaimCounter", "RecordMerge",
    "RfmSegmentName", "RfmSettings", "RiskCategory", "RiskEvent", "RiskEventStatus", "RiskKind", "RiskRule",
    "RiskSeverity", "Tag", "TransactionSource",
]
