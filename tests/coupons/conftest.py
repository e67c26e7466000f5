"""Coupon fixtures: a merchant in the ``branch`` grid (and one in ``other_branch``'s), its
owner and cashier, made through the merchants services."""

import pytest

from merchants import services as merchant_services
from tests.factories import UserFactory
from tests.merchants.conftest import sms_outbox  # noqa: F401  (autouse)
from tests.merchants.factories import approved_merchant, near

OTHER_BRANCH = (30.2450, 120.2100)  # tests/conftest.py's ``other_branch``


@pytest.fixture
def shop(db, branch, officer):
    return approved_merchant(reviewer=officer)


@pytest.fixture
def owner(shop):
    return shop.application.applicant


@pytest.fixture
def store(shop):
    return shop.stores.get()


@pytest.fixture
def cashier(shop, owner):
    staff = merchant_services.staff_add(actor=owner, phone="13700000042", name="Cashier")
    return staff.user


@pytest.fixture
def other_shop(db, other_branch, other_officer):
    return approved_merchant(reviewer=other_officer, location=near(OTHER_BRANCH, metres=300))


@pytest.fixture
def other_owner(other_shop):
    return other_shop.application.applicant


@pytest.fixture
def customers(db):
    return [UserFactory(role="customer") for _ in range(3)]
