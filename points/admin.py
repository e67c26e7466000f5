"""Head office's points console in the admin: earning rules and tiers to edit, the ledger to read.

Only head office gets in (``accounts.roles.is_head_office``; ``is_superuser`` alone is not
enough, branch staff see nothing). Earning rates, campaigns and tiers are configuration data
with no write service: the admin saves them directly, after the form has checked them. Ledger
rows are immutable history written only by ``points.services``: the admin shows them and
refuses to add, change or delete them for everybody.
"""

from django import forms
from django.contrib import admin
from django.core.validators import MinValueValidator
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import access, roles
from accounts.phones import mask_phone
from alliance.templatetags.alliance import fen

from .models import (
    EarnCampaign,
    EarnRate,
    EarnReversal,
    JournalEntry,
    JournalLine,
    PointsAccount,
    PointsLot,
    PointsPolicy,
    Tier,
)


def _head_office(request) -> bool:
    return roles.is_head_office(request.user) and access.second_factor_ok(request.user)


class HeadOfficeAdmin(admin.ModelAdmin):
    """Points configuration: head office views and edits, nobody else."""

    def has_module_permission(self, request):
        return _head_office(request)

    def has_view_permission(self, request, obj=None):
        return _head_office(request)

    def has_add_permission(self, request):
        return _head_office(request)

    def has_change_permission(self, request, obj=None):
        return _head_office(request)

    def has_delete_permission(self, request, obj=None):
        return _head_office(request)


