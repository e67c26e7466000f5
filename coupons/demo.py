"""Demo coupons for ``manage.py demo_data``: built through the coupons services, safe to run
again (nothing is made twice; templates whose claim window has passed are left to end)."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from merchants.models import Merchant, MerchantStaff

from . import services
from .models import Campaign, Coupon, CouponTemplate

SEED = 20261126
KINDS = [
    dict(kind="cash_off", title="满100减20", discount_fen=2000, min_spend_fen=10000),
    dict(kind="cash_off", title="满50减10", discount_fen=1000, min_spend_fen=5000),
    dict(kind="percent_off", title="8.5折 最多减30", pay_percent=85, cap_fen=3000),
    dict(kind="percent_off", title="9折 最多减50", pay_percent=90, cap_fen=5000),
    dict(kind="gift", title="到店赠饮一杯", gift_item="招牌饮品一杯", discount_fen=1500),
]


class DemoCoupons:
    def __init__(self, *, owner_phone: str, customer_phone: str, count: int = 80):
        self.rng = random.Random(SEED)
        self.now = timezone.now()
        self.owner = User.objects.get(phone=owner_phone)
        self.customer = User.objects.get(phone=customer_phone)
        self.head_office = User.objects.get(username="headoffice")
        self.count = count

    def load(self) -> dict:
        campaign = Campaign.objects.filter(name="联盟双十二").first() or services.campaign_create(
            actor=self.head_office, name="联盟双十二", budget_fen=5_000_000
        )
        tea_house = MerchantStaff.objects.get(user=self.owner).merchant
        if not tea_house.templates.exists():
            self._tea_house(tea_house, campaign)
        others = (
            Merchant.objects.filter(status="active", templates__isnull=True)
            .exclude(pk=tea_house.pk)
            .order_by("pk")
        )
        for merchant in list(others[: max(self.count - self._demo_live(), 0)]):
            owner = merchant.staff.filter(role="owner").select_related("user").first()
            if owner is None:
                continue
            fields = dict(self.rng.choice(KINDS))
            self._live(
                owner.user, merchant, total_stock=self.rng.choice([50, 100, 200, 500]), **fields
            )
        return {
            "live templates": CouponTemplate.objects.filter(status="live").count(),
            "coupons": Coupon.objects.count(),
        }

    def _demo_live(self) -> int:
        return CouponTemplate.objects.filter(status="live").count()

    def _reviewer(self, merchant: Merchant) -> User:
        store = merchant.stores.order_by("pk").first()
        if store and store.branch_id:
            officer = User.objects.filter(role=Role.BRANCH_OFFICER, branch_id=store.branch_id)
            if officer.exists():
                return officer.first()
        return self.head_office

    def _fields(self, merchant: Merchant, **overrides) -> services.TemplateFields:
        values = dict(
            description="",
            total_stock=100,
            claim_start=self.now - timedelta(days=1),
            claim_end=self.now + timedelta(days=30),
            validity="relative",
            valid_days=14,
            store_ids=list(merchant.stores.values_list("pk", flat=True)),
        )
        values.update(overrides)
        return services.TemplateFields(**values)

    def _live(self, owner: User, merchant: Merchant, **fields) -> CouponTemplate:
        template = services.template_create(actor=owner, data=self._fields(merchant, **fields))
        services.template_submit(actor=owner, template_id=template.pk)
        services.template_approve(actor=self._reviewer(merchant), template_id=template.pk)
        return services.template_publish(actor=owner, template_id=template.pk)

    def _tea_house(self, merchant: Merchant, campaign: Campaign) -> None:
        """The printed owner's tea house: live offers, one waiting for review, one draft, and
        the printed customer holding two of its coupons (one already used)."""
        owner = self.owner
        tea = self._live(
            owner,
            merchant,
            kind="cash_off",
            title="满100减20",
            description="茶点满100元立减20元。",
            discount_fen=2000,
            min_spend_fen=10000,
            total_stock=200,
        )
        self._live(
            owner,
            merchant,
            kind="percent_off",
            title="下午茶8.5折 最多减30",
            pay_percent=85,
            cap_fen=3000,
            time_slots=[["14:00", "17:00"]],
            weekdays=0b0011111,
        )
        gift = self._live(
            owner,
            merchant,
            kind="gift",
            title="双十二赠龙井一杯",
            gift_item="明前龙井一杯",
            discount_fen=1800,
            obtain="campaign",
            campaign_id=campaign.pk,
            total_stock=100,
            daily_cap=30,
        )
        waiting = services.template_create(
            actor=owner,
            data=self._fields(
                merchant, kind="cash_off", title="满200减50", discount_fen=5000, min_spend_fen=20000
            ),
        )
        services.template_submit(actor=owner, template_id=waiting.pk)
        services.template_create(
            actor=owner,
            data=self._fields(
                merchant, kind="gift", title="生日赠点心", gift_item="桂花糕一份", discount_fen=1200
            ),
        )
        kept = services.coupon_claim(
            customer=self.customer, template_id=gift.pk, claim_key=uuid.uuid4().hex
        )
        used = services.coupon_claim(
            customer=self.customer, template_id=tea.pk, claim_key=uuid.uuid4().hex
        )
        services.coupon_verify(
            actor=owner, code=services.counter_code_for(used.pk), idempotency_key=uuid.uuid4().hex
        )
        assert kept.status == "issued"
