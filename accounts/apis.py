"""Sign-in API for apps: SMS codes and customer sign-in, merchant sign-in, the current user.

Refusals are the services' ApplicationErrors, answered by ``alliance.errors`` as
``{"code", "message", "extra"}``; malformed input is ``code == "invalid"``.
"""

from django.conf import settings
from django.contrib.auth import login
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from alliance.errors import ErrorSerializer

from . import services
from .phones import mask_phone
from .views import client_ip


class UserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    phone_masked = serializers.CharField(source="masked_phone")
    role = serializers.CharField()
    name = serializers.CharField()


class SmsCodeRequestSerializer(serializers.Serializer):
    phone = serializers.CharField(max_length=32)


class SmsCodeSentSerializer(serializers.Serializer):
    phone_masked = serializers.CharField()
    expires_in = serializers.IntegerField(help_text="Seconds the code stays valid.")
    retry_after = serializers.IntegerField(help_text="Seconds before another code can be sent.")


class SmsSignInSerializer(serializers.Serializer):
    phone = serializers.CharField(max_length=32)
    code = serializers.CharField(max_length=6)


class MerchantSignInSerializer(serializers.Serializer):
    phone = serializers.CharField(max_length=32)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class SignedInSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`.")
    user = UserSerializer()


def _signed_in(user) -> dict:
    token = services.api_token_get_or_create(user=user)
    return SignedInSerializer({"token": token.key, "user": user}).data


_REFUSED = {400: ErrorSerializer, 403: ErrorSerializer, 429: ErrorSerializer}


class SmsCodeRequestApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Send a sign-in code by SMS",
        request=SmsCodeRequestSerializer,
        responses={202: SmsCodeSentSerializer, **_REFUSED, 503: ErrorSerializer},
        tags=["auth"],
    )
    def post(self, request):
        data = _valid(SmsCodeRequestSerializer, request)
        sms = services.sms_code_request(phone=data["phone"], client_ip=client_ip(request))
        body = {
            "phone_masked": mask_phone(sms.phone),
            "expires_in": int(settings.ALLIANCE_SMS_CODE_TTL.total_seconds()),
            "retry_after": int(settings.ALLIANCE_SMS_PHONE_INTERVAL.total_seconds()),
        }
        return Response(SmsCodeSentSerializer(body).data, status=status.HTTP_202_ACCEPTED)


class SmsSignInApi(APIView):
    permission_classes = [AllowAny]
    # It starts a browser session too: JSON only, which a cross-site form cannot send.
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Sign in (or sign up) as a customer with the SMS code",
        request=SmsSignInSerializer,
        responses={200: SignedInSerializer, **_REFUSED},
        tags=["auth"],
    )
    def post(self, request):
        data = _valid(SmsSignInSerializer, request)
        user = services.sms_code_sign_in(
            phone=data["phone"], code=data["code"], client_ip=client_ip(request)
        )
        login(request, user, backend=services.CUSTOMER_SESSION_BACKEND)
        return Response(_signed_in(user))


class MerchantSignInApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Sign in as a merchant owner or cashier with phone and password",
        request=MerchantSignInSerializer,
        responses={200: SignedInSerializer, **_REFUSED},
        tags=["auth"],
    )
    def post(self, request):
        data = _valid(MerchantSignInSerializer, request)
        user = services.merchant_sign_in(request=request, **data)
        return Response(_signed_in(user))


class MeApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(summary="The signed-in user", responses={200: UserSerializer}, tags=["auth"])
    def get(self, request):
        return Response(UserSerializer(request.user).data)


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
