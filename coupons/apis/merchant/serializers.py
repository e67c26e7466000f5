"""The merchant API's serializers (names prefixed ``Merchant`` for the schema)."""

from __future__ import annotations

from drf_spectacular.utils import (
    extend_schema_field,
)
from rest_framework import serializers

from ...models import Coupon, CouponTemplate, TemplateChange, Verification
from ...selectors import merchant as selectors

# --- Serializers ------------------------------------------------------------------------------


class MerchantTemplateInput(serializers.Serializer):
    """What the owner writes. Money in integer fen; times ISO 8601 (local: Asia/Shanghai);
    ``weekdays`` a bitmask (bit 0 = Monday, 127 = every day); ``time_slots`` local
    ``[["11:00", "14:00"], ...]`` (empty = all day). The service checks the rules."""

    kind = serializers.ChoiceField(choices=CouponTemplate.Kind.choices)
    title = serializers.CharField(max_length=60)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    discount_fen = serializers.IntegerField(required=False, min_value=0)
    min_spend_fen = serializers.IntegerField(required=False, min_value=0)
    pay_percent = serializers.IntegerField(required=False, allow_null=True)
    cap_fen = serializers.IntegerField(required=False, min_value=0)
    price_fen = serializers.IntegerField(required=False, min_value=0)
    points_price = serializers.IntegerField(required=False, min_value=0)
    gift_item = serializers.CharField(required=False, allow_blank=True, max_length=60)
    obtain = serializers.ChoiceField(required=False, choices=CouponTemplate.Obtain.choices)
    campaign_id = serializers.IntegerField(required=False, allow_null=True)
    refund_any_time = serializers.BooleanField(required=False)
    refund_on_expiry = serializers.BooleanField(required=False)
    store_ids = serializers.ListField(child=serializers.IntegerField(), allow_empty=True)
    total_stock = serializers.IntegerField()
    per_customer_limit = serializers.IntegerField(required=False)
    daily_cap = serializers.IntegerField(required=False, allow_null=True)
    claim_start = serializers.DateTimeField()
    claim_end = serializers.DateTimeField()
    validity = serializers.ChoiceField(choices=CouponTemplate.Validity.choices)
    valid_from = serializers.DateTimeField(required=False, allow_null=True)
    valid_until = serializers.DateTimeField(required=False, allow_null=True)
    valid_days = serializers.IntegerField(required=False, allow_null=True)
    start_delay_days = serializers.IntegerField(required=False)
    weekdays = serializers.IntegerField(required=False)
    time_slots = serializers.ListField(
        child=serializers.ListField(
            child=serializers.CharField(max_length=5), min_length=2, max_length=2
        ),
        required=False,
    )


class MerchantNumbersOutput(serializers.Serializer):
    claimed = serializers.IntegerField()
    verified = serializers.IntegerField()
    expired = serializers.IntegerField()
    conversion_percent = serializers.IntegerField(allow_null=True)


class MerchantTemplateOutput(serializers.ModelSerializer):
    store_ids = serializers.SerializerMethodField()
    value_text = serializers.SerializerMethodField()
    numbers = serializers.SerializerMethodField()

    class Meta:
        model = CouponTemplate
        fields = [
            "id",
            "kind",
            "title",
            "description",
            "image",
            "value_text",
            "discount_fen",
            "min_spend_fen",
            "pay_percent",
            "cap_fen",
            "price_fen",
            "points_price",
            "gift_item",
            "obtain",
            "funded_by",
            "campaign",
            "refund_any_time",
            "refund_on_expiry",
            "store_ids",
            "total_stock",
            "stock_left",
            "per_customer_limit",
            "daily_cap",
            "claim_start",
            "claim_end",
            "validity",
            "valid_from",
            "valid_until",
            "valid_days",
            "start_delay_days",
            "weekdays",
            "time_slots",
            "status",
            "decision_reason",
            "published_at",
            "created_at",
            "updated_at",
            "numbers",
        ]
        read_only_fields = fields

    def get_store_ids(self, template) -> list[int]:
        return sorted(s.pk for s in template.stores.all())

    def get_value_text(self, template) -> str:
        return selectors.value_text(template)

    @extend_schema_field(MerchantNumbersOutput)
    def get_numbers(self, template) -> dict:
        numbers = self.context.get("numbers", {}).get(template.pk, selectors.TemplateNumbers())
        return MerchantNumbersOutput(numbers).data


class MerchantTemplateChangeOutput(serializers.ModelSerializer):
    actor = serializers.StringRelatedField()

    class Meta:
        model = TemplateChange
        fields = ["id", "from_status", "to_status", "fields", "reason", "actor", "created_at"]
        read_only_fields = fields


class MerchantReasonInput(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class MerchantAddStockInput(serializers.Serializer):
    more = serializers.IntegerField()


class MerchantSetStockInput(serializers.Serializer):
    total_stock = serializers.IntegerField()


class MerchantCouponSummary(serializers.ModelSerializer):
    template_id = serializers.IntegerField()
    title = serializers.CharField(source="template.title")
    kind = serializers.CharField(source="template.kind")
    value_text = serializers.SerializerMethodField()
    customer_phone = serializers.CharField(source="customer.masked_phone")

    class Meta:
        model = Coupon
        fields = [
            "id",
            "code",
            "status",
            "template_id",
            "title",
            "kind",
            "value_text",
            "customer_phone",
            "valid_from",
            "valid_until",
        ]
        read_only_fields = fields

    def get_value_text(self, coupon) -> str:
        return selectors.value_text(coupon.template)


class MerchantInspectInput(serializers.Serializer):
    """The scanned QR (``token``) or the typed ``code`` (the 18 digits under the customer's QR,
    the 20 of the phone's offline code or its QR, or a token a scanner typed); ``store_id``
    where it is used. The coupon's permanent code is refused (``invalid_input``): it never
    expires. To confirm an offline code, send that code itself (each verifies once)."""

    token = serializers.CharField(required=False, allow_blank=True, max_length=200)
    code = serializers.CharField(required=False, allow_blank=True, max_length=200)
    store_id = serializers.IntegerField(required=False, allow_null=True, default=None)


class MerchantInspectionOutput(serializers.Serializer):
    coupon = MerchantCouponSummary()
    usable = serializers.BooleanField()
    reason = serializers.CharField(allow_null=True, help_text="Why not usable, or null.")
    message = serializers.CharField(allow_blank=True)


class MerchantConfirmInput(serializers.Serializer):
    """``code``: the token or digits the inspection took (as there: never the permanent code);
    ``idempotency_key`` here or in the ``Idempotency-Key`` header (8 to 64 characters)."""

    code = serializers.CharField(max_length=200)
    store_id = serializers.IntegerField(required=False, allow_null=True, default=None)
    idempotency_key = serializers.CharField(required=False, allow_blank=True, max_length=64)


class MerchantVerificationOutput(serializers.ModelSerializer):
    coupon = MerchantCouponSummary()
    verified_by = serializers.StringRelatedField()
    undone_by = serializers.StringRelatedField()

    class Meta:
        model = Verification
        fields = [
            "id",
            "coupon",
            "store",
            "verified_by",
            "created_at",
            "undone_at",
            "undone_by",
            "undo_reason",
        ]
        read_only_fields = fields
