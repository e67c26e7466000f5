"""Earning rules and membership tiers, as data head office edits (not code).

All rates are integers: a base rate in points per yuan, tier and campaign factors in percent
(150 = x1.5), spending in fen. Points are always rounded down.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .ledger import Immutable


class EarnRate(models.Model):
    """The base rate from ``valid_from`` on; the newest row in force wins (history is kept)."""

    points_per_yuan = models.PositiveIntegerField(_("points per yuan"))
    valid_from = models.DateTimeField(_("valid from"), unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("earning rate")
        verbose_name_plural = _("earning rates")
        ordering = ["-valid_from"]

    def __str__(self) -> str:
        return f"{self.points_per_yuan}/¥ from {self.valid_from:%Y-%m-%d}"


class EarnCampaign(models.Model):
    """Bonus points on top of the base points, for payments matching category/merchant/window.

    ``bonus_percent`` of the (pre-tier) base points; campaigns that match add up. A campaign
    funded by a merchant must name it; its bonus is merchant-funded points.
    """

    class Funder(models.TextChoices):
        BANK = "bank", _("the bank")
        MERCHANT = "merchant", _("the merchant")

    name = models.CharField(_("name"), max_length=100)
    bonus_percent = models.PositiveIntegerField(_("bonus, percent of base points"))
    category = models.CharField(_("merchant category"), max_length=32, blank=True)  # "" = any
    merchant_id = models.BigIntegerField(_("merchant"), null=True, blank=True)  # None = any
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))  # exclusive
    funder = models.CharField(_("funded by"), max_length=10, choices=Funder.choices,
                              default=Funder.BANK)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("earning campaign")
        verbose_name_plural = _("earning campaigns")
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")),
                                   name="earncampaign_ends_after_start"),
            models.CheckConstraint(condition=~Q(funder="merchant") | Q(merchant_id__isnull=False),
                                   name="earncampaign_merchant_funded_names_merchant"),
        ]

    def __str__(self) -> str:
        return self.name


class Tier(models.Model):
    """A membership tier: reached at ``threshold_fen`` of rolling 12-month spending."""

    code = models.SlugField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=40)
    threshold_fen = models.BigIntegerField(_("12-month spending from (fen)"), unique=True)
    multiplier_percent = models.PositiveIntegerField(_("points multiplier (%)"), default=100)

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ["threshold_fen"]
        constraints = [
            models.CheckConstraint(condition=Q(threshold_fen__gte=0), name="tier_threshold_not_negative"),
        ]

    def __str__(self) -> str:
        return self.name


class QualifyingSpend(Immutable):
    """Spending that counts towards tiers: + for a payment, - for its refund. Immutable."""

    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    amount_fen = models.BigIntegerField(_("amount (fen)"))
    idempotency_key = models.CharField(max_length=128)  # unique: see Meta (no LIKE index)
    at = models.DateTimeField(_("when"))

    class Meta:
        indexes = [models.Index(fields=["customer", "at"], name="qualifyingspend_customer_at")]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="qualifyingspend_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.amount_fen:+d}"


class MemberTier(models.Model):
    """A customer's current tier (no row: the lowest tier)."""

    customer = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="points_tier"
    )
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    since = models.DateTimeField(_("since"))
    last_downgrade_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.tier}"


class TierHistory(Immutable):
    """Every tier change, with the spending that caused it. Immutable."""

    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    old_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, null=True, related_name="+")
    new_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    spending_fen = models.BigIntegerField(_("12-month spending (fen)"))
    at = models.DateTimeField(_("when"))

    class Meta:
        verbose_name = _("tier change")
        verbose_name_plural = _("tier changes")
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.old_tier_id} -> {self.new_tier_id}"


class PointsPolicy(models.Model):
    """Switches head office turns at run time (one row). Member-to-member transfer is off
    until head office turns it on; Django admin's log keeps who changed it and when."""

    transfer_enabled = models.BooleanField(_("member-to-member transfer"), default=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("points policy")
        verbose_name_plural = _("points policy")
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=1), name="points_policy_single_row"),
        ]

    def __str__(self) -> str:
        return str(_("Points policy"))

    @classmethod
    def current(cls) -> PointsPolicy:
        return cls.objects.get_or_create(pk=1)[0]
