import pytest

from accounts import sms
from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def sms_outbox():
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


@pytest.fixture
def applicant(db):
    return UserFactory(role="customer", phone="+8613900001111")


@pytest.fixture
def other_manager(db, other_branch):
    return UserFactory(role="branch_manager", username="manager-b", branch=other_branch)
