"""Customer API of coupons: offers near a point, a template's rules, claiming, the wallet.

Views parse input, call one selector or service and render. Refusals have the common body
``{"code", "message", "extra"}``. The claim endpoint is the flash-sale hot path: it runs the
claim service's queries and nothing else (the output needs only the coupon row).
"""

from __future__ import annotations

from functools import partial, wraps

from django.conf import settings
from django.http import JsonResponse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from accounts import roles
from accounts.access import IsCustomer
from accounts.authentication import TokenAuthentication
from accounts.models import User
from alliance.compiled import hot_cursor
from alliance.errors import ApplicationError, ErrorSerializer, error_response
from merchants.models import Category

from .. import services, wording
from ..errors import CouponAlreadyUsed, CouponExpired, CouponOutOfStock, InvalidInput
from ..models import Coupon, CouponTemplate
from ..selectors import customer as selectors
from ..services import claiming

IDEMPOTENCY_HEADER = "Idempotency-Key"

_400 = OpenApiResponse(ErrorSerializer, description="`invalid` (`extra.fields` says which)")
_403 = OpenApiResponse(ErrorSerializer, description="`permission_denied`, `not_authenticated`")
_404 = OpenApiResponse(ErrorSerializer, description="`coupon_not_found`")
_409_CLAIM = OpenApiResponse(
    ErrorSerializer,
    description="`coupon_out_of_stock`, `coupon_limit_reached`, `coupon_not_started`, "
    "`coupon_ended`, `coupon_paused`, `coupon_daily_cap_reached` (`extra.next_claim_at`), "
    "`campaign_budget_exhausted`, `coupon_not_claimable` (bought, or exchanged: use the other "
    "endpoint), `points_insufficient` (exchange)",
)


# --- Serializers ------------------------------------------------------------------------------


class CustomerOfferQueryParams(serializers.Serializer):
    """For the schema only: the parameters are parsed by ``selectors.parse_offer_query``."""

    lat = serializers.FloatField(required=False, help_text="WGS-84 latitude (with lng)")
    lng = serializers.FloatField(required=False, help_text="WGS-84 longitude (with lat)")
    area = serializers.IntegerField(
        required=False, help_text="An open branch's id: its neighbourhood, when lat/lng is unknown"
    )
    category = serializers.ChoiceField(choices=Category.choices, required=False)
    sort = serializers.ChoiceField(
        choices=list(selectors.SORTS), required=False, default="distance"
    )
    q = serializers.CharField(required=False, help_text="Part of the merchant's name")
    page = serializers.IntegerField(required=False, min_value=1, default=1)


class CustomerStoreOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    address = serializers.CharField()
    opening_hours = serializers.CharField()
    lat = serializers.FloatField()
    lng = serializers.FloatField()


class CustomerOfferOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="The offer (one per template and store).")
    template_id = serializers.IntegerField()
    title = serializers.CharField(source="template.title")
    value = serializers.CharField(source="value_label", help_text="The value in plain words.")
    kind = serializers.CharField(source="template.kind")
    obtain = serializers.CharField(source="template.obtain")
    merchant_id = serializers.IntegerField()
    merchant_name = serializers.CharField()
    category = serializers.CharField()
    store = CustomerStoreOutput()
    distance_m = serializers.FloatField(help_text="Great-circle distance from the point, metres.")
    distance = serializers.CharField(source="distance_label", help_text="350 m, 1.2 km")
    claim_start = serializers.DateTimeField()
    claim_end = serializers.DateTimeField()
    published_at = serializers.DateTimeField()
    stock_left = serializers.IntegerField(source="template.stock_left")
    claimed = serializers.IntegerField(source="template.claimed")


class CustomerOfferListOutput(serializers.Serializer):
    page = serializers.IntegerField()
    next = serializers.URLField(allow_null=True, help_text="The next page, or null.")
    results = CustomerOfferOutput(many=True)


class CustomerRulesOutput(serializers.Serializer):
    value = serializers.CharField()
    claim_window = serializers.CharField()
    min_spend = serializers.CharField()
    validity = serializers.CharField()
    weekdays = serializers.CharField()
    hours = serializers.CharField()
    per_customer = serializers.CharField()
    daily_cap = serializers.CharField()
    obtain = serializers.CharField()


