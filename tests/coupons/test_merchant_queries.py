"""The template list (page and API) costs the same number of queries for 2 templates as for 20:
the numbers come from one aggregate over coupons grouped by template and status."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from coupons import services
from tests.coupons.factories import draft_template, live_template, typed

pytestmark = pytest.mark.django_db


def make_templates(owner, officer, customers, count: int) -> None:
    """``count`` templates, every other one live with a claimed and a used coupon."""
    for i in range(count):
        if i % 2:
            draft_template(owner=owner, title=f"Draft {i}")
            continue
        template = live_template(owner=owner, reviewer=officer, title=f"Live {i}")
        for customer in customers[:2]:
            coupon = services.coupon_claim(
                customer=customer, template_id=template.pk, claim_key=uuid.uuid4().hex
            )
        services.coupon_verify(actor=owner, code=typed(coupon), idempotency_key=uuid.uuid4().hex)


def queries(fetch) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = fetch()
    assert response.status_code == 200
    return len(captured)


def page(client):
    return lambda: client.get("/merchant/coupons/")


def api(owner):
    client = APIClient()
    client.force_authenticate(owner)
    return lambda: client.get("/api/coupons/merchant/templates/")


@pytest.mark.parametrize("kind", ["page", "api"])
def test_the_list_costs_the_same_for_2_and_20_templates(client, owner, officer, customers, kind):
    client.force_login(owner)
    fetch = page(client) if kind == "page" else api(owner)
    make_templates(owner, officer, customers, 2)
    few = queries(fetch)
    make_templates(owner, officer, customers, 18)
    response = fetch()
    listed = response.content.decode().count("Live ") + response.content.decode().count("Draft ")
    assert listed >= 20
    assert queries(fetch) == few


def test_the_numbers_are_right_in_the_list(client, owner, officer, customers):
    client.force_login(owner)
    make_templates(owner, officer, customers, 2)
    html = client.get("/merchant/coupons/").content.decode()
    assert html.count('<td class="claimed">2</td>') == 1
    assert html.count('<td class="verified">1</td>') == 1
    assert html.count('<td class="conversion">50%</td>') == 1
