"""The ``Offer`` rows behind "offers near me": one per (live template, store), at the store's
location. Written only here, inside the transaction that changes what they mirror, except
``popularity`` (the claimed count), which a beat job copies every few minutes so that a claim
writes nothing here."""

from __future__ import annotations

from django.db.models import F, OuterRef, Subquery

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
            popularity=template.claimed,
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


def offers_refresh_popularity() -> int:
    """Copy each live template's claimed count onto its offers (the "most claimed" sort reads
    it there); returns how many rows changed. Only rows whose count moved are written, in one
    statement. Run by beat every five minutes (``coupons.tasks.refresh_offer_popularity``): the
    sort may be that far behind the counts shown on the page, which are read live."""
    claimed = F("template__total_stock") - F("template__stock_left")
    template_claimed = CouponTemplate.objects.filter(pk=OuterRef("template_id")).values(
        n=F("total_stock") - F("stock_left")
    )[:1]
    stale = Offer.objects.exclude(popularity=claimed)
    return stale.update(popularity=Subquery(template_claimed))
