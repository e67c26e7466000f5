"""Points API: the customer's balance and history; head-office adjustments and any customer's
history.

Views parse input, call one selector or service and render. Refusals have the common body
``{"code", "message", "extra"}`` (``alliance.errors``). Branch staff do not see customers'
points yet: that view is scoped by the grid's merchants, which needs merchant payments.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import roles
from accounts.access import IsBankStaff, IsCustomer, IsHeadOffice
from alliance.errors import ErrorSerializer, Forbidden

from . import selectors
from .errors import IdempotencyKeyRequired
from .forms import MAX_ADJUST_POINTS
from .views import HISTORY_PAGE_SIZE, adjust_once

IDEMPOTENCY_HEADER = "Idempotency-Key"

_403 = OpenApiResponse(ErrorSerializer, description="`permission_denied`, `not_authenticated`")


# --- Serializers ------------------------------------------------------------------------------


class TierOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    threshold_fen = serializers.IntegerField(help_text="12-month spending that reaches it, fen.")
    multiplier_percent = serializers.IntegerField(help_text="Points multiplier, percent.")


class ProgressOutput(serializers.Serializer):
    spending_fen = serializers.IntegerField(help_text="Qualifying spending, rolling 12 months.")
    next_tier = TierOutput(allow_null=True, help_text="null: already in the highest tier.")
    remaining_fen = serializers.IntegerField(help_text="Still to spend to reach the next tier.")
    percent = serializers.IntegerField(help_text="0-100: spending as a share of the next threshold.")


class ExpiringOutput(serializers.Serializer):
    expires_at = serializers.DateTimeField(help_text="The points are gone from this instant.")
    points = serializers.IntegerField()


class BalanceOutput(serializers.Serializer):
    usable = serializers.IntegerField(help_text="Points that can be spent now.")
    pending = serializers.IntegerField(help_text="Points from recent payments, not usable yet.")
    expiring_soon = ExpiringOutput(many=True, source="expiring")
    expiring_soon_points = serializers.IntegerField(source="expiring_points")
    expiring_soon_days = serializers.IntegerField(source="expiring_days")
    tier = TierOutput(allow_null=True)
    progress = ProgressOutput()


class HistoryRowOutput(serializers.Serializer):
    id = serializers.IntegerField(source="entry_id")
    kind = serializers.CharField(help_text="earn, make_available, cancel_pending, spend, refund, "
                                 "expire, adjust, transfer")
    kind_label = serializers.CharField(help_text="The kind, in the request's language.")
    posted_at = serializers.DateTimeField()
    points = serializers.IntegerField(help_text="Change of usable points (signed).")
    pending_points = serializers.IntegerField(help_text="Change of pending points (signed).")
    description = serializers.CharField(help_text="What happened, in plain language.")
    merchant_name = serializers.CharField()
    reference_type = serializers.CharField(help_text='"payment", "coupon", "adjustment", "lot" or ""')
    reference_id = serializers.IntegerField(allow_null=True)
    reference_label = serializers.CharField(help_text='e.g. "Payment no. 1234"; "" if none.')


class AdjustmentInput(serializers.Serializer):
    customer_id = serializers.IntegerField(required=False, min_value=1)
    phone = serializers.CharField(required=False, max_length=32,
                                  help_text="The customer's mobile number (instead of customer_id).")
    points = serializers.IntegerField(min_value=-MAX_ADJUST_POINTS, max_value=MAX_ADJUST_POINTS,
                                      help_text="Signed, not zero: + adds, - takes (FIFO).")
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200, default="",
                                   help_text="Required (`reason_required`); kept in the audit "
                                   "trail and shown to the customer.")

    def validate_points(self, value: int) -> int:
        if value == 0:
            raise serializers.ValidationError(_("Enter a number of points other than zero."))
        return value

    def validate(self, data: dict) -> dict:
        if ("customer_id" in data) == ("phone" in data):
            raise serializers.ValidationError(_("Give either customer_id or phone."))
        return data


class AdjustmentOutput(serializers.Serializer):
    id = serializers.IntegerField(source="entry.pk")
    customer_id = serializers.IntegerField()
    points = serializers.IntegerField()
    reason = serializers.CharField(source="entry.reason")
    posted_at = serializers.DateTimeField(source="entry.posted_at")
    usable = serializers.IntegerField(help_text="The customer's usable points now.")


# --- Views ------------------------------------------------------------------------------------


class HistoryPagination(PageNumberPagination):
    page_size = HISTORY_PAGE_SIZE


class BalanceApi(APIView):
    permission_classes = [IsCustomer]

    @extend_schema(
        summary="My points: usable, pending, expiring soon, tier and progress",
        responses={200: BalanceOutput, 403: _403},
        tags=["points"],
    )
    def get(self, request):
        return Response(BalanceOutput(selectors.points_summary(customer_id=request.user.pk)).data)


class _HistoryApi(generics.ListAPIView):
    serializer_class = HistoryRowOutput
    pagination_class = HistoryPagination

    def paginate_queryset(self, queryset):
        return selectors.history_rows(super().paginate_queryset(queryset))


@extend_schema(summary="My points history, newest first", tags=["points"],
               responses={200: HistoryRowOutput(many=True), 403: _403})
class HistoryApi(_HistoryApi):
    permission_classes = [IsCustomer]

    def get_queryset(self):
        return selectors.customer_history(customer_id=self.request.user.pk)


@extend_schema(
    summary="A customer's points history (head office)",
    description="Head office: any customer. Branch staff are refused for now: they will see "
    "customers as far as their grid's merchants need, once merchant payments exist.",
    tags=["points"],
    responses={
        200: HistoryRowOutput(many=True), 403: _403,
        404: OpenApiResponse(ErrorSerializer, description="`customer_not_found`"),
    },
)
class CustomerHistoryApi(_HistoryApi):
    permission_classes = [IsBankStaff]

    def get_queryset(self):
        if not roles.is_head_office(self.request.user):
            raise Forbidden(_("Branch staff cannot see customers' points yet."))
        customer = selectors.customer_find(customer_id=self.kwargs["customer_id"])
        return selectors.customer_history(customer_id=customer.pk)


class AdjustmentApi(APIView):
    permission_classes = [IsHeadOffice]

    @extend_schema(
        summary="Adjust a customer's points (head office)",
        description="Idempotent: send a unique `Idempotency-Key` header (1-64 letters, digits "
        "or hyphens). A retry with the same key and body answers 200 with the same entry; the "
        "same key with a different body is `idempotency_key_reused`.",
        parameters=[OpenApiParameter(IDEMPOTENCY_HEADER, str, OpenApiParameter.HEADER,
                                     required=True)],
        request=AdjustmentInput,
        responses={
            201: AdjustmentOutput,
            200: OpenApiResponse(AdjustmentOutput, description="A retry: the entry already made."),
            400: OpenApiResponse(ErrorSerializer, description="`invalid`, "
                                 "`idempotency_key_required`, `idempotency_key_reused`, "
                                 "`points_insufficient`, `reason_required`, `invalid_phone`"),
            403: _403,
            404: OpenApiResponse(ErrorSerializer, description="`customer_not_found`"),
        },
        tags=["points"],
    )
    def post(self, request):
        key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
        if not key:
            raise IdempotencyKeyRequired()
        if len(key) > 64 or not key.replace("-", "").isascii() or not key.replace("-", "").isalnum():
            raise serializers.ValidationError(
                {IDEMPOTENCY_HEADER: [_("Use 1 to 64 letters, digits or hyphens.")]}
            )
        data = AdjustmentInput(data=request.data)
        data.is_valid(raise_exception=True)
        data = data.validated_data
        customer = selectors.customer_find(
            customer_id=data.get("customer_id"), phone=data.get("phone", "")
        )
        adjustment, created = adjust_once(
            actor=request.user, customer_id=customer.pk, points=data["points"],
            reason=data["reason"], client_key=key,
        )
        body = {
            "entry": adjustment.entry, "customer_id": adjustment.customer_id,
            "points": adjustment.points,
            "usable": selectors.usable_points(customer_id=customer.pk),
        }
        return Response(
            AdjustmentOutput(body).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )
