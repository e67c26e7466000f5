"""Merchant API: the file (scoped), status actions, visits, staff and profile.

Branch staff see and act on their grid's merchants (others are a 404), head office on all; a
merchant's own staff read their merchant, and its owner edits the profile and adds cashiers.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import IsBankStaff

from .. import selectors, services
from ..models import Category, Merchant, MerchantStaff, ProfileChange, Store, Visit
from .applications import ERRORS, ReasonInput, parse


class StoreOutput(serializers.ModelSerializer):
    class Meta:
        model = Store
        fields = ["id", "name", "address", "opening_hours", "description", "lat", "lng", "branch"]
        read_only_fields = fields


class MerchantDetailOutput(serializers.ModelSerializer):
    settlement_account_number = serializers.CharField(source="masked_account_number")
    contact_phone = serializers.CharField(source="masked_contact_phone")
    fee_plan = serializers.StringRelatedField()
    stores = StoreOutput(many=True)

    class Meta:
        model = Merchant
        fields = [
            "id",
            "code",
            "business_name",
            "category",
            "status",
            "credit_code",
            "legal_representative",
            "contact_phone",
            "settlement_bank",
            "settlement_account_number",
            "description",
            "fee_plan",
            "stores",
            "created_at",
        ]
        read_only_fields = fields


class VisitInput(serializers.Serializer):
    visited_on = serializers.DateField()
    # "type" in the API (the word; "kind" is the document kind's enum in the schema).
    type = serializers.ChoiceField(source="kind", choices=Visit.Kind.choices)
    outcome = serializers.CharField(max_length=4000)
    follow_up_on = serializers.DateField(required=False, allow_null=True, default=None)


class VisitOutput(serializers.ModelSerializer):
    author = serializers.StringRelatedField()
    type = serializers.ChoiceField(source="kind", choices=Visit.Kind.choices, read_only=True)

    class Meta:
        model = Visit
        fields = [
            "id",
            "visited_on",
            "type",
            "outcome",
            "follow_up_on",
            "author",
            "branch",
            "created_at",
        ]
        read_only_fields = fields


class StaffInput(serializers.Serializer):
    phone = serializers.CharField(max_length=32)
    name = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)


class StaffOutput(serializers.ModelSerializer):
    phone = serializers.CharField(source="user.masked_phone")
    name = serializers.CharField(source="user.name")

    class Meta:
        model = MerchantStaff
        fields = ["id", "role", "phone", "name", "created_at"]
        read_only_fields = fields


class ProfileInput(serializers.Serializer):
    """Free fields change at once; the legal and settlement ones are refused (``needs_review``)
    and go to ``change-requests/``. ``store_id``: edit that store's name, hours, description."""

    store_id = serializers.IntegerField(required=False, allow_null=True, default=None)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    contact_phone = serializers.CharField(required=False, max_length=32)
    name = serializers.CharField(required=False, max_length=100)
    opening_hours = serializers.CharField(required=False, allow_blank=True, max_length=200)
    business_name = serializers.CharField(required=False, max_length=100)
    category = serializers.ChoiceField(required=False, choices=Category.choices)
    legal_representative = serializers.CharField(required=False, max_length=64)
    settlement_bank = serializers.CharField(required=False, max_length=100)
    settlement_account_name = serializers.CharField(required=False, max_length=100)
    settlement_account_number = serializers.CharField(required=False, max_length=64)


class ChangeRequestInput(serializers.Serializer):
    business_name = serializers.CharField(required=False, max_length=100)
    category = serializers.ChoiceField(required=False, choices=Category.choices)
    legal_representative = serializers.CharField(required=False, max_length=64)
    settlement_bank = serializers.CharField(required=False, max_length=100)
    settlement_account_name = serializers.CharField(required=False, max_length=100)
    settlement_account_number = serializers.CharField(required=False, max_length=64)


class ProfileChangeOutput(serializers.ModelSerializer):
    class Meta:
        model = ProfileChange
        fields = ["id", "status", "fields", "old", "new", "reason", "created_at"]
        read_only_fields = fields


class DecisionInput(serializers.Serializer):
    approve = serializers.BooleanField()
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class MerchantListApi(generics.ListAPIView):
    """Merchants I may see (branch staff: my grid's; head office: all; merchant staff: mine)."""

    serializer_class = MerchantDetailOutput

    def get_queryset(self):
        return selectors.merchants_visible_to(self.request.user).prefetch_related("stores")


