"""History rows cannot be changed, not even by a queryset update or raw SQL (PostgreSQL)."""

import pytest
from django.db import DatabaseError, connection, transaction

from coupons import services
from coupons.models import CampaignEntry, CouponEvent, TemplateChange
from merchants.models import StatusChange
from tests.coupons.factories import live_template

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.mark.parametrize("model", [TemplateChange, CouponEvent, CampaignEntry, StatusChange])
def test_the_database_refuses_updates_and_deletes(model, owner, officer, head_office, customer):
    campaign = services.campaign_create(actor=head_office, name="Spring", budget_fen=10_000)
    template = live_template(
        owner=owner, reviewer=officer, obtain="campaign", campaign_id=campaign.pk
    )
    services.coupon_claim(customer=customer, template_id=template.pk, claim_key="h" * 10)
    assert model.objects.exists()
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        model.objects.update(created_at=None)
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        model.objects.all().delete()
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {model._meta.db_table}")
