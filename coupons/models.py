"""Coupons: bank campaigns with budgets, templates (批次), the coupons customers hold, and the
history of every change.

The invariants live in the database as well as in the services: stock never below zero
(``CheckConstraint``), one coupon per (template, customer, slot) so no customer holds more than
the limit, one coupon per claim key (a retried claim), a campaign's reserved plus spent never
above its budget, one live verification per coupon, one verification per idempotency key.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from branches.models import Located
from merchants.crypto import EncryptedTextField
from merchants.models import Category, Immutable, Merchant, Store

User = settings.AUTH_USER_MODEL


def _in(field: str, choices) -> Q:
    return Q(**{f"{field}__in": [c.value for c in choices]})


class Campaign(models.Model):
    """A bank campaign: a budget in fen that funds the discounts of its templates.

    A claim reserves the template's worst-case cost; verification turns the reservation into
    spending; expiry and voiding release it. ``reserved_fen + spent_fen <= budget_fen`` always.
    """

    name = models.CharField(_("name"), max_length=100)
    branch = models.ForeignKey(
        "branches.Branch",
        verbose_name=_("branch"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="campaigns",
        help_text=_("Empty for a head-office campaign."),
    )
    budget_fen = models.BigIntegerField(_("budget (fen)"))
    reserved_fen = models.BigIntegerField(_("reserved (fen)"), default=0)
    spent_fen = models.BigIntegerField(_("spent (fen)"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(budget_fen__gt=0), name="campaign_budget_positive"),
            models.CheckConstraint(
                condition=Q(reserved_fen__gte=0, spent_fen__gte=0), name="campaign_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(budget_fen__gte=F("reserved_fen") + F("spent_fen")),
                name="campaign_within_budget",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def available_fen(self) -> int:
        return self.budget_fen - self.reserved_fen - self.spent_fen


class Kind(models.TextChoices):
    CASH_OFF = "cash_off", _("Cash off above a threshold")
    PERCENT_OFF = "percent_off", _("Percentage off with a cap")
    PAID_VOUCHER = "paid_voucher", _("Paid voucher")
    GIFT = "gift", _("Gift / exchange item")


class Obtain(models.TextChoices):
    FREE = "free", _("Free claim")
    PURCHASE = "purchase", _("Purchase")
    POINTS = "points", _("Points exchange")
    CAMPAIGN = "campaign", _("Campaign giveaway")


class FundedBy(models.TextChoices):
    MERCHANT = "merchant", _("Merchant")
    CAMPAIGN = "campaign", _("Bank campaign")


class Validity(models.TextChoices):
    FIXED = "fixed", _("Fixed dates")
    RELATIVE = "relative", _("Days after claim")


class TemplateStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted for review")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    LIVE = "live", _("Live")
    PAUSED = "paused", _("Paused")
    ENDED = "ended", _("Ended")


def template_image_path(instance, filename: str) -> str:
    return f"coupons/templates/{instance.merchant_id}/{filename}"


class CouponTemplate(models.Model):
    """A batch of coupons (券批次) a merchant publishes, reviewed by the branch of its grid."""

    Kind = Kind
    Obtain = Obtain
    FundedBy = FundedBy
    Validity = Validity
    Status = TemplateStatus

    merchant = models.ForeignKey(
        Merchant, verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="templates"
    )
    stores = models.ManyToManyField(Store, verbose_name=_("stores"), related_name="templates")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    title = models.CharField(_("title"), max_length=60)
    description = models.TextField(_("description"), blank=True)
    image = models.ImageField(_("image"), upload_to=template_image_path, blank=True)

    # What it is worth. Cash off: discount_fen off when spending at least min_spend_fen.
    # Percent off: pay pay_percent % (85 = 8.5折), at most cap_fen off. Paid voucher: pay
    # price_fen, worth discount_fen. Gift: gift_item, worth discount_fen to whoever funds it.
    discount_fen = models.PositiveIntegerField(_("value (fen)"), default=0)
    min_spend_fen = models.PositiveIntegerField(_("minimum spend (fen)"), default=0)
    pay_percent = models.PositiveSmallIntegerField(_("pay percent"), null=True, blank=True)
    cap_fen = models.PositiveIntegerField(_("cap (fen)"), default=0)
    price_fen = models.PositiveIntegerField(_("price (fen)"), default=0)
    points_price = models.PositiveIntegerField(_("price in points"), default=0)
    gift_item = models.CharField(_("gift item"), max_length=60, blank=True)

    obtain = models.CharField(_("obtained by"), max_length=16, choices=Obtain.choices)
    funded_by = models.CharField(
        _("funded by"), max_length=16, choices=FundedBy.choices, default=FundedBy.MERCHANT
    )
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="templates",
    )
    refund_any_time = models.BooleanField(_("refundable while unused"), default=True)
    refund_on_expiry = models.BooleanField(_("refunded automatically on expiry"), default=True)

    total_stock = models.PositiveIntegerField(_("total stock"))
    stock_left = models.IntegerField(_("stock left"))
    per_customer_limit = models.PositiveSmallIntegerField(_("per-customer limit"), default=1)
    daily_cap = models.PositiveIntegerField(_("claims per day"), null=True, blank=True)
    claim_start = models.DateTimeField(_("claim from"))
    claim_end = models.DateTimeField(_("claim until"))

    validity = models.CharField(_("validity"), max_length=16, choices=Validity.choices)
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    valid_days = models.PositiveSmallIntegerField(_("valid for days"), null=True, blank=True)
    start_delay_days = models.PositiveSmallIntegerField(_("usable after days"), default=0)
    # Bit 0 = Monday ... bit 6 = Sunday; 127 = every day.
    weekdays = models.PositiveSmallIntegerField(_("usable weekdays"), default=127)
    # [["11:00", "14:00"], ["17:00", "21:00"]]; empty = all day. Local time (Asia/Shanghai).
    time_slots = models.JSONField(_("usable hours"), default=list, blank=True)

    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.DRAFT
    )
    decision_reason = models.TextField(_("reason"), blank=True)
    reviewer = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    published_at = models.DateTimeField(_("published"), null=True, blank=True)

    class Meta:
        verbose_name = _("coupon template")
        verbose_name_plural = _("coupon templates")
        ordering = ["-pk"]
        indexes = [models.Index(fields=["status", "claim_end"])]
        constraints = [
            models.CheckConstraint(condition=_in("kind", Kind), name="template_kind_valid"),
            models.CheckConstraint(condition=_in("obtain", Obtain), name="template_obtain_valid"),
            models.CheckConstraint(
                condition=_in("status", TemplateStatus), name="template_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(stock_left__gte=0), name="template_stock_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(stock_left__lte=F("total_stock")), name="template_stock_within_total"
            ),
            models.CheckConstraint(
                condition=Q(per_customer_limit__gte=1), name="template_limit_positive"
            ),
            models.CheckConstraint(
                condition=Q(claim_end__gt=F("claim_start")), name="template_claim_window"
            ),
            models.CheckConstraint(
                condition=Q(pay_percent__isnull=True) | Q(pay_percent__gte=1, pay_percent__lte=99),
                name="template_pay_percent_range",
            ),
            models.CheckConstraint(
                condition=Q(weekdays__gte=1, weekdays__lte=127), name="template_weekdays_range"
            ),
            models.CheckConstraint(
                condition=~Q(funded_by="campaign") | Q(campaign__isnull=False),
                name="template_campaign_funded_has_campaign",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def claimed(self) -> int:
        return self.total_stock - self.stock_left

    @property
    def worst_case_cost_fen(self) -> int:
        """The most one coupon can cost whoever funds it (what a campaign reserves)."""
        if self.kind == Kind.PERCENT_OFF:
            return self.cap_fen
        if self.kind == Kind.PAID_VOUCHER:
            return max(self.discount_fen - self.price_fen, 0)
        return self.discount_fen


class TemplateChange(Immutable):
    """History of a template: every transition and every edit after approval."""

    template = models.ForeignKey(CouponTemplate, on_delete=models.PROTECT, related_name="changes")
    actor = models.ForeignKey(User, on_delete=models.PROTECT, null=True, related_name="+")
    from_status = models.CharField(_("from"), max_length=16, blank=True)
    to_status = models.CharField(_("to"), max_length=16)
    fields = models.JSONField(_("fields changed"), default=dict, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("template change")
        verbose_name_plural = _("template changes")
        ordering = ["pk"]


class ClaimDay(models.Model):
    """How many coupons of a capped template were claimed on one local day (a hot counter whose
    cap is copied in so the database keeps ``claimed <= cap``)."""

    template = models.ForeignKey(CouponTemplate, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    claimed = models.PositiveIntegerField(default=0)
    cap = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["template", "day"], name="claim_day_unique"),
            models.CheckConstraint(condition=Q(claimed__lte=F("cap")), name="claim_day_within_cap"),
        ]

    def __str__(self) -> str:
        return f"{self.template_id} {self.day}: {self.claimed}/{self.cap}"


class CouponStatus(models.TextChoices):
    ISSUED = "issued", pgettext_lazy("coupon", "Active")
    VERIFIED = "verified", _("Used")
    EXPIRED = "expired", pgettext_lazy("coupon", "Expired")
    REFUNDED = "refunded", _("Refunded")
    VOIDED = "voided", _("Voided")


class Coupon(models.Model):
    """One customer's coupon. ``code`` is unguessable; the counter sees a signed token instead.

    ``slot`` is this coupon's place among the customer's coupons of the template (1..limit);
    unique per (template, customer), so two concurrent claims cannot both take the last slot.
    """

    Status = CouponStatus

    # No index of their own for the two keys: the composite indexes below lead with them (one
    # index less to keep up on every claim, the flash sale's hot insert).
    template = models.ForeignKey(
        CouponTemplate,
        verbose_name=_("template"),
        on_delete=models.PROTECT,
        related_name="coupons",
        db_index=False,
    )
    customer = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="coupons", db_index=False
    )
    # Unique by a constraint, not ``unique=True``: on PostgreSQL that would add a second,
    # LIKE-pattern index that no query uses.
    code = models.CharField(_("code"), max_length=16, editable=False)
    slot = models.PositiveSmallIntegerField()
    claim_key = models.CharField(max_length=64)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.ISSUED
    )
    reserved_fen = models.PositiveIntegerField(_("campaign reservation (fen)"), default=0)
    claimed_at = models.DateTimeField(_("claimed"))
    valid_from = models.DateTimeField(_("valid from"))
    valid_until = models.DateTimeField(_("valid until"), help_text=_("Exclusive."))
    closed_at = models.DateTimeField(_("used, expired or voided"), null=True, blank=True)

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        ordering = ["-pk"]
        indexes = [
            models.Index(fields=["customer", "status"]),
            models.Index(fields=["template", "status"]),
            models.Index(
                fields=["valid_until"], condition=Q(status="issued"), name="coupon_issued_expiry"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=_in("status", CouponStatus), name="coupon_status_valid"
            ),
            models.CheckConstraint(condition=Q(slot__gte=1), name="coupon_slot_positive"),
            models.UniqueConstraint(
                fields=["template", "customer", "slot"], name="coupon_one_per_slot"
            ),
            # Key first: the flash sale's sold-out answer looks a key up before it knows who
            # sent it (that no coupon was made under it); one index less to write per claim.
            models.UniqueConstraint(
                fields=["claim_key", "customer"], name="coupon_claim_key_unique"
            ),
            models.UniqueConstraint(fields=["code"], name="coupon_code_unique"),
            models.CheckConstraint(
                condition=Q(valid_until__gt=F("valid_from")), name="coupon_validity_window"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template} #{self.pk}"


class CouponEvent(Immutable):
    """Every change of a coupon's state: who, when, from, to, why."""

    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="events")
    actor = models.ForeignKey(User, on_delete=models.PROTECT, null=True, related_name="+")
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]


