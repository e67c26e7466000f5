"""A real Celery worker delivers the sandbox's notifications: scheduled after commit, retried
by the worker itself on the (compressed) schedule the delivery carries."""

import time

import pytest

from sandbox_gateway import services
from sandbox_gateway.models import Delivery
from tests.sandbox_gateway.helpers import create, make_gateway


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_worker_delivers_and_retries(celery_worker_process, settings, receiver_factory):
    settings.SANDBOX_GATEWAY_AUTO_DELIVER = True
    settings.SANDBOX_GATEWAY_RETRY_SCALE = 0.01  # stored on the delivery: the worker follows it
    settings.SANDBOX_GATEWAY_NOTIFY_TRANSPORT = "http"
    receiver = receiver_factory(500, 204)
    gateway = make_gateway()
    services.pay(
        create(gateway, "P202605050001", amount_fen=4321, notify_url=receiver.url).prepay_id
    )
    (delivery,) = Delivery.objects.filter(trade__out_trade_no="P202605050001")
    deadline = time.monotonic() + 60
    while Delivery.objects.get(pk=delivery.pk).status != Delivery.Status.DELIVERED:
        assert time.monotonic() < deadline, "the worker did not deliver"
        time.sleep(0.1)
    assert list(delivery.attempt_rows.values_list("number", "status_code")) == [(1, 500), (2, 204)]
    headers, body = receiver.received[-1]
    assert gateway.parse_notification(headers=headers, body=body).trade.amount_fen == 4321
