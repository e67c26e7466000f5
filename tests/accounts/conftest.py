import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import sms

OFFICER_PASSWORD = "Branch-2026!"  # noqa: S105
MERCHANT_PASSWORD = "Counter-2026!"  # noqa: S105 - the merchant_owner fixture's password


@pytest.fixture(autouse=True)
def sms_outbox():
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


@pytest.fixture
def staff_officer(officer):
    """The officer from tests/conftest.py, with a password."""
    officer.set_password(OFFICER_PASSWORD)
    officer.save(update_fields=["password"])
    return officer


@pytest.fixture
def officer_device(staff_officer):
    return TOTPDevice.objects.create(user=staff_officer, name="officer phone", confirmed=True)