class Verification(models.Model):
    """A coupon used at a store (核销). Undone within the undo window by the merchant's owner:
    the row stays, with who undid it and why; at most one live verification per coupon."""

    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="verifications")
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, null=True, related_name="+")
    verified_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    idempotency_key = models.CharField(max_length=64)
    created_at = models.DateTimeField(_("verified"), auto_now_add=True)
    undone_at = models.DateTimeField(_("undone"), null=True, blank=True)
    undone_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    undo_reason = models.CharField(_("reason"), max_length=200, blank=True)
    # The 30-second step of the offline code that was used, if one was (see
    # services.tokens): a code is used once, even when the verification is undone.
    offline_step = models.BigIntegerField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "idempotency_key"], name="verification_key_unique"
            ),
            models.UniqueConstraint(
                fields=["coupon", "offline_step"],
                condition=Q(offline_step__isnull=False),
                name="verification_offline_code_once",
            ),
            models.UniqueConstraint(
                fields=["coupon"],
                condition=Q(undone_at__isnull=True),
                name="verification_one_live_per_coupon",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.coupon_id} @ {self.created_at:%Y-%m-%d %H:%M}"


class OfflineSecret(models.Model):
    """A customer's key for offline codes (离线码): 32 random bytes, hex, encrypted at rest.
    The wallet page hands it to the customer's phone, which computes the codes without the
    network; rotating it makes every code made under the old one invalid."""

    customer = models.OneToOneField(
        User, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    secret = EncryptedTextField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("offline code key")
        verbose_name_plural = _("offline code keys")

    def __str__(self) -> str:
        return f"offline key of {self.customer_id}"  # never the secret

    @property
    def key(self) -> bytes:
        return bytes.fromhex(self.secret)


class CampaignEntry(Immutable):
    """A movement of a campaign's budget: reserve, release, spend, unspend (an undone
    verification). Each names the coupon that caused it."""

    class Kind(models.TextChoices):
        RESERVE = "reserve", _("Reserved")
        RELEASE = "release", _("Released")
        SPEND = "spend", pgettext_lazy("budget", "Spent")
        UNSPEND = "unspend", _("Spending undone")

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="entries")
    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount_fen = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]


