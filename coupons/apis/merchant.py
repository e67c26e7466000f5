"""Merchant API of coupons: templates (券批次) and their actions, verifying at the counter (核销),
undo, void, today's verifications. Mounted under /api/coupons/merchant/.

Views parse, call one service or selector and render; every rule lives in
``coupons.services``. Money is integer fen (``_fen``). Scope is the caller's merchant: another
merchant's template or verification is a 404 (``not_in_your_grid``); another merchant's coupon
at the counter is ``coupon_other_merchant`` (403), so the cashier is told plainly. Cashiers read
and verify; the owner writes (cashiers get ``permission_denied``).
"""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import IsMerchant
from alliance.errors import ErrorSerializer, NotFound
from merchants.models import MerchantStaff
from merchants.selectors import membership_for

from .. import services
from ..models import Coupon, CouponTemplate, TemplateChange, Verification
from ..selectors import merchant as selectors

ERRORS = {
    400: OpenApiResponse(
        ErrorSerializer,
        description="`invalid` (with `extra.fields`), `reason_required`, `unsafe_edit`, "
        "`stock_below_claimed`, `coupon_token_invalid`, `coupon_token_expired`",
    ),
    403: OpenApiResponse(
        ErrorSerializer, description="`permission_denied` (cashier), `coupon_other_merchant`"
    ),
    404: OpenApiResponse(
        ErrorSerializer, description="`not_found`, `not_in_your_grid`, `coupon_not_found`"
    ),
    409: OpenApiResponse(
        ErrorSerializer,
        description="`invalid_transition`, `coupon_already_used`, `coupon_expired`, "
        "`coupon_not_usable` (`extra.reason`), `undo_window_passed`",
    ),
}


def _membership(request) -> MerchantStaff:
    membership = membership_for(request.user)
    if membership is None:
        raise NotFound()
    return membership


def parse(serializer_class, request, **kwargs) -> dict:
    data = serializer_class(data=request.data, **kwargs)
    data.is_valid(raise_exception=True)
    return dict(data.validated_data)


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
    """The scanned QR (``token``) or the typed ``code``; ``store_id`` where it is used."""

    token = serializers.CharField(required=False, allow_blank=True, max_length=200)
    code = serializers.CharField(required=False, allow_blank=True, max_length=40)
    store_id = serializers.IntegerField(required=False, allow_null=True, default=None)


class MerchantInspectionOutput(serializers.Serializer):
    coupon = MerchantCouponSummary()
    usable = serializers.BooleanField()
    reason = serializers.CharField(allow_null=True, help_text="Why not usable, or null.")
    message = serializers.CharField(allow_blank=True)


class MerchantConfirmInput(serializers.Serializer):
    """``idempotency_key`` here or in the ``Idempotency-Key`` header (8 to 64 characters)."""

    code = serializers.CharField(max_length=40)
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


# --- Templates ----------------------------------------------------------------------------------


def _template_response(request, membership, template_id: int, *, code=status.HTTP_200_OK):
    row = selectors.template_row(membership, template_id)
    context = {"request": request, "numbers": {row.template.pk: row.numbers}}
    return Response(MerchantTemplateOutput(row.template, context=context).data, status=code)


class TemplateListApi(APIView):
    permission_classes = [IsMerchant]

    @extend_schema(
        summary="My merchant's templates with claimed / verified / expired and conversion",
        responses={200: MerchantTemplateOutput(many=True), **ERRORS},
    )
    def get(self, request):
        rows = selectors.template_rows(_membership(request))
        context = {"request": request, "numbers": {r.template.pk: r.numbers for r in rows}}
        return Response(
            MerchantTemplateOutput([r.template for r in rows], many=True, context=context).data
        )

    @extend_schema(
        summary="Write a new template (owner): a draft",
        request=MerchantTemplateInput,
        responses={201: MerchantTemplateOutput, **ERRORS},
    )
    def post(self, request):
        membership = _membership(request)
        data = services.TemplateFields(**parse(MerchantTemplateInput, request))
        template = services.template_create(actor=request.user, data=data)
        return _template_response(request, membership, template.pk, code=status.HTTP_201_CREATED)


