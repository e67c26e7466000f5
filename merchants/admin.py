"""Read-only admin for merchants and their history.

Every change goes through ``merchants.services`` (the console and the API call them); the admin
only lets staff look. Settlement accounts appear masked; the encrypted columns are never shown.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import (
    FeePlan,
    Merchant,
    MerchantApplication,
    ProfileChange,
    StatusChange,
    Store,
    Visit,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class StatusChangeInline(admin.TabularInline):
    model = StatusChange
    fields = ["created_at", "from_status", "to_status", "actor", "reason"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(FeePlan)
class FeePlanAdmin(ReadOnlyAdmin):
    list_display = ["name", "rate_bp", "is_active", "created_at"]
    list_filter = ["is_active"]


@admin.register(MerchantApplication)
class MerchantApplicationAdmin(ReadOnlyAdmin):
    list_display = ["pk", "business_name", "status", "branch", "submitted_at", "decided_at"]
    list_filter = ["status", "category"]
    list_select_related = ["branch"]
    search_fields = ["business_name", "credit_code"]
    exclude = ["settlement_account_name", "settlement_account_number"]
    readonly_fields = ["masked_account"]
    inlines = [StatusChangeInline]

    @admin.display(description=_("settlement account number"))
    def masked_account(self, obj):
        return obj.masked_account_number


@admin.register(Merchant)
class MerchantAdmin(ReadOnlyAdmin):
    list_display = ["code", "business_name", "category", "status", "fee_plan", "created_at"]
    list_filter = ["status", "category", "fee_plan"]
    list_select_related = ["fee_plan"]
    search_fields = ["code", "business_name", "credit_code"]
    exclude = ["settlement_account_name", "settlement_account_number"]
    readonly_fields = ["masked_account"]
    inlines = [StatusChangeInline]

    @admin.display(description=_("settlement account number"))
    def masked_account(self, obj):
        return obj.masked_account_number


@admin.register(Store)
class StoreAdmin(ReadOnlyAdmin):
    list_display = ["name", "merchant", "branch", "address"]
    list_select_related = ["merchant", "branch"]
    search_fields = ["name", "address", "merchant__code"]


@admin.register(Visit)
class VisitAdmin(ReadOnlyAdmin):
    list_display = ["visited_on", "merchant", "kind", "author", "branch", "follow_up_on"]
    list_filter = ["kind"]
    list_select_related = ["merchant", "author", "branch"]


@admin.register(ProfileChange)
class ProfileChangeAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "merchant", "status", "fields", "actor"]
    list_filter = ["status"]
    exclude = ["proposal"]
