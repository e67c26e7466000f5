"""Head office manages accounts in the admin; the password hash is never shown."""

import pytest
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    superuser = UserFactory(
        role="head_office", username="root", is_staff=True, is_superuser=True, password="Root-2026!"
    )
    client.force_login(superuser)
    return client


def test_the_user_list_shows_masked_numbers(admin_client, merchant_owner):
    page = admin_client.get(reverse("admin:accounts_user_changelist")).content.decode()
    assert merchant_owner.masked_phone in page


def test_the_user_page_never_shows_the_password_hash(admin_client, merchant_owner):
    url = reverse("admin:accounts_user_change", args=[merchant_owner.pk])
    page = admin_client.get(url).content.decode()
    algorithm, *_rest, digest = merchant_owner.password.split("$")
    assert digest not in page and f"{algorithm}$" not in page
    assert reverse("admin:auth_user_password_change", args=[merchant_owner.pk]) in page


def test_the_user_page_links_to_enrolling_a_totp_device(admin_client, officer):
    TOTPDevice.objects.create(user=officer, name="phone", confirmed=True)
    url = reverse("admin:accounts_user_change", args=[officer.pk])
    page = admin_client.get(url).content.decode()
    assert reverse("admin:otp_totp_totpdevice_add") + f"?user={officer.pk}" in page
    enrol = admin_client.get(reverse("admin:otp_totp_totpdevice_add"), {"user": officer.pk})
    assert enrol.status_code == 200


def test_head_office_adds_a_branch_officer(admin_client, branch):
    assert admin_client.get(reverse("admin:accounts_user_add")).status_code == 200
    response = admin_client.post(
        reverse("admin:accounts_user_add"),
        {
            "phone": "139 0000 0042",
            "name": "New Officer",
            "role": "branch_officer",
            "branch": branch.pk,
            "username": "officer-new",
            "usable_password": "true",
            "password1": "Branch-2026!x",
            "password2": "Branch-2026!x",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(username="officer-new")
    assert (user.phone, user.role, user.branch) == ("+8613900000042", "branch_officer", branch)
    assert user.check_password("Branch-2026!x")


def test_a_branch_officer_without_a_branch_is_a_form_error(admin_client):
    response = admin_client.post(
        reverse("admin:accounts_user_add"),
        {"phone": "13900000043", "role": "branch_officer", "username": "x"},
    )
    assert response.status_code == 200
    assert "branch" in response.context["adminform"].form.errors
    assert not User.objects.filter(phone="+8613900000043").exists()


def test_the_unlock_action(admin_client, merchant_owner):
    User.objects.filter(pk=merchant_owner.pk).update(failed_login_count=3)
    admin_client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "unlock", "_selected_action": [merchant_owner.pk]},
    )
    merchant_owner.refresh_from_db()
    assert merchant_owner.failed_login_count == 0


def test_head_office_edits_a_user(admin_client, merchant_owner):
    url = reverse("admin:accounts_user_change", args=[merchant_owner.pk])
    response = admin_client.post(
        url,
        {
            "phone": "+86 139 0000 0044",
            "name": "Tea House Owner",
            "role": "merchant_owner",
            "branch": "",
            "username": "",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    merchant_owner.refresh_from_db()
    assert (merchant_owner.phone, merchant_owner.name) == ("+8613900000044", "Tea House Owner")
    assert merchant_owner.username is None
