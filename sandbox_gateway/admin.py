"""The sandbox's books in the admin, read-only: what the channel did and sent, for a developer
looking into a payment. Changes go through ``services`` (a test, a bench), not here."""

from django.contrib import admin

from .models import Bill, Delivery, DeliveryAttempt, Fault, Refund, Trade


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Trade)
class TradeAdmin(ReadOnly):
    list_display = [
        "out_trade_no",
        "sp_mchid",
        "sub_mchid",
        "total_fen",
        "state",
        "paid_at",
        "created_at",
    ]
    list_filter = ["state", "sp_mchid"]
    search_fields = ["out_trade_no", "prepay_id", "transaction_id", "sub_mchid"]


@admin.register(Refund)
class RefundAdmin(ReadOnly):
    list_display = ["out_refund_no", "trade", "refund_fen", "status", "created_at", "succeeded_at"]
    list_filter = ["status"]
    search_fields = ["out_refund_no", "refund_id", "trade__out_trade_no"]


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["number", "at", "status_code", "response_body", "error"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnly):
    list_display = [
        "event_type",
        "trade",
        "copy",
        "status",
        "attempts",
        "next_attempt_at",
        "delivered_at",
    ]
    list_filter = ["status", "event_type"]
    search_fields = ["event_id", "trade__out_trade_no"]
    inlines = [AttemptInline]


@admin.register(Fault)
class FaultAdmin(ReadOnly):
    list_display = [
        "out_trade_no",
        "duplicate",
        "delay_s",
        "reorder",
        "corrupt_signature",
        "never_notify",
    ]


@admin.register(Bill)
class BillAdmin(ReadOnly):
    list_display = ["bill_date", "sp_mchid", "sub_mchid", "sha1", "created_at"]
    exclude = ["token"]
