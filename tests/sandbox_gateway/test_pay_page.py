"""The hosted pay page: what the payer sees, confirm and decline without JavaScript, and the
way back to the merchant."""

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from sandbox_gateway import services
from sandbox_gateway.models import Delivery, Trade
from tests.sandbox_gateway.helpers import RETURN_URL, create, make_gateway

pytestmark = pytest.mark.django_db


@pytest.fixture
def gateway(settings):
    settings.SANDBOX_GATEWAY_AUTO_DELIVER = False
    return make_gateway("unionpay")


def page_path(prepay):
    parts = urlsplit(prepay.pay_url)
    return parts.path, parts.query


def test_the_page_shows_merchant_amount_and_channel_in_chinese(gateway):
    prepay = create(gateway, "P202605030001", amount_fen=123456)
    path, query = page_path(prepay)
    page = Client().get(f"{path}?{query}")
    assert page.status_code == 200
    text = page.content.decode()
    assert "¥1,234.56" in text and "Noodle House West Lake" in text and "M0000001" in text
    assert "云闪付" in text  # the channel's label from ALLIANCE_PAYMENT_CHANNELS
    assert "确认支付" in text and "<script" not in text
    assert f'value="{RETURN_URL}"' in text
    assert Trade.objects.get(out_trade_no="P202605030001").state == Trade.State.USERPAYING


def test_confirm_pays_notifies_and_returns_to_the_merchant(gateway):
    prepay = create(gateway, "P202605030002")
    path, _query = page_path(prepay)
    answer = Client().post(path, {"action": "confirm", "redirect_url": RETURN_URL})
    assert answer.status_code == 302 and answer["Location"] == RETURN_URL
    assert gateway.query(out_trade_no="P202605030002").status == "paid"
    (delivery,) = Delivery.objects.filter(trade__out_trade_no="P202605030002")
    assert delivery.event_type == "TRANSACTION.SUCCESS"
    again = Client().post(path, {"action": "confirm", "redirect_url": RETURN_URL})
    assert again.status_code == 400 and "已支付" in again.content.decode()
    assert Delivery.objects.filter(trade__out_trade_no="P202605030002").count() == 1


def test_decline_fails_the_trade_and_returns(gateway):
    prepay = create(gateway, "P202605030003")
    path, _query = page_path(prepay)
    answer = Client().post(path, {"action": "decline", "redirect_url": RETURN_URL})
    assert answer.status_code == 302 and answer["Location"] == RETURN_URL
    assert gateway.query(out_trade_no="P202605030003").status == "failed"
    (delivery,) = Delivery.objects.filter(trade__out_trade_no="P202605030003")
    assert delivery.event_type == "TRANSACTION.PAYERROR"


def test_a_closed_trade_cannot_be_paid(gateway):
    prepay = create(gateway, "P202605030004")
    gateway.close(out_trade_no="P202605030004")
    path, query = page_path(prepay)
    page = Client().get(f"{path}?{query}")
    assert "已关闭" in page.content.decode() and "确认支付" not in page.content.decode()
    answer = Client().post(path, {"action": "confirm", "redirect_url": RETURN_URL})
    assert answer.status_code == 400 and "已关闭" in answer.content.decode()
    assert gateway.query(out_trade_no="P202605030004").status == "closed"
    assert not Delivery.objects.filter(trade__out_trade_no="P202605030004").exists()


def test_an_expired_trade_cannot_be_paid(gateway, monkeypatch):
    prepay = create(gateway, "P202605030005", expires_at=timezone.now() + timedelta(seconds=30))
    later = timezone.now() + timedelta(minutes=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    path, _query = page_path(prepay)
    answer = Client().post(path, {"action": "confirm"})
    assert answer.status_code == 400
    assert Trade.objects.get(out_trade_no="P202605030005").state == Trade.State.CLOSED


def test_no_redirect_to_a_foreign_site(gateway):
    prepay = create(gateway, "P202605030006", return_url="https://evil.example.com/phish")
    path, query = page_path(prepay)
    page = Client().get(f"{path}?{query}")
    assert "evil.example.com" not in page.content.decode()
    answer = Client().post(
        path, {"action": "confirm", "redirect_url": "https://evil.example.com/x"}
    )
    assert answer.status_code == 200 and "已支付" in answer.content.decode()


def test_english_when_asked(gateway):
    prepay = create(gateway, "P202605030007")
    path, _query = page_path(prepay)
    page = Client().get(path, headers={"Accept-Language": "en"})
    assert "Confirm payment" in page.content.decode()


def test_an_unknown_page_is_404():
    assert Client().get("/sandbox-gateway/pay/wx-nope/").status_code == 404


def test_pay_and_decline_services_find_by_either_number(gateway):
    prepay = create(gateway, "P202605030008")
    assert services.pay("P202605030008").prepay_id == prepay.prepay_id
    with pytest.raises(services.ChannelError) as refused:
        services.decline(prepay.prepay_id)
    assert refused.value.code == "ORDERPAID"
    with pytest.raises(services.ChannelError):
        services.pay("P-unknown-0001")
