from django.urls import path

from . import apis

app_name = "auth"
urlpatterns = [
    path("sms-code/", apis.SmsCodeRequestApi.as_view(), name="sms_code"),
    path("sms-sign-in/", apis.SmsSignInApi.as_view(), name="sms_sign_in"),
    path("merchant-sign-in/", apis.MerchantSignInApi.as_view(), name="merchant_sign_in"),
    path("me/", apis.MeApi.as_view(), name="me"),
]
