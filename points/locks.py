"""Querysets that lock points rows, always in primary-key order (no deadlocks between services
that lock several accounts)."""

from collections.abc import Iterable

from .models import PointsAccount


def lock_accounts(account_ids: Iterable[int]) -> dict[int, PointsAccount]:
    """Lock the accounts and return them freshly read, by id."""
    ids = sorted(set(account_ids))
    accounts = PointsAccount.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    return {a.pk: a for a in accounts}
