"""The admin shows merchants read-only, with the settlement account masked."""

import pytest
from django.urls import reverse

from tests.factories import UserFactory
from tests.merchants.factories import approved_merchant


@pytest.fixture
def admin_client(client, db):
    root = UserFactory(role="head_office", username="root", is_staff=True, is_superuser=True)
    client.force_login(root)
    return client


@pytest.mark.parametrize("model", ["merchant", "merchantapplication"])
def test_pages_show_the_account_masked(admin_client, head_office, branch, model):
    merchant = approved_merchant(reviewer=head_office)
    obj_id = merchant.pk if model == "merchant" else merchant.application_id
    for url in (
        reverse(f"admin:merchants_{model}_changelist"),
        reverse(f"admin:merchants_{model}_change", args=[obj_id]),
    ):
        response = admin_client.get(url)
        assert response.status_code == 200
        page = response.content.decode()
        assert "6222021234567890123" not in page and "7890123" not in page
    assert "**** 0123" in page


@pytest.mark.parametrize("model", ["feeplan", "store", "visit", "profilechange"])
def test_other_lists_open(admin_client, head_office, branch, model):
    approved_merchant(reviewer=head_office)
    assert admin_client.get(reverse(f"admin:merchants_{model}_changelist")).status_code == 200
