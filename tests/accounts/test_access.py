"""Where TOTP is required, a staff session without the second factor reaches nothing."""

import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.access import branch_scope, second_factor_ok
from branches.models import Branch

pytestmark = pytest.mark.django_db


@pytest.fixture
def otp_required(settings):
    settings.ALLIANCE_STAFF_OTP_REQUIRED = True


def test_console_page_sends_an_unverified_session_back_to_sign_in(client, head_office, otp_required):
    client.force_login(head_office)  # password only, as if the TOTP step were skipped
    response = client.get(reverse("branches:list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:staff_login"))


def test_api_refuses_an_unverified_staff_session(client, head_office, otp_required):
    client.force_login(head_office)
    response = client.get("/api/branches/")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_scope_of_an_unverified_user_is_empty(head_office, branch, otp_required):
    assert not second_factor_ok(head_office)
    assert not branch_scope(head_office, Branch.objects.all()).exists()


def test_after_the_totp_step_the_console_opens(client, head_office, branch, otp_required):
    head_office.set_password("Staff-Pass-2026!")
    head_office.save()
    device = TOTPDevice.objects.create(user=head_office, name="phone", confirmed=True)
    token = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    response = client.post(
        reverse("accounts:staff_login"),
        {"username": head_office.username, "password": "Staff-Pass-2026!", "otp_token": f"{token:06d}"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert client.get(reverse("branches:list")).status_code == 200
    assert client.get("/api/branches/").status_code == 200


def test_without_the_requirement_password_sessions_work(client, head_office, branch):
    client.force_login(head_office)
    assert client.get(reverse("branches:list")).status_code == 200
