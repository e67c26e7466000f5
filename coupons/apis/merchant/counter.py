"""At the counter (核销): inspect, confirm, today's verifications, undo, void."""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import IsMerchant

from ... import services
from ...models import Coupon
from ...selectors import merchant as selectors
from ._common import ERRORS, _membership, parse
from .serializers import (
    MerchantConfirmInput,
    MerchantCouponSummary,
    MerchantInspectInput,
    MerchantInspectionOutput,
    MerchantReasonInput,
    MerchantVerificationOutput,
)

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