class LedgerAdmin(admin.ModelAdmin):
    """Ledger history: head office reads it; nobody writes it here (corrections are new
    entries, made through ``points_adjust``)."""

    def has_module_permission(self, request):
        return _head_office(request)

    def has_view_permission(self, request, obj=None):
        return _head_office(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _masked(user) -> str:
    return mask_phone(user.phone) if user is not None else ""


# --- Configuration ---------------------------------------------------------------------------


@admin.register(EarnRate)
class EarnRateAdmin(HeadOfficeAdmin):
    list_display = ["valid_from", "points_per_yuan", "created_by", "created_at"]
    list_select_related = ["created_by"]
    fields = ["points_per_yuan", "valid_from", "created_by", "created_at"]
    readonly_fields = ["created_by", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        # A rate already in force has earned points at that rate: keep it as history and add
        # a newer row instead.
        if obj is not None and obj.valid_from <= timezone.now():
            return ["points_per_yuan", "valid_from", "created_by", "created_at"]
        return self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.valid_from <= timezone.now():
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class EarnCampaignForm(forms.ModelForm):
    class Meta:
        model = EarnCampaign
        fields = ["name", "bonus_percent", "category", "merchant_id", "starts_at", "ends_at",
                  "funder", "is_active"]

    def clean(self):
        # Friendly messages for what the database constraints also guarantee.
        data = super().clean()
        starts_at, ends_at = data.get("starts_at"), data.get("ends_at")
        if starts_at and ends_at and ends_at <= starts_at:
            self.add_error("ends_at", _("The end must be after the start."))
        if data.get("funder") == EarnCampaign.Funder.MERCHANT and data.get("merchant_id") is None:
            self.add_error("merchant_id", _("A merchant-funded campaign must name its merchant."))
        return data


@admin.register(EarnCampaign)
class EarnCampaignAdmin(HeadOfficeAdmin):
    form = EarnCampaignForm
    list_display = ["name", "bonus_percent", "category", "merchant_id", "funder", "starts_at",
                    "ends_at", "is_active"]
    list_filter = ["is_active", "funder", "category"]
    search_fields = ["name", "category"]
    date_hierarchy = "starts_at"


class TierForm(forms.ModelForm):
    class Meta:
        model = Tier
        fields = ["code", "name", "threshold_fen", "multiplier_percent"]

    def clean_threshold_fen(self):
        # The database refuses a negative threshold too; Django's own message says why.
        threshold = self.cleaned_data["threshold_fen"]
        MinValueValidator(0)(threshold)
        return threshold

    def clean(self):
        # Tiers are ordered by threshold: a higher tier must not earn at a lower multiplier.
        data = super().clean()
        threshold, multiplier = data.get("threshold_fen"), data.get("multiplier_percent")
        if threshold is None or multiplier is None:
            return data
        others = Tier.objects.exclude(pk=self.instance.pk)
        below = others.filter(threshold_fen__lt=threshold, multiplier_percent__gt=multiplier)
        above = others.filter(threshold_fen__gt=threshold, multiplier_percent__lt=multiplier)
        if below.exists() or above.exists():
            self.add_error("multiplier_percent",
                           _("A higher tier cannot have a lower multiplier than a lower tier."))
        return data


@admin.register(Tier)
class TierAdmin(HeadOfficeAdmin):
    form = TierForm
    list_display = ["name", "code", "threshold_fen", "threshold_yuan", "multiplier_percent"]
    search_fields = ["code", "name"]

    @admin.display(description="¥", ordering="threshold_fen")
    def threshold_yuan(self, tier):
        return fen(tier.threshold_fen)


# --- Ledger (read-only) ----------------------------------------------------------------------


@admin.register(PointsAccount)
class PointsAccountAdmin(LedgerAdmin):
    list_display = ["pk", "kind", "customer_phone", "merchant_id", "balance", "pending",
                    "created_at"]
    list_filter = ["kind"]
    list_select_related = ["customer"]
    search_fields = ["customer__phone", "=merchant_id"]
    exclude = ["customer"]
    readonly_fields = ["customer_phone"]

    @admin.display(description=_("customer"), ordering="customer__phone")
    def customer_phone(self, account):
        return _masked(account.customer)


class JournalLineInline(admin.TabularInline):
    model = JournalLine
    fields = ["account", "bucket", "amount", "lot"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account", "lot")

    def has_view_permission(self, request, obj=None):
        return _head_office(request)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(JournalEntry)
class JournalEntryAdmin(LedgerAdmin):
    list_display = ["posted_at", "pk", "kind", "customers", "reason", "actor", "reference_type",
                    "reference_id", "merchant_id"]
    list_filter = ["kind", "reference_type"]
    list_select_related = ["actor"]
    search_fields = ["lines__account__customer__phone", "=idempotency_key", "reason"]
    date_hierarchy = "posted_at"
    inlines = [JournalLineInline]

    def get_queryset(self, request):
        customer_lines = JournalLine.objects.filter(account__customer__isnull=False)
        return super().get_queryset(request).prefetch_related(
            Prefetch("lines", queryset=customer_lines.select_related("account__customer"),
                     to_attr="customer_lines")
        )

    @admin.display(description=_("customer"))
    def customers(self, entry):
        phones = {_masked(line.account.customer) for line in entry.customer_lines}
        return ", ".join(sorted(phones))


@admin.register(PointsLot)
class PointsLotAdmin(LedgerAdmin):
    list_display = ["pk", "customer_phone", "state", "original_points", "remaining_points",
                    "funder", "earned_at", "available_at", "expires_at"]
    list_filter = ["state", "funder__kind"]
    list_select_related = ["account__customer", "funder"]
    search_fields = ["account__customer__phone"]
    date_hierarchy = "earned_at"

    @admin.display(description=_("customer"), ordering="account__customer__phone")
    def customer_phone(self, lot):
        return _masked(lot.account.customer)


@admin.register(EarnReversal)
class EarnReversalAdmin(LedgerAdmin):
    """Refunds that took back earned points; the shortfall is what the customer had used."""

    list_display = ["pk", "earn", "points", "taken", "shortfall", "at"]
    list_select_related = ["earn"]
    date_hierarchy = "at"


@admin.register(PointsPolicy)
class PointsPolicyAdmin(HeadOfficeAdmin):
    """One row: head office turns member-to-member transfer on or off (logged by the admin)."""

    list_display = ["__str__", "transfer_enabled", "updated_at"]
    fields = ["transfer_enabled", "updated_at"]
    readonly_fields = ["updated_at"]

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not PointsPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        PointsPolicy.current()  # the row exists before anybody looks for it
        return super().changelist_view(request, extra_context)