class MerchantDetailApi(APIView):
    @extend_schema(
        summary="One merchant (settlement account masked)",
        responses={200: MerchantDetailOutput, **ERRORS},
    )
    def get(self, request, pk: int):
        return Response(MerchantDetailOutput(selectors.merchant_get(request.user, pk)).data)


def _status_view(service, summary: str):
    class StatusApi(APIView):
        permission_classes = [IsBankStaff]

        @extend_schema(
            summary=summary, request=ReasonInput, responses={200: MerchantDetailOutput, **ERRORS}
        )
        def post(self, request, pk: int):
            service(
                actor=request.user, merchant_id=pk, reason=parse(ReasonInput, request)["reason"]
            )
            return Response(MerchantDetailOutput(selectors.merchant_get(request.user, pk)).data)

    StatusApi.__name__ = StatusApi.__qualname__ = (
        f"Merchant{service.__name__.split('_')[-1].title()}Api"
    )
    return StatusApi


MerchantSuspendApi = _status_view(
    services.merchant_suspend, "Suspend (branch manager of the grid or head office)"
)
MerchantReinstateApi = _status_view(services.merchant_reinstate, "Reinstate a suspended merchant")
MerchantCloseApi = _status_view(services.merchant_close, "Close a merchant for good")


class MerchantVisitsApi(APIView):
    permission_classes = [IsBankStaff]

    @extend_schema(
        summary="Visits, calls and trainings recorded for a merchant",
        responses={200: VisitOutput(many=True), **ERRORS},
    )
    def get(self, request, pk: int):
        selectors.merchant_get(request.user, pk)
        visits = selectors.visits_visible_to(request.user).filter(merchant_id=pk)
        return Response(VisitOutput(visits, many=True).data)

    @extend_schema(
        summary="Record a visit (branch staff of the merchant's grid)",
        request=VisitInput,
        responses={201: VisitOutput, **ERRORS},
    )
    def post(self, request, pk: int):
        visit = services.visit_record(
            actor=request.user, merchant_id=pk, **parse(VisitInput, request)
        )
        return Response(VisitOutput(visit).data, status=status.HTTP_201_CREATED)


class StaffApi(APIView):
    @extend_schema(summary="My merchant's staff", responses={200: StaffOutput(many=True), **ERRORS})
    def get(self, request):
        membership = selectors.membership_for(request.user)
        staff = membership.merchant.staff.select_related("user") if membership else []
        return Response(StaffOutput(staff, many=True).data)

    @extend_schema(
        summary="Add a cashier by mobile number (owner)",
        request=StaffInput,
        responses={201: StaffOutput, **ERRORS},
    )
    def post(self, request):
        data = parse(StaffInput, request)
        staff = services.staff_add(actor=request.user, phone=data["phone"], name=data["name"])
        return Response(StaffOutput(staff).data, status=status.HTTP_201_CREATED)


class ProfileApi(APIView):
    @extend_schema(
        summary="Edit the profile (owner; legal and settlement fields: needs_review)",
        request=ProfileInput,
        responses={200: ProfileChangeOutput, **ERRORS},
    )
    def patch(self, request, pk: int):
        data = dict(parse(ProfileInput, request))
        store_id = data.pop("store_id")
        change = services.profile_update(
            actor=request.user, merchant_id=pk, changes=data, store_id=store_id
        )
        return Response(ProfileChangeOutput(change).data)


class ChangeRequestApi(APIView):
    @extend_schema(
        summary="Ask to change legal or settlement details (reviewed by the branch)",
        request=ChangeRequestInput,
        responses={201: ProfileChangeOutput, **ERRORS},
    )
    def post(self, request, pk: int):
        change = services.profile_change_request(
            actor=request.user, merchant_id=pk, changes=dict(parse(ChangeRequestInput, request))
        )
        return Response(ProfileChangeOutput(change).data, status=status.HTTP_201_CREATED)


class ChangeRequestDecideApi(APIView):
    permission_classes = [IsBankStaff]

    @extend_schema(
        summary="Approve or reject a change request (reason required to reject)",
        request=DecisionInput,
        responses={200: ProfileChangeOutput, **ERRORS},
    )
    def post(self, request, pk: int):
        data = parse(DecisionInput, request)
        decision = services.profile_change_decide(
            actor=request.user, change_id=pk, approve=data["approve"], reason=data["reason"]
        )
        return Response(ProfileChangeOutput(decision).data)
