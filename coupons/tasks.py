"""Beat jobs of the coupons domain (schedule in ``settings.base``)."""

from celery import shared_task

from .services import coupons_expire_due, templates_end_due
from .services.offers import offers_refresh_popularity


@shared_task
def expire_due_coupons() -> int:
    return coupons_expire_due()


@shared_task
def end_due_templates() -> int:
    return templates_end_due()


@shared_task
def refresh_offer_popularity() -> int:
    return offers_refresh_popularity()
