"""The demo data: merchants in every state, made through the services, the same on every run."""

import io

from django.core.management import call_command

from branches import geo
from branches.models import Branch
from coupons.models import Coupon, CouponTemplate, Offer
from merchants.models import (
    Merchant,
    MerchantApplication,
    MerchantStaff,
    StatusChange,
    Store,
    Visit,
)


def snapshot() -> dict:
    return {
        "applications": sorted(MerchantApplication.objects.values_list("status", flat=True)),
        "merchants": sorted(Merchant.objects.values_list("code", "status")),
        "pool": Merchant.objects.filter(stores__branch__isnull=True).count(),
        "visits": Visit.objects.count(),
        "history": StatusChange.objects.count(),
        "templates": sorted(CouponTemplate.objects.values_list("title", "status")),
        "coupons": sorted(Coupon.objects.values_list("status", flat=True)),
    }


def test_demo_data_twice_gives_the_same_merchants_in_every_state(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    out = io.StringIO()
    call_command("demo_data", stdout=out)
    first = snapshot()
    call_command("demo_data", stdout=io.StringIO())
    assert snapshot() == first

    statuses = set(first["applications"])
    assert {"draft", "submitted", "returned", "rejected", "approved"} <= statuses
    assert {status for _code, status in first["merchants"]} == {"active", "suspended", "closed"}
    assert len(first["applications"]) >= 300
    assert first["pool"] > 0 and first["visits"] > 0
    assert MerchantApplication.objects.filter(status="submitted", branch__isnull=True).exists()
    assert "merchants: draft" in out.getvalue()
    branches = list(Branch.objects.filter(is_active=True))
    in_two_circles = [
        s
        for s in Store.objects.all()
        if sum(geo.distance_m(s.lat, s.lng, b.lat, b.lng) <= 3000 for b in branches) >= 2
    ]
    assert len(in_two_circles) >= 10

    owner = MerchantStaff.objects.select_related("merchant").get(user__phone="+8613900000001")
    cashier = MerchantStaff.objects.get(user__phone="+8613900000002")
    assert owner.role == "owner" and cashier.role == "cashier"
    assert cashier.merchant_id == owner.merchant_id and owner.merchant.status == "active"
    assert owner.user.check_password("Alliance-2026")

    # Coupons: offers to find near every branch, the tea house's review queue and wallet.
    templates = dict(first["templates"])
    assert len([s for _t, s in first["templates"] if s == "live"]) >= 80
    assert templates["满200减50"] == "submitted"
    assert first["coupons"] == ["issued", "verified"]
    assert Offer.objects.count() >= 80