class CustomerTemplateOutput(serializers.ModelSerializer):
    merchant_name = serializers.CharField(source="merchant.business_name")
    stores = CustomerStoreOutput(many=True)
    rules = serializers.SerializerMethodField(help_text="The rules in plain words.")
    claim_state = serializers.SerializerMethodField(
        help_text="open, or why nobody can claim now: not_claimable, ended, paused, "
        "not_started, out_of_stock"
    )

    class Meta:
        model = CouponTemplate
        fields = [
            "id", "merchant_id", "merchant_name", "kind", "obtain", "title", "description",
            "status", "discount_fen", "min_spend_fen", "pay_percent", "cap_fen", "price_fen",
            "points_price", "gift_item", "total_stock", "stock_left", "per_customer_limit",
            "daily_cap", "claim_start", "claim_end", "validity", "valid_from", "valid_until",
            "valid_days", "start_delay_days", "weekdays", "time_slots", "stores", "rules",
            "claim_state",
        ]  # fmt: skip
        read_only_fields = fields

    def get_rules(self, template) -> CustomerRulesOutput:
        return CustomerRulesOutput(wording.rules_of(template)).data

    def get_claim_state(self, template) -> str:
        return selectors.claim_state(template)


class CustomerClaimInput(serializers.Serializer):
    claim_key = serializers.CharField(
        required=False,
        help_text=f"Or the `{IDEMPOTENCY_HEADER}` header: a new key (a uuid) per tap.",
    )


class CustomerCouponOutput(serializers.ModelSerializer):
    """A coupon as the claim returns it: its own row only (no join on the hot path)."""

    class Meta:
        model = Coupon
        # No ``code``: the counter does not take it; the wallet shows the token and digits.
        fields = ["id", "template_id", "status", "claimed_at", "valid_from", "valid_until"]
        read_only_fields = fields


def _moment(value) -> str:
    """A time as DRF's DateTimeField gives it (ISO 8601 in the current time zone, UTC as Z)."""
    text = timezone.localtime(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def claimed_coupon(coupon: Coupon) -> dict:
    """``CustomerCouponOutput(coupon).data``, without building a serializer's fields on every
    claim (a fifth of a winner's Python); tests assert that the two are equal."""
    return {
        "id": coupon.pk,
        "template_id": coupon.template_id,
        "status": coupon.status,
        "claimed_at": _moment(coupon.claimed_at),
        "valid_from": _moment(coupon.valid_from),
        "valid_until": _moment(coupon.valid_until),
    }


class CustomerWalletCouponOutput(CustomerCouponOutput):
    title = serializers.CharField(source="template.title")
    value = serializers.SerializerMethodField()
    merchant_id = serializers.IntegerField(source="template.merchant_id")
    merchant_name = serializers.CharField(source="template.merchant.business_name")
    tab = serializers.SerializerMethodField(help_text="active, used or expired")

    class Meta(CustomerCouponOutput.Meta):
        fields = [*CustomerCouponOutput.Meta.fields, "title", "value", "merchant_id", "merchant_name",
                  "tab", "closed_at"]  # fmt: skip
        read_only_fields = fields

    def get_value(self, coupon) -> str:
        return wording.value_label(coupon.template)

    def get_tab(self, coupon) -> str:
        return selectors.wallet_state(coupon, now=self.context.get("now"))


class CustomerWalletListOutput(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    results = CustomerWalletCouponOutput(many=True)


class CustomerTokenOutput(serializers.Serializer):
    token = serializers.CharField(help_text="What the QR carries: a signed, short-lived token.")
    counter_code = serializers.CharField(
        help_text="The 18 digits to show under the QR for typing; they change with the token."
    )
    expires_in = serializers.IntegerField(help_text="Seconds the counter accepts it.")


# --- Views ----------------------------------------------------------------------------------


class OfferListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Offers within 3 km of a point (or of an area), one page",
        parameters=[CustomerOfferQueryParams],
        responses={200: CustomerOfferListOutput, 400: _400},
    )
    def get(self, request):
        query = selectors.parse_offer_query(request.query_params)
        if query.errors:
            raise InvalidInput(query.errors)
        if not query.located:
            raise InvalidInput({"lat": _("Give lat and lng, or an area.")})
        page = selectors.offers_near(
            lat=query.lat,
            lng=query.lng,
            category=query.category or None,
            q=query.q or None,
            sort=query.sort,
            page=query.page,
        )
        url = request.build_absolute_uri()
        data = {
            "page": page.page,
            "next": replace_query_param(url, "page", page.next_page) if page.has_next else None,
            "results": page.results,
        }
        return Response(CustomerOfferListOutput(data).data)


class TemplateDetailApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="A coupon's rules (live, paused or ended templates only)",
        responses={200: CustomerTemplateOutput, 404: _404},
    )
    def get(self, request, pk: int):
        return Response(CustomerTemplateOutput(selectors.template_for_customer(pk)).data)