class TemplateDetailApi(APIView):
    permission_classes = [IsMerchant]

    @extend_schema(
        summary="One template with its numbers", responses={200: MerchantTemplateOutput, **ERRORS}
    )
    def get(self, request, pk: int):
        return _template_response(request, _membership(request), pk)

    def _update(self, request, pk: int, *, partial: bool):
        membership = _membership(request)
        template = selectors.template_get(membership, pk)
        changes = parse(MerchantTemplateInput, request, partial=partial)
        base = selectors.template_fields_of(template)
        for name, value in changes.items():
            setattr(base, name, value)
        services.template_update(actor=request.user, template_id=pk, data=base)
        return _template_response(request, membership, pk)

    @extend_schema(
        summary="Replace a template (owner; after approval only title and description: "
        "`unsafe_edit`)",
        request=MerchantTemplateInput,
        responses={200: MerchantTemplateOutput, **ERRORS},
    )
    def put(self, request, pk: int):
        return self._update(request, pk, partial=False)

    @extend_schema(
        summary="Change some fields of a template (owner; after approval only title and "
        "description: `unsafe_edit`)",
        request=MerchantTemplateInput,
        responses={200: MerchantTemplateOutput, **ERRORS},
    )
    def patch(self, request, pk: int):
        return self._update(request, pk, partial=True)


class TemplateHistoryApi(APIView):
    permission_classes = [IsMerchant]

    @extend_schema(
        summary="A template's history: every transition and edit, oldest first",
        responses={200: MerchantTemplateChangeOutput(many=True), **ERRORS},
    )
    def get(self, request, pk: int):
        template = selectors.template_get(_membership(request), pk)
        return Response(
            MerchantTemplateChangeOutput(selectors.template_history(template), many=True).data
        )


TEMPLATE_ACTIONS = {
    "submit": services.template_submit,
    "publish": services.template_publish,
    "pause": services.template_pause,
    "resume": services.template_resume,
    "end": services.template_end,
}


class TemplateActionApi(APIView):
    permission_classes = [IsMerchant]

    @extend_schema(
        summary="submit, publish, pause, resume or end a template (owner)",
        operation_id="coupons_merchant_template_action",
        parameters=[
            OpenApiParameter("action", str, OpenApiParameter.PATH, enum=list(TEMPLATE_ACTIONS))
        ],
        request=MerchantReasonInput,
        responses={200: MerchantTemplateOutput, **ERRORS},
    )
    def post(self, request, pk: int, action: str):
        membership = _membership(request)
        service = TEMPLATE_ACTIONS.get(action)
        if service is None:
            raise NotFound()
        kwargs = {"actor": request.user, "template_id": pk}
        if action in ("pause", "end"):
            kwargs["reason"] = parse(MerchantReasonInput, request)["reason"]
        service(**kwargs)
        return _template_response(request, membership, pk)


class TemplateAddStockApi(APIView):
    permission_classes = [IsMerchant]

    @extend_schema(
        summary="Add stock (owner; never removes what is claimed)",
        request=MerchantAddStockInput,
        responses={200: MerchantTemplateOutput, **ERRORS},
    )
    def post(self, request, pk: int):
        membership = _membership(request)
        more = parse(MerchantAddStockInput, request)["more"]
        services.template_add_stock(actor=request.user, template_id=pk, more=more)
        return _template_response(request, membership, pk)


