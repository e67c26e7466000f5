"""The ``Offer`` rows behind "offers near me": one per (live template, store), at the store's
location. Written only here, inside the transaction that changes what they mirror."""

from __future__ import annotations

from ..models import CouponTemplate, Offer


def offers_publish(template: CouponTemplate) -> None:
    merchant = template.merchant
    rows = [
        Offer(
            template=template,
            store=store,
            merchant=merchant,
            category=merchant.category,
            merchant_name=merchant.business_name,
            published_at=template.published_at,
            claim_start=template.claim_start,
            claim_end=template.claim_end,
            lat=store.lat,
            lng=store.lng,
            h3_cell=store.h3_cell,
        )
        for store in template.stores.all()
    ]
    Offer.objects.bulk_create(rows, ignore_conflicts=True)


def offers_withdraw(template: CouponTemplate) -> None:
    Offer.objects.filter(template=template).delete()


def offers_store_moved(*, store_id: int, lat: float, lng: float, h3_cell: int) -> None:
    """A store's location changed: its offers follow it."""
    Offer.objects.filter(store_id=store_id).update(lat=lat, lng=lng, h3_cell=h3_cell)


def offers_merchant_renamed(*, merchant_id: int, name: str, category: str) -> None:
    Offer.objects.filter(merchant_id=merchant_id).update(merchant_name=name, category=category)


def offers_merchant_suspended(*, merchant_id: int) -> None:
    """A suspended merchant offers nothing: its rows go (the templates stay live, claims are
    refused while suspended)."""
    Offer.objects.filter(merchant_id=merchant_id).delete()


def offers_merchant_reinstated(*, merchant_id: int) -> None:
    """Back in the alliance: the rows of its live templates return."""
    live = CouponTemplate.objects.filter(merchant_id=merchant_id, status=CouponTemplate.Status.LIVE)
    for template in live.select_related("merchant").prefetch_related("stores"):
        offers_publish(template)
