"""The sandbox's books under concurrent requests (PostgreSQL, real connections): refunds never
exceed the paid total, one out_refund_no is one refund, a trade is paid once."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from sandbox_gateway import services
from sandbox_gateway.models import Delivery, Refund, Trade


def run_together(count, work):
    """``work(i)`` on ``count`` threads released at once; each result or exception."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def one(i):
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - the refusal is the result
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def paid_trade(out_trade_no, total_fen=1000):
    trade = services.trade_create(
        sp_mchid="1900000103", sp_appid="wxsandbox0000000", sub_mchid="M0000001",
        out_trade_no=out_trade_no, description="Noodles", total_fen=total_fen, currency="CNY",
        notify_url="http://127.0.0.1:9/notify/", time_expire=timezone.now() + timedelta(minutes=15),
    )  # fmt: skip
    return services.pay(trade.prepay_id)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_refunds_never_exceed_the_paid_total(settings):
    settings.SANDBOX_GATEWAY_AUTO_DELIVER = False
    paid_trade("P202605060001", total_fen=1000)
    results = run_together(
        10,
        lambda i: services.refund_create(
            sp_mchid="1900000103",
            sub_mchid="M0000001",
            out_trade_no="P202605060001",
            out_refund_no=f"R0601-{i}",
            refund_fen=300,
            total_fen=1000,
        ),  # fmt: skip
    )
    accepted = [r for r in results if isinstance(r, Refund)]
    refused = [r for r in results if isinstance(r, services.ChannelError)]
    assert len(accepted) == 3 and len(refused) == 7, results
    assert {r.code for r in refused} == {"INVALID_REQUEST"}
    assert Trade.objects.get(out_trade_no="P202605060001").refunded_fen == 900


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_out_refund_no_is_one_refund(settings):
    settings.SANDBOX_GATEWAY_AUTO_DELIVER = False
    paid_trade("P202605060002", total_fen=1000)
    results = run_together(
        8,
        lambda i: (
            services.refund_create(
                sp_mchid="1900000103",
                sub_mchid="M0000001",
                out_trade_no="P202605060002",
                out_refund_no="R0602-1",
                refund_fen=400,
                total_fen=1000,
            ).pk
        ),  # fmt: skip
    )
    assert len(set(results)) == 1 and isinstance(results[0], int), results
    assert Trade.objects.get(out_trade_no="P202605060002").refunded_fen == 400


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_trade_is_paid_once(settings):
    settings.SANDBOX_GATEWAY_AUTO_DELIVER = False
    trade = services.trade_create(
        sp_mchid="1900000103", sp_appid="wxsandbox0000000", sub_mchid="M0000001",
        out_trade_no="P202605060003", description="Noodles", total_fen=500, currency="CNY",
        notify_url="http://127.0.0.1:9/notify/", time_expire=None,
    )  # fmt: skip
    results = run_together(6, lambda i: services.pay(trade.prepay_id).transaction_id)
    paid = [r for r in results if isinstance(r, str)]
    assert len(paid) == 1, results
    assert Delivery.objects.filter(trade=trade).count() == 1