class TemplateSetStockApi(APIView):
    permission_classes = [IsMerchant]

    @extend_schema(
        summary="Set the total stock (owner; `stock_below_claimed`; after approval only up)",
        request=MerchantSetStockInput,
        responses={200: MerchantTemplateOutput, **ERRORS},
    )
    def post(self, request, pk: int):
        membership = _membership(request)
        total = parse(MerchantSetStockInput, request)["total_stock"]
        services.template_set_stock(actor=request.user, template_id=pk, total_stock=total)
        return _template_response(request, membership, pk)


# --- Verify at the counter ----------------------------------------------------------------------


class VerifyInspectApi(APIView):
    permission_classes = [IsMerchant]

    @extend_schema(
        summary="What a scanned or typed coupon is, and whether it can be used here and now",
        request=MerchantInspectInput,
        responses={200: MerchantInspectionOutput, **ERRORS},
    )
    def post(self, request):
        _membership(request)
        data = parse(MerchantInspectInput, request)
        inspection = services.coupon_inspect(
            actor=request.user,
            code=data.get("code") or None,
            token=data.get("token") or None,
            store_id=data["store_id"],
        )
        body = {
            "coupon": inspection.coupon,
            "usable": inspection.usable,
            "reason": inspection.reason,
            "message": inspection.message,
        }
        return Response(MerchantInspectionOutput(body).data)


class VerifyConfirmApi(APIView):
    permission_classes = [IsMerchant]

    @extend_schema(
        summary="Use a coupon (idempotent: the same key returns the same verification)",
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="Or `idempotency_key` in the body.",
            )
        ],
        request=MerchantConfirmInput,
        responses={
            201: OpenApiResponse(MerchantVerificationOutput, description="Verified now."),
            200: OpenApiResponse(MerchantVerificationOutput, description="Repeat of the same key."),
            **ERRORS,
        },
    )
    def post(self, request):
        membership = _membership(request)
        data = parse(MerchantConfirmInput, request)
        key = request.headers.get("Idempotency-Key") or data.get("idempotency_key") or ""
        # Only says which status to answer; the service alone decides, under its lock.
        repeat = selectors.verification_by_key(membership, key) is not None
        verification = services.coupon_verify(
            actor=request.user, code=data["code"], idempotency_key=key, store_id=data["store_id"]
        )
        verification = selectors.verification_get(membership, verification.pk)
        code = status.HTTP_200_OK if repeat else status.HTTP_201_CREATED
        return Response(MerchantVerificationOutput(verification).data, status=code)


class VerificationListApi(APIView):
    permission_classes = [IsMerchant]

    @extend_schema(
        summary="Today's verifications of my merchant, newest first (at most 200)",
        responses={200: MerchantVerificationOutput(many=True), **ERRORS},
    )
    def get(self, request):
        verifications = selectors.verifications_today(_membership(request))[:200]
        return Response(MerchantVerificationOutput(verifications, many=True).data)


class VerificationUndoApi(APIView):
    permission_classes = [IsMerchant]

    @extend_schema(
        summary="Undo a verification within the window (owner; reason required)",
        request=MerchantReasonInput,
        responses={200: MerchantVerificationOutput, **ERRORS},
    )
    def post(self, request, pk: int):
        membership = _membership(request)
        reason = parse(MerchantReasonInput, request)["reason"]
        services.verification_undo(actor=request.user, verification_id=pk, reason=reason)
        return Response(MerchantVerificationOutput(selectors.verification_get(membership, pk)).data)


class CouponVoidApi(APIView):
    permission_classes = [IsMerchant]

    @extend_schema(
        summary="Void an unused coupon of mine (owner; reason required)",
        request=MerchantReasonInput,
        responses={200: MerchantCouponSummary, **ERRORS},
    )
    def post(self, request, pk: int):
        _membership(request)
        reason = parse(MerchantReasonInput, request)["reason"]
        coupon = services.coupon_void(actor=request.user, coupon_id=pk, reason=reason)
        coupon = Coupon.objects.select_related("template", "customer").get(pk=coupon.pk)
        return Response(MerchantCouponSummary(coupon).data)
