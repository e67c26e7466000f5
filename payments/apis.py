"""Payments API: the channels' notify endpoint, and orders and refunds for customers' and
merchants' apps.

Views parse input, call one selector or service and render. Refusals have the common body
``{"code", "message", "extra"}``; the notify endpoint answers in the channel's own protocol.
"""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from alliance.errors import ErrorSerializer

from . import selectors, services
from .gateways import GatewayError
from .models import PaymentOrder, Refund
from .services.orders import channel_codes

IDEMPOTENCY_HEADER = "Idempotency-Key"


@csrf_exempt
@require_POST
def notify(request, channel: str):
    """Where a channel POSTs its payment and refund notifications (no session, no CSRF: the
    channel's signature is the authentication; see ``services.notification_receive``)."""
    if channel not in channel_codes():
        raise Http404()
    try:
        status_code, body, content_type = services.notification_receive(
            channel=channel, headers=request.headers, body=request.body
        )
    except GatewayError:
        raise Http404() from None
    response = HttpResponse(body, status=status_code)
    if content_type:
        response["Content-Type"] = content_type
    return response


# --- Serializers ------------------------------------------------------------------------------


class RefundOutput(serializers.ModelSerializer):
    class Meta:
        model = Refund
        fields = ["out_refund_no", "amount_fen", "status", "reason", "automatic",
                  "points_returned", "points_reversed", "points_shortfall", "coupon_restored",
                  "created_at", "succeeded_at"]


class OrderOutput(serializers.ModelSerializer):
    merchant_name = serializers.CharField(source="merchant.business_name")
    store_name = serializers.CharField(source="store.name")
    refunds = RefundOutput(many=True, read_only=True)

    class Meta:
        model = PaymentOrder
        fields = ["out_trade_no", "status", "merchant_name", "store_name", "gross_fen",
                  "coupon_discount_fen", "points_used", "points_fen", "amount_fen", "channel",
                  "pay_url", "expires_at", "paid_at", "closed_at", "late_payment",
                  "points_earned", "refunded_fen", "refund_pending_fen", "created_at", "refunds"]


class OrderInput(serializers.Serializer):
    qr_token = serializers.CharField(max_length=64)
    amount_fen = serializers.IntegerField(required=False, allow_null=True,
                                          help_text="The bill; ignored for a one-off QR")
    channel = serializers.CharField(max_length=16, required=False, default="")
    coupon_id = serializers.IntegerField(required=False, allow_null=True)
    points = serializers.IntegerField(required=False, default=0, min_value=0)


class RefundInput(serializers.Serializer):
    amount_fen = serializers.IntegerField(min_value=0)
    reason = serializers.CharField(max_length=200)


def _key(request) -> str:
    return request.headers.get(IDEMPOTENCY_HEADER, "")


class OrderCreateApi(APIView):
    """Create a payment from a payment QR (signed in as a customer to use coupons and points;
    anybody may pay without). Sends back where to pay (``pay_url``), or a paid order when
    coupon and points paid it all. ``Idempotency-Key`` header required."""

    permission_classes = [AllowAny]

    @extend_schema(
        request=OrderInput,
        responses={201: OrderOutput, 400: ErrorSerializer, 403: ErrorSerializer,
                   404: ErrorSerializer, 409: ErrorSerializer, 503: ErrorSerializer},
    )
    def post(self, request):
        data = OrderInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        order = services.order_create(
            payer=request.user, qr_token=v["qr_token"], gross_fen=v.get("amount_fen"),
            channel=v["channel"], idempotency_key=_key(request), coupon_id=v.get("coupon_id"),
            points=v["points"],
        )
        if order.status == PaymentOrder.Status.CREATED:
            order = services.order_start_payment(order_id=order.pk)
        order = (
            PaymentOrder.objects.select_related("merchant", "store")
            .prefetch_related("refunds")
            .get(pk=order.pk)
        )
        return Response(OrderOutput(order).data, status=status.HTTP_201_CREATED)


class OrderDetailApi(APIView):
    """One payment, for the customer who made it or the merchant's staff."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: OrderOutput, 404: ErrorSerializer})
    def get(self, request, out_trade_no: str):
        order = selectors.order_for_viewer(request.user, out_trade_no)
        return Response(OrderOutput(order).data)


class RefundCreateApi(APIView):
    """The merchant's owner refunds (part of) a payment. ``Idempotency-Key`` header
    required; the refund is asynchronous (``pending``/``processing``, then ``succeeded``)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=RefundInput,
        responses={201: RefundOutput, 400: ErrorSerializer, 403: ErrorSerializer,
                   404: OpenApiResponse(ErrorSerializer, description="`payment_not_found`"),
                   409: OpenApiResponse(ErrorSerializer,
                                        description="`refund_exceeds_paid`, `refund_window_passed`, "
                                        "`refund_not_allowed`")},
    )
    def post(self, request, out_trade_no: str):
        data = RefundInput(data=request.data)
        data.is_valid(raise_exception=True)
        refund = services.refund_request(
            actor=request.user, out_trade_no=out_trade_no,
            amount_fen=data.validated_data["amount_fen"], idempotency_key=_key(request),
            reason=data.validated_data["reason"], now=timezone.now(),
        )
        return Response(RefundOutput(refund).data, status=status.HTTP_201_CREATED)