# Offers are also keyed by the H3 cell of this resolution that holds them (some 5 km², 1.4 km
# edge): a 3 km circle touches 15-20 of them, each read in sort order (see
# ``coupons.selectors.customer``). Finer cells mean more cells to read per page; coarser, more
# rows outside the circle walked past in each.
OFFER_CELL_RES = 7
_RES_SHIFT = 52
_MAX_RES = 15  # H3's finest resolution: every digit below a cell's own is 7 (binary 111)
_FINER_DIGITS = (1 << 3 * (_MAX_RES - OFFER_CELL_RES)) - 1


def offer_cell_of(h3_cell):
    """The H3 cell at ``OFFER_CELL_RES`` holding a leaf cell, what ``h3.cell_to_parent`` gives,
    by bit arithmetic (resolution in bits 52-55, the digits below it all 7) so that it works on
    an int and on an expression: ``offer_cell_of(F("h3_cell"))`` is the column's SQL."""
    keep = ~((0xF << _RES_SHIFT) | _FINER_DIGITS)
    if isinstance(h3_cell, int):
        return (h3_cell & keep) | (OFFER_CELL_RES << _RES_SHIFT) | _FINER_DIGITS
    return h3_cell.bitand(keep).bitor((OFFER_CELL_RES << _RES_SHIFT) | _FINER_DIGITS)