class ClaimApi(APIView):
    permission_classes = [IsCustomer]
    service = staticmethod(services.coupon_claim)

    @extend_schema(
        summary="Claim one coupon (customers; idempotent per key)",
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="A new key per claim (8-64 characters, a uuid); or body `claim_key`. "
                "The same key again returns the same coupon (200).",
            )
        ],
        request=CustomerClaimInput,
        responses={
            201: CustomerCouponOutput,
            200: OpenApiResponse(
                CustomerCouponOutput, description="The coupon this key already claimed"
            ),
            400: _400,
            403: _403,
            404: _404,
            409: _409_CLAIM,
        },
    )
    def post(self, request, pk: int):
        key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
        if not key and hasattr(request.data, "get"):
            key = str(request.data.get("claim_key") or "").strip()
        if not key:
            raise InvalidInput(
                {"claim_key": _("Send an Idempotency-Key header or a claim_key per claim.")}
            )
        return Response(*_obtained(self.service, request.user, pk, key))


def _obtained(service, user, pk: int, key: str) -> tuple[dict, int]:
    """(body, status) of a claim or an exchange: 201 with a new coupon, 200 with the one this
    key already got."""
    now = timezone.now()
    coupon = service(customer=user, template_id=pk, claim_key=key, now=now)
    # A new coupon carries the very ``now`` we passed; one claimed earlier under this key (a
    # retry) was read back with its own time. No extra query to tell them apart.
    created = coupon.claimed_at == now
    return claimed_coupon(coupon), status.HTTP_201_CREATED if created else status.HTTP_200_OK


class ExchangeApi(ClaimApi):
    """The same as claiming, for a template obtained by points: the points are spent in the
    same transaction (``points_insufficient`` otherwise)."""

    service = staticmethod(services.coupon_exchange)

    @extend_schema(
        summary="Exchange points for one coupon (customers; idempotent per key)",
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="A new key per exchange (8-64 characters); or body `claim_key`. "
                "The same key again returns the same coupon (200) and spends nothing more.",
            )
        ],
        request=CustomerClaimInput,
        responses={
            201: CustomerCouponOutput,
            200: OpenApiResponse(
                CustomerCouponOutput, description="The coupon this key already exchanged"
            ),
            400: _400,
            403: _403,
            404: _404,
            409: _409_CLAIM,
        },
    )
    def post(self, request, pk: int):
        return super().post(request, pk)


class WalletApi(APIView):
    permission_classes = [IsCustomer]

    @extend_schema(
        summary="My coupons on one tab",
        parameters=[
            OpenApiParameter("status", str, enum=list(selectors.WALLET_TABS), default="active"),
            OpenApiParameter("page", int),
        ],
        responses={200: CustomerWalletListOutput, 400: _400, 403: _403},
    )
    def get(self, request):
        now = timezone.now()
        coupons = selectors.wallet(
            request.user, request.query_params.get("status") or "active", now=now
        )
        paginator = PageNumberPagination()
        rows = paginator.paginate_queryset(coupons, request, view=self)
        return paginator.get_paginated_response(
            CustomerWalletCouponOutput(rows, many=True, context={"now": now}).data
        )


