"""Head office edits earning rules and tiers in the admin and reads the ledger there; nobody
else gets in, and nobody writes ledger rows through it."""

import pytest
from django.urls import reverse
from django.utils import timezone

from points.models import EarnCampaign, EarnRate, JournalEntry, PointsAccount, PointsLot, Tier
from tests.factories import UserFactory

from .conftest import sh
from .factories import earn

pytestmark = pytest.mark.django_db

CONFIG = ["earnrate", "earncampaign", "tier"]
LEDGER = ["pointsaccount", "journalentry", "pointslot", "earnreversal"]


def url(model: str, view: str, *args) -> str:
    return reverse(f"admin:points_{model}_{view}", args=args)


@pytest.fixture
def ho_client(client):
    user = UserFactory(role="head_office", username="ho-points", is_staff=True)
    client.force_login(user)
    return client


@pytest.fixture
def entry(customer):
    return earn(customer, 120, now=sh(2026, 3, 1, 12))


@pytest.mark.parametrize("model", CONFIG + LEDGER)
def test_head_office_opens_every_changelist(ho_client, entry, model):
    assert ho_client.get(url(model, "changelist")).status_code == 200


def test_head_office_adds_an_earn_rate(ho_client):
    response = ho_client.post(
        url("earnrate", "add"),
        {"points_per_yuan": "3", "valid_from_0": "2030-01-01", "valid_from_1": "00:00:00"},
    )
    assert response.status_code == 302
    rate = EarnRate.objects.get()
    assert rate.points_per_yuan == 3
    assert rate.created_by.username == "ho-points"


def test_a_negative_rate_is_a_form_error(ho_client):
    response = ho_client.post(
        url("earnrate", "add"),
        {"points_per_yuan": "-1", "valid_from_0": "2030-01-01", "valid_from_1": "00:00:00"},
    )
    assert response.status_code == 200
    assert "points_per_yuan" in response.context["adminform"].form.errors
    assert not EarnRate.objects.exists()


def test_a_rate_in_force_is_history(ho_client):
    rate = EarnRate.objects.create(points_per_yuan=1, valid_from=timezone.now())
    page = ho_client.get(url("earnrate", "change", rate.pk))
    assert "points_per_yuan" not in page.context["adminform"].form.fields
    assert ho_client.get(url("earnrate", "delete", rate.pk)).status_code == 403


def test_head_office_adds_a_tier(ho_client):
    response = ho_client.post(
        url("tier", "add"),
        {"code": "gold", "name": "金卡", "threshold_fen": "5000000", "multiplier_percent": "150"},
    )
    assert response.status_code == 302
    tier = Tier.objects.get()
    assert (tier.code, tier.threshold_fen, tier.multiplier_percent) == ("gold", 5_000_000, 150)
    assert "¥50,000.00" in ho_client.get(url("tier", "changelist")).content.decode()


@pytest.mark.parametrize(
    "data, field",
    [
        ({"threshold_fen": "-1", "multiplier_percent": "100"}, "threshold_fen"),
        ({"threshold_fen": "100.5", "multiplier_percent": "100"}, "threshold_fen"),
        ({"threshold_fen": "0", "multiplier_percent": "100"}, "threshold_fen"),  # taken
        ({"threshold_fen": "100", "multiplier_percent": "-5"}, "multiplier_percent"),
        ({"threshold_fen": "100", "multiplier_percent": "90"}, "multiplier_percent"),  # < lower
    ],
)
def test_bad_tiers_are_form_errors(ho_client, data, field):
    Tier.objects.create(code="normal", name="普通", threshold_fen=0, multiplier_percent=100)
    response = ho_client.post(url("tier", "add"), {"code": "silver", "name": "银卡", **data})
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert Tier.objects.count() == 1


def test_a_campaign_must_end_after_it_starts(ho_client):
    response = ho_client.post(
        url("earncampaign", "add"),
        {
            "name": "tea week", "bonus_percent": "50", "funder": "bank", "is_active": "on",
            "starts_at_0": "2030-01-08", "starts_at_1": "00:00:00",
            "ends_at_0": "2030-01-01", "ends_at_1": "00:00:00",
        },
    )
    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["ends_at"]
    assert not EarnCampaign.objects.exists()