# What the offer list's scan reads after the sort keys (see Offer.Meta.indexes).
_OFFER_SCAN = ["lat", "lng", "claim_end", "category", "id", "merchant_name"]


class Offer(Located):
    """Where a live template can be claimed: one row per (template, store), at the store's
    location, so "offers near me" is one query on the grid index. Written only by the services
    that publish, pause and end templates or move stores; rows exist only while live.

    ``popularity`` is the template's claimed count as of the last run of
    ``offers_refresh_popularity`` (every five minutes): the claim itself does not write here,
    so a flash sale touches only the template's row."""

    template = models.ForeignKey(CouponTemplate, on_delete=models.CASCADE, related_name="offers")
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="offers")
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    category = models.CharField(max_length=32, choices=Category.choices)
    merchant_name = models.CharField(max_length=100)
    published_at = models.DateTimeField()
    claim_start = models.DateTimeField()
    claim_end = models.DateTimeField()
    # Computed by the database from h3_cell, so no writer (nor a bulk loader) can get it wrong.
    coarse_cell = models.GeneratedField(
        expression=offer_cell_of(F("h3_cell")),
        output_field=models.BigIntegerField(),
        db_persist=True,
    )
    popularity = models.PositiveIntegerField(default=0)

    class Meta(Located.Meta):
        indexes = [
            # A category with few offers nearby is found without walking every offer's cell.
            models.Index(fields=["category", "h3_cell"]),
            # "Newest" and "most claimed" near a point: each cell's offers in sort order, and
            # every column the query reads after the sort keys, so that the scan checks the
            # bounding box, claim_end, category and a name search in the index and never
            # visits the table.
            models.Index(
                fields=["coarse_cell", "-published_at", *_OFFER_SCAN],
                name="offer_cell_newest",
            ),
            models.Index(
                fields=["coarse_cell", "-popularity", "-published_at", *_OFFER_SCAN],
                name="offer_cell_popular",
            ),
        ]
        constraints = [
            *Located.Meta.constraints,
            models.UniqueConstraint(fields=["template", "store"], name="offer_template_store"),
        ]