class WalletCouponApi(APIView):
    permission_classes = [IsCustomer]

    @extend_schema(
        summary="One of my coupons",
        operation_id="coupons_wallet_coupon_retrieve",
        responses={200: CustomerWalletCouponOutput, 403: _403, 404: _404},
    )
    def get(self, request, pk: int):
        return Response(CustomerWalletCouponOutput(selectors.wallet_coupon(request.user, pk)).data)


class WalletTokenApi(APIView):
    permission_classes = [IsCustomer]

    @extend_schema(
        summary="A fresh QR token for one of my active coupons (ask again every 30 s)",
        responses={
            200: CustomerTokenOutput,
            403: _403,
            404: _404,
            409: OpenApiResponse(
                ErrorSerializer,
                description="`coupon_already_used`, `coupon_expired` (also refunded or voided)",
            ),
        },
    )
    def get(self, request, pk: int):
        coupon = selectors.wallet_coupon(request.user, pk)
        state = selectors.wallet_state(coupon)
        if state == "used":
            raise CouponAlreadyUsed()
        if state == "expired":
            raise CouponExpired()
        return Response(
            CustomerTokenOutput(
                {
                    "token": services.token_for(coupon.code),
                    "counter_code": services.counter_code_for(coupon.pk),
                    "expires_in": settings.COUPON_TOKEN_MAX_AGE,
                }
            ).data
        )


_claim_api = ClaimApi.as_view()


def _key_used(key: str) -> bool:
    # Plain SQL, prepared: this runs for every loser of a flash sale, the ORM's compile would
    # double it.
    table = Coupon._meta.db_table
    with hot_cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {table} WHERE claim_key = %s LIMIT 1", [key])
        return cursor.fetchone() is not None


_token_authentication = TokenAuthentication()


@wraps(_claim_api)  # keeps ``cls`` (the OpenAPI schema) and ``csrf_exempt`` (DRF decides CSRF)
def claim(request, pk: int):
    """The flash sale's hot path, answered without DRF's dispatch (a third of a winner's
    Python), with the same answers as :class:`ClaimApi`:

    - the losers first, before authentication and the template read: once this process has
      seen the template sold out (a two-second hint, see ``services.claiming``), a claim whose
      ``Idempotency-Key`` made no coupon gets the 409 ``coupon_out_of_stock`` the service would
      give. Nothing is revealed that the offer page does not show, nothing is written;
    - a winner with a token: authenticated inside the claim's own statement (the token of an
      active customer, as the API's token class and ``IsCustomer`` would decide; see
      ``services.coupon_claim_by_token``), answered 201 with nothing else run;
    - then a customer's claim with a token and a key: authenticated by the API's own token
      class, given to the service, answered with its body or its error.

    Everything else (a session, a key in the body, a bad token, somebody not a customer) goes
    to :class:`ClaimApi`, which decides."""
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if request.method != "POST" or not key:
        return _claim_api(request, pk=pk)
    if claiming.sold_out_hint(pk) and not _key_used(key):
        return error_response(CouponOutOfStock())
    authorization = request.headers.get("Authorization", "")
    if authorization.startswith("Token "):
        coupon = services.coupon_claim_by_token(
            token_key=authorization[len("Token ") :], template_id=pk, claim_key=key
        )
        if coupon is not None:  # a winner, authenticated in its own statement
            request.user = SimpleLazyObject(partial(User.objects.get, pk=coupon.customer_id))
            return JsonResponse(claimed_coupon(coupon), status=status.HTTP_201_CREATED)
        try:
            found = _token_authentication.authenticate(request)
        except AuthenticationFailed:
            found = None
        if found is not None and roles.is_customer(found[0]):
            request.user = found[0]  # as DRF would leave it, for what runs after the view
            try:
                body, code = _obtained(services.coupon_claim, found[0], pk, key)
            except ApplicationError as error:
                return error_response(error)
            return JsonResponse(body, status=code)
    return _claim_api(request, pk=pk)