def test_head_office_adds_a_campaign(ho_client):
    response = ho_client.post(
        url("earncampaign", "add"),
        {
            "name": "tea week", "bonus_percent": "50", "category": "tea", "funder": "bank",
            "starts_at_0": "2030-01-01", "starts_at_1": "00:00:00",
            "ends_at_0": "2030-01-08", "ends_at_1": "00:00:00",
        },
    )
    assert response.status_code == 302
    assert EarnCampaign.objects.get().bonus_percent == 50


@pytest.mark.parametrize("role", ["branch_officer", "branch_manager", "customer"])
@pytest.mark.parametrize("model", CONFIG + LEDGER)
def test_nobody_else_gets_in(client, branch, role, model):
    user = UserFactory(role=role, is_staff=True, is_superuser=True,
                       branch=branch if role != "customer" else None)
    client.force_login(user)
    assert client.get(url(model, "changelist")).status_code == 403
    assert client.get(url(model, "add")).status_code == 403


def test_a_customer_is_sent_to_sign_in(client, customer):
    client.force_login(customer)
    response = client.get(url("tier", "changelist"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_branch_staff_do_not_even_see_the_points_section(client, officer):
    officer.is_staff = True
    officer.save()
    client.force_login(officer)
    page = client.get(reverse("admin:index")).content.decode()
    assert url("tier", "changelist") not in page
    assert client.post(url("tier", "add"), {"code": "x", "name": "x", "threshold_fen": "0",
                                            "multiplier_percent": "100"}).status_code == 403
    assert not Tier.objects.exists()


def test_head_office_reads_an_account_history(ho_client, customer, entry):
    page = ho_client.get(url("journalentry", "changelist"), {"q": customer.phone[-8:]})
    text = page.content.decode()
    assert list(page.context["cl"].result_list) == [entry]
    assert customer.masked_phone in text and customer.phone not in text
    accounts = ho_client.get(url("pointsaccount", "changelist"), {"kind__exact": "customer"})
    assert [a.customer_id for a in accounts.context["cl"].result_list] == [customer.pk]
    assert customer.phone not in accounts.content.decode()
    detail = ho_client.get(url("journalentry", "change", entry.pk))
    assert detail.status_code == 200
    assert len(detail.context["inline_admin_formsets"][0].formset.queryset) >= 2
    lot = PointsLot.objects.get()
    for model, pk in [("journalentry", entry.pk), ("pointsaccount", lot.account_id),
                      ("pointslot", lot.pk)]:
        assert customer.phone not in ho_client.get(url(model, "change", pk)).content.decode()


def test_other_phones_find_nothing(ho_client, entry):
    page = ho_client.get(url("journalentry", "changelist"), {"q": "19999999999"})
    assert list(page.context["cl"].result_list) == []


def test_the_ledger_cannot_be_written_through_the_admin(ho_client, entry):
    account = PointsAccount.objects.get(kind="customer")
    lot = PointsLot.objects.get()
    for model, pk in [("pointsaccount", account.pk), ("journalentry", entry.pk),
                      ("pointslot", lot.pk)]:
        assert ho_client.get(url(model, "add")).status_code == 403
        assert ho_client.post(url(model, "add"), {}).status_code == 403
        assert ho_client.get(url(model, "change", pk)).status_code == 200  # view only
        assert ho_client.post(url(model, "change", pk), {}).status_code == 403
        assert ho_client.get(url(model, "delete", pk)).status_code == 403
        assert ho_client.post(url(model, "delete", pk), {"post": "yes"}).status_code == 403
    assert JournalEntry.objects.filter(pk=entry.pk).exists()
    assert PointsLot.objects.filter(pk=lot.pk, remaining_points=120).exists()


def test_head_office_turns_transfers_on_in_the_admin(ho_client, customer):
    from points.models import PointsPolicy

    client = ho_client
    friend = UserFactory(role="customer")
    listing = client.get("/admin/points/pointspolicy/")
    assert listing.status_code == 200
    response = client.post("/admin/points/pointspolicy/1/change/", {"transfer_enabled": "on"})
    assert response.status_code == 302
    assert PointsPolicy.current().transfer_enabled
    assert client.get("/admin/points/pointspolicy/add/").status_code == 403  # one row only
    from points import services

    with pytest.raises(Exception) as caught:  # enabled: now it is the balance that refuses
        services.points_transfer(actor=customer, from_customer_id=customer.pk,
                                 to_customer_id=friend.pk, points=5, idempotency_key="t-admin")
    assert caught.value.code == "points_insufficient"
