"""Points models: the ledger, earning rules and tiers, clearing."""

from .clearing import ClearingLine, ClearingRun, ClearingStatement
from .ledger import (
    ExpiryReminder,
    ImmutableRow,
    JournalEntry,
    JournalLine,
    LotAllocation,
    PointsAccount,
    PointsLot,
)
from .rules import (
    EarnCampaign,
    EarnRate,
    MemberTier,
    PointsPolicy,
    QualifyingSpend,
    Tier,
    TierHistory,
)

__all__ = [
    "ClearingLine",
    "ClearingRun",
    "ClearingStatement",
    "EarnCampaign",
    "EarnRate",
    "ExpiryReminder",
    "ImmutableRow",
    "JournalEntry",
    "JournalLine",
    "LotAllocation",
    "MemberTier",
    "PointsAccount",
    "PointsLot",
    "PointsPolicy",
    "QualifyingSpend",
    "Tier",
    "TierHistory",
]
