"""Templates (券批次): list with numbers, write, actions, history."""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
)
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import IsMerchant
from alliance.errors import NotFound

from ... import services
from ...selectors import merchant as selectors
from ._common import ERRORS, _membership, parse
from .serializers import (
    MerchantAddStockInput,
    MerchantReasonInput,
    MerchantSetStockInput,
    MerchantTemplateChangeOutput,
    MerchantTemplateInput,
    MerchantTemplateOutput,
)

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
