"""Bank staff look customers up: head office anyone, branch staff only customers who dealt with
their grid's merchants, and only those dealings."""

import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from coupons import services as coupon_services
from points.errors import CustomerNotFound
from tests.coupons.conftest import other_owner, other_shop, owner, shop  # noqa: F401
from tests.coupons.factories import live_template
from tests.factories import UserFactory

from .factories import earn_available

URL = reverse("points:console_customer")
pytestmark = pytest.mark.django_db


def find(client, user, phone):
    client.force_login(user)
    return client.get(URL, {"phone": phone.removeprefix("+86")}).content.decode()


@pytest.fixture
def regular(shop, other_shop, owner, officer):  # noqa: F811
    """A customer who earned at the ``branch`` grid's shop and at the other grid's shop, and
    holds a coupon of the first."""
    customer = UserFactory(role="customer")
    past = timezone.now() - timedelta(days=20)
    earn_available(customer, 111, now=past, merchant_id=shop.pk)
    earn_available(customer, 222, now=past, merchant_id=other_shop.pk)
    template = live_template(owner=owner, reviewer=officer, title="West Lake tea")
    coupon_services.coupon_claim(
        customer=customer, template_id=template.pk, claim_key=uuid.uuid4().hex
    )
    return customer


def test_head_office_sees_everything(client, head_office, regular):
    page = find(client, head_office, regular.phone)
    assert "+111" in page and "+222" in page and "West Lake tea" in page
    assert 'id="summary"' in page


def test_an_officer_sees_only_the_grids_dealings(client, officer, regular):
    page = find(client, officer, regular.phone)
    assert "+111" in page and "+222" not in page and "West Lake tea" in page
    assert 'id="summary"' not in page  # not the whole balance


def test_the_other_grid_sees_its_own_only(client, other_officer, regular):
    page = find(client, other_officer, regular.phone)
    assert "+222" in page and "+111" not in page and "West Lake tea" not in page


def test_a_stranger_to_the_grid_is_not_found(client, officer, customer, regular):
    page = find(client, officer, customer.phone)
    assert 'id="history"' not in page
    with translation.override("zh-hans"):
        assert str(CustomerNotFound.message) in page
    # By id too: no probing.
    client.force_login(officer)
    by_id = client.get(URL, {"customer": customer.pk}).content.decode()
    assert 'id="history"' not in by_id


def test_customers_and_merchants_cannot_open_it(client, customer, owner):  # noqa: F811
    client.force_login(customer)
    assert client.get(URL).status_code in (302, 403)
    client.force_login(owner)
    assert client.get(URL).status_code in (302, 403)
