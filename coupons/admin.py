"""Read-only admin for coupons, campaigns and their history.

Every change goes through ``coupons.services`` (the console, the dashboard and the API call
them): the admin only lets head office look, and nobody adds, changes or deletes a row here.
Customers appear by their masked phone.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts import access, roles
from accounts.phones import mask_phone
from alliance.templatetags.alliance import fen

from .models import Campaign, CampaignEntry, Coupon, CouponTemplate, TemplateChange, Verification


def _head_office(request) -> bool:
    return roles.is_head_office(request.user) and access.second_factor_ok(request.user)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Head office reads; nobody writes through the admin."""

    def has_module_permission(self, request):
        return _head_office(request)

    def has_view_permission(self, request, obj=None):
        return _head_office(request)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_view_permission(self, request, obj=None):
        return _head_office(request)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _masked(user) -> str:
    return mask_phone(user.phone) if user is not None else ""


class TemplateChangeInline(ReadOnlyInline):
    model = TemplateChange
    fields = ["created_at", "from_status", "to_status", "actor", "reason", "fields"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


@admin.register(CouponTemplate)
class CouponTemplateAdmin(ReadOnlyAdmin):
    list_display = [
        "pk",
        "title",
        "merchant",
        "kind",
        "status",
        "stock",
        "funded_by",
        "campaign",
        "claim_start",
        "claim_end",
    ]
    list_filter = ["status", "kind", "obtain", "funded_by"]
    list_select_related = ["merchant", "campaign"]
    search_fields = ["title", "merchant__code", "merchant__business_name"]
    date_hierarchy = "created_at"
    inlines = [TemplateChangeInline]

    @admin.display(description=_("stock left"))
    def stock(self, template):
        return f"{template.stock_left} / {template.total_stock}"


@admin.register(TemplateChange)
class TemplateChangeAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "template", "from_status", "to_status", "actor", "reason"]
    list_filter = ["to_status"]
    list_select_related = ["template", "actor"]
    search_fields = ["=template__pk", "template__title", "reason"]


@admin.register(Coupon)
class CouponAdmin(ReadOnlyAdmin):
    list_display = [
        "pk",
        "template",
        "customer_phone",
        "status",
        "claimed_at",
        "valid_until",
        "closed_at",
    ]
    list_filter = ["status"]
    list_select_related = ["template", "customer"]
    search_fields = ["=code", "customer__phone", "template__title"]
    date_hierarchy = "claimed_at"
    exclude = ["customer", "claim_key", "code"]
    readonly_fields = ["customer_phone"]

    @admin.display(description=_("customer"), ordering="customer__phone")
    def customer_phone(self, coupon):
        return _masked(coupon.customer)


class CampaignEntryInline(ReadOnlyInline):
    model = CampaignEntry
    fields = ["created_at", "kind", "coupon", "amount_fen"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("coupon")


@admin.register(Campaign)
class CampaignAdmin(ReadOnlyAdmin):
    list_display = [
        "name",
        "branch",
        "budget",
        "reserved",
        "spent",
        "available",
        "is_active",
        "created_at",
    ]
    list_filter = ["is_active", "branch"]
    list_select_related = ["branch"]
    search_fields = ["name"]

    @admin.display(description=_("budget"), ordering="budget_fen")
    def budget(self, campaign):
        return fen(campaign.budget_fen)

    @admin.display(description=_("reserved"), ordering="reserved_fen")
    def reserved(self, campaign):
        return fen(campaign.reserved_fen)

    @admin.display(description=_("spent"), ordering="spent_fen")
    def spent(self, campaign):
        return fen(campaign.spent_fen)

    @admin.display(description=_("available"))
    def available(self, campaign):
        return fen(campaign.available_fen)


@admin.register(CampaignEntry)
class CampaignEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "campaign", "kind", "coupon", "amount"]
    list_filter = ["kind"]
    list_select_related = ["campaign", "coupon__template"]
    search_fields = ["=campaign__pk", "campaign__name", "=coupon__pk"]

    @admin.display(description=_("amount"), ordering="amount_fen")
    def amount(self, entry):
        return fen(entry.amount_fen)


@admin.register(Verification)
class VerificationAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "coupon", "merchant", "store", "verified_by", "undone_at"]
    list_filter = ["undone_at"]
    list_select_related = ["coupon__template", "merchant", "store", "verified_by"]
    search_fields = ["=coupon__code", "merchant__code"]
    date_hierarchy = "created_at"
    exclude = ["idempotency_key"]
