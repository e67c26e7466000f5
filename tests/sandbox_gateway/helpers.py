"""Helpers for tests that speak to the sandbox gateway through the WeChat Pay v3 adapter."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from payments.gateways.wechatpay_v3 import WechatPayV3Gateway

SUB_MCHID = "M0000001"  # a sub-merchant: our Merchant.code
NOTIFY_URL = "http://127.0.0.1:8000/api/payments/notify/wechat/"
RETURN_URL = "http://127.0.0.1:8000/pay/receipt/P1/"


def make_gateway(channel: str = "wechat", **overrides) -> WechatPayV3Gateway:
    """The adapter as settings configure it for ``channel``, in-process unless overridden."""
    conf = dict(settings.ALLIANCE_PAYMENT_GATEWAYS[channel])
    conf.pop("class")
    conf.setdefault("transport", "inprocess")
    conf.update(overrides)
    return WechatPayV3Gateway(channel=channel, **conf)


def create(gateway, out_trade_no: str, amount_fen: int = 1234, **overrides):
    kwargs = {
        "out_trade_no": out_trade_no,
        "amount_fen": amount_fen,
        "description": "Noodle House West Lake",
        "account": SUB_MCHID,
        "notify_url": NOTIFY_URL,
        "return_url": RETURN_URL,
        "expires_at": timezone.now() + timedelta(minutes=15),
    }
    kwargs.update(overrides)
    return gateway.create(**kwargs)
