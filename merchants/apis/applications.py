"""Merchant application API: the applicant's draft, upload and submit; the branch review actions.

Views parse input, call one service or selector and render; every rule lives in
``merchants.services``. Reads go through the caller's scope (``merchants.selectors``): an
application outside it is a 404 (``not_in_your_grid``). Errors have the common body
``{"code", "message", "extra"}``. Settlement account numbers are only ever shown masked.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import IsBankStaff
from alliance.errors import ErrorSerializer

from .. import selectors, services
from ..credit_code import credit_code_problem
from ..models import ApplicationDocument, Category, MerchantApplication, StatusChange

ERRORS = {
    400: OpenApiResponse(
        ErrorSerializer, description="`invalid`, `invalid_credit_code`, `invalid_phone`, ..."
    ),
    403: OpenApiResponse(ErrorSerializer, description="`permission_denied`"),
    404: OpenApiResponse(ErrorSerializer, description="`not_found`, `not_in_your_grid`"),
    409: OpenApiResponse(
        ErrorSerializer, description="`invalid_transition`, `duplicate_credit_code`, ..."
    ),
}


# --- Serializers ------------------------------------------------------------------------------


class ApplicationInput(serializers.Serializer):
    """Any subset of the fields: a draft may be incomplete. Empty string clears a field."""

    business_name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    category = serializers.ChoiceField(choices=Category.choices, required=False, allow_blank=True)
    credit_code = serializers.CharField(required=False, allow_blank=True, max_length=40)
    legal_representative = serializers.CharField(required=False, allow_blank=True, max_length=64)
    contact_phone = serializers.CharField(required=False, allow_blank=True, max_length=32)
    settlement_bank = serializers.CharField(required=False, allow_blank=True, max_length=100)
    settlement_account_name = serializers.CharField(
        required=False, allow_blank=True, max_length=100
    )
    settlement_account_number = serializers.CharField(
        required=False, allow_blank=True, max_length=64
    )
    store_name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    store_address = serializers.CharField(required=False, allow_blank=True, max_length=200)
    opening_hours = serializers.CharField(required=False, allow_blank=True, max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    lat = serializers.FloatField(required=False, min_value=-90, max_value=90)
    lng = serializers.FloatField(required=False, min_value=-180, max_value=180)

    @classmethod
    def parse(cls, request) -> services.ApplicationFields:
        data = cls(data=request.data)
        data.is_valid(raise_exception=True)
        return services.ApplicationFields(**data.validated_data)


class DocumentOutput(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = ApplicationDocument
        fields = ["id", "kind", "content_type", "size", "width", "height", "url", "uploaded_at"]
        read_only_fields = fields

    def get_url(self, document) -> str:
        return document.image.url


class StatusChangeOutput(serializers.ModelSerializer):
    class Meta:
        model = StatusChange
        fields = ["from_status", "to_status", "reason", "created_at"]
        read_only_fields = fields


class ApplicationOutput(serializers.ModelSerializer):
    settlement_account_number = serializers.CharField(source="masked_account_number")
    settlement_account_name = serializers.SerializerMethodField()
    documents = DocumentOutput(many=True)
    missing = serializers.SerializerMethodField(
        help_text="What must be filled in before submitting."
    )
    credit_code_problem = serializers.SerializerMethodField(
        help_text="null: the code passes the GB 32100-2015 check; else length, alphabet, "
        "authority, type, division or check."
    )
    merchant_id = serializers.SerializerMethodField()

    class Meta:
        model = MerchantApplication
        fields = [
            "id",
            "status",
            "business_name",
            "category",
            "credit_code",
            "credit_code_problem",
            "legal_representative",
            "contact_phone",
            "settlement_bank",
            "settlement_account_name",
            "settlement_account_number",
            "store_name",
            "store_address",
            "opening_hours",
            "description",
            "lat",
            "lng",
            "branch",
            "decision_reason",
            "created_at",
            "updated_at",
            "submitted_at",
            "decided_at",
            "documents",
            "missing",
            "merchant_id",
        ]
        read_only_fields = fields

    def get_settlement_account_name(self, application) -> str:
        name = application.settlement_account_name
        return f"{name[:1]}**" if name else ""

    def get_missing(self, application) -> list[str]:
        return services.missing_fields(application)

    def get_credit_code_problem(self, application) -> str | None:
        return credit_code_problem(application.credit_code) if application.credit_code else "length"

    def get_merchant_id(self, application) -> int | None:
        merchant = getattr(application, "merchant", None)
        return merchant.pk if merchant else None


class ApplicationStatusOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    decision_reason = serializers.CharField()
    history = StatusChangeOutput(many=True)


class DocumentInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ApplicationDocument.Kind.choices)
    image = serializers.FileField(help_text="JPEG, PNG or WebP; at most 5 MB; 300-8000 px a side.")


class ApproveInput(serializers.Serializer):
    fee_plan_id = serializers.IntegerField()
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ReasonInput(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True, max_length=2000)


class CommentsInput(serializers.Serializer):
    comments = serializers.CharField(allow_blank=True, max_length=2000)


class MerchantOutput(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    business_name = serializers.CharField()
    status = serializers.CharField()


def parse(serializer_class, request) -> dict:
    data = serializer_class(data=request.data)
    data.is_valid(raise_exception=True)
    return data.validated_data


def _detail(request, application_id: int) -> Response:
    application = selectors.application_get(request.user, application_id)
    return Response(ApplicationOutput(application, context={"request": request}).data)


# --- Applicant ----------------------------------------------------------------------------------


class ApplicationListApi(generics.ListAPIView):
    """Applications I may see (applicant: mine; branch staff: my grid's; head office: all)."""

    serializer_class = ApplicationOutput

    def get_queryset(self):
        return selectors.applications_visible_to(self.request.user).prefetch_related("documents")

    @extend_schema(
        summary="Start an application (a draft)",
        request=ApplicationInput,
        responses={201: ApplicationOutput, **ERRORS},
    )
    def post(self, request):
        application = services.application_create(
            applicant=request.user, data=ApplicationInput.parse(request)
        )
        return Response(ApplicationOutput(application).data, status=status.HTTP_201_CREATED)


class ApplicationDetailApi(APIView):
    @extend_schema(summary="One application", responses={200: ApplicationOutput, **ERRORS})
    def get(self, request, pk: int):
        return _detail(request, pk)

    @extend_schema(
        summary="Save the draft (any subset of fields)",
        request=ApplicationInput,
        responses={200: ApplicationOutput, **ERRORS},
    )
    def patch(self, request, pk: int):
        services.application_update(
            actor=request.user, application_id=pk, data=ApplicationInput.parse(request)
        )
        return _detail(request, pk)


class ApplicationDocumentApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        summary="Upload a licence or storefront photo",
        request=DocumentInput,
        responses={201: DocumentOutput, **ERRORS},
    )
    def post(self, request, pk: int):
        data = parse(DocumentInput, request)
        document = services.application_document_add(
            actor=request.user, application_id=pk, kind=data["kind"], upload=data["image"]
        )
        return Response(DocumentOutput(document).data, status=status.HTTP_201_CREATED)


