"""Points models: the ledger, earning rules and tiers, clearing."""

from .clearing import ClearingLine, ClearingRun, ClearingStatement
from .ledger import (
    EarnReversal,
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
    "EarnReversal",
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