class ApplicationDocumentDeleteApi(APIView):
    @extend_schema(summary="Remove a photo from the draft", responses={204: None, **ERRORS})
    def delete(self, request, pk: int):
        services.application_document_remove(actor=request.user, document_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApplicationSubmitApi(APIView):
    @extend_schema(
        summary="Submit for review", request=None, responses={200: ApplicationOutput, **ERRORS}
    )
    def post(self, request, pk: int):
        services.application_submit(actor=request.user, application_id=pk)
        return _detail(request, pk)


class ApplicationStatusApi(APIView):
    @extend_schema(
        summary="Where the application stands and why",
        responses={200: ApplicationStatusOutput, **ERRORS},
    )
    def get(self, request, pk: int):
        application = selectors.application_get(request.user, pk)
        history = selectors.application_history(request.user, pk)
        return Response(
            ApplicationStatusOutput(
                {
                    "id": application.pk,
                    "status": application.status,
                    "decision_reason": application.decision_reason,
                    "history": history,
                }
            ).data
        )


# --- Review -------------------------------------------------------------------------------------


class ReviewQueueApi(generics.ListAPIView):
    """Submitted applications of my grid (head office: all and the pool), oldest first."""

    permission_classes = [IsBankStaff]
    serializer_class = ApplicationOutput

    def get_queryset(self):
        return selectors.review_queue(self.request.user)


class ApplicationApproveApi(APIView):
    permission_classes = [IsBankStaff]

    @extend_schema(
        summary="Approve: creates the merchant on the chosen fee plan",
        request=ApproveInput,
        responses={201: MerchantOutput, **ERRORS},
    )
    def post(self, request, pk: int):
        data = parse(ApproveInput, request)
        merchant = services.application_approve(
            actor=request.user,
            application_id=pk,
            fee_plan_id=data["fee_plan_id"],
            reason=data["reason"],
        )
        return Response(MerchantOutput(merchant).data, status=status.HTTP_201_CREATED)


class ApplicationRejectApi(APIView):
    permission_classes = [IsBankStaff]

    @extend_schema(
        summary="Reject (reason required)",
        request=ReasonInput,
        responses={200: ApplicationOutput, **ERRORS},
    )
    def post(self, request, pk: int):
        services.application_reject(
            actor=request.user, application_id=pk, reason=parse(ReasonInput, request)["reason"]
        )
        return _detail(request, pk)


class ApplicationReturnApi(APIView):
    permission_classes = [IsBankStaff]

    @extend_schema(
        summary="Return for changes (comments required)",
        request=CommentsInput,
        responses={200: ApplicationOutput, **ERRORS},
    )
    def post(self, request, pk: int):
        services.application_return(
            actor=request.user,
            application_id=pk,
            comments=parse(CommentsInput, request)["comments"],
        )
        return _detail(request, pk)
