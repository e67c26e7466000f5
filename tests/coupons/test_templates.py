"""Template lifecycle: every transition allowed from the right state by the right person, refused
otherwise; safe edits after approval; stock never below what is claimed; history rows."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alliance.errors import ApplicationError
from coupons import services
from coupons.models import CouponTemplate, Offer, TemplateChange
from tests.coupons.factories import (
    approved_template,
    draft_template,
    live_template,
    template_fields,
)

Status = CouponTemplate.Status
pytestmark = pytest.mark.django_db


def code_of(call) -> str:
    with pytest.raises(ApplicationError) as caught:
        call()
    return caught.value.code


def statuses(template) -> list[tuple[str, str]]:
    return list(
        TemplateChange.objects.filter(template=template).values_list("from_status", "to_status")
    )


def test_the_whole_lifecycle_is_recorded(owner, officer):
    template = draft_template(owner=owner)
    services.template_submit(actor=owner, template_id=template.pk)
    services.template_approve(actor=officer, template_id=template.pk, reason="ok")
    services.template_publish(actor=owner, template_id=template.pk)
    services.template_pause(actor=owner, template_id=template.pk)
    services.template_resume(actor=owner, template_id=template.pk)
    services.template_end(actor=owner, template_id=template.pk)
    assert statuses(template) == [
        ("", "draft"),
        ("draft", "submitted"),
        ("submitted", "approved"),
        ("approved", "live"),
        ("live", "paused"),
        ("paused", "live"),
        ("live", "ended"),
    ]
    template.refresh_from_db()
    assert template.status == Status.ENDED and template.reviewer == officer
    assert template.published_at is not None


def test_rejection_needs_a_reason_and_the_owner_can_resubmit(owner, officer):
    template = draft_template(owner=owner)
    services.template_submit(actor=owner, template_id=template.pk)
    assert (
        code_of(
            lambda: services.template_reject(actor=officer, template_id=template.pk, reason="  ")
        )
        == "reason_required"
    )
    services.template_reject(actor=officer, template_id=template.pk, reason="Stock too large")
    template.refresh_from_db()
    assert template.status == Status.REJECTED and template.decision_reason == "Stock too large"
    fields = template_fields(store_ids=[s.pk for s in template.stores.all()], total_stock=50)
    services.template_update(actor=owner, template_id=template.pk, data=fields)
    services.template_submit(actor=owner, template_id=template.pk)
    template.refresh_from_db()
    assert template.status == Status.SUBMITTED and template.total_stock == 50


@pytest.mark.parametrize(
    "action, state",
    [
        ("submit", Status.SUBMITTED),
        ("submit", Status.APPROVED),
        ("submit", Status.LIVE),
        ("publish", Status.DRAFT),
        ("publish", Status.SUBMITTED),
        ("publish", Status.LIVE),
        ("pause", Status.APPROVED),
        ("pause", Status.PAUSED),
        ("resume", Status.LIVE),
        ("resume", Status.APPROVED),
        ("end", Status.DRAFT),
        ("end", Status.ENDED),
    ],
)
def test_owner_transitions_from_the_wrong_state_are_refused(owner, officer, action, state):
    template = _in_state(owner, officer, state)
    call = getattr(services, f"template_{action}")
    assert code_of(lambda: call(actor=owner, template_id=template.pk)) == "invalid_transition"
    template.refresh_from_db()
    assert template.status == state


@pytest.mark.parametrize("state", [Status.DRAFT, Status.APPROVED, Status.LIVE, Status.REJECTED])
def test_review_only_of_a_submitted_template(owner, officer, state):
    template = _in_state(owner, officer, state)
    assert (
        code_of(lambda: services.template_approve(actor=officer, template_id=template.pk))
        == "invalid_transition"
    )
    assert (
        code_of(
            lambda: services.template_reject(actor=officer, template_id=template.pk, reason="no")
        )
        == "invalid_transition"
    )


def _in_state(owner, officer, state):
    template = draft_template(owner=owner)
    pk = template.pk
    path = {
        Status.DRAFT: [],
        Status.SUBMITTED: ["submit"],
        Status.APPROVED: ["submit", "approve"],
        Status.REJECTED: ["submit", "reject"],
        Status.LIVE: ["submit", "approve", "publish"],
        Status.PAUSED: ["submit", "approve", "publish", "pause"],
        Status.ENDED: ["submit", "approve", "publish", "end"],
    }[state]
    for step in path:
        if step == "approve":
            services.template_approve(actor=officer, template_id=pk)
        elif step == "reject":
            services.template_reject(actor=officer, template_id=pk, reason="no")
        else:
            getattr(services, f"template_{step}")(actor=owner, template_id=pk)
    template.refresh_from_db()
    assert template.status == state
    return template


def test_only_the_grid_reviews(owner, officer, other_officer, head_office, manager, cashier):
    template = draft_template(owner=owner)
    services.template_submit(actor=owner, template_id=template.pk)
    assert (
        code_of(lambda: services.template_approve(actor=other_officer, template_id=template.pk))
        == "not_in_your_grid"
    )
    assert (
        code_of(lambda: services.template_approve(actor=owner, template_id=template.pk))
        == "not_in_your_grid"
    )
    assert (
        code_of(lambda: services.template_approve(actor=cashier, template_id=template.pk))
        == "not_in_your_grid"
    )
    services.template_approve(actor=head_office, template_id=template.pk)
    template.refresh_from_db()
    assert template.status == Status.APPROVED


def test_a_manager_of_the_grid_reviews_too(owner, manager):
    template = draft_template(owner=owner)
    services.template_submit(actor=owner, template_id=template.pk)
    services.template_reject(actor=manager, template_id=template.pk, reason="Photos missing")
    template.refresh_from_db()
    assert template.status == Status.REJECTED


def test_cashier_and_other_merchant_cannot_write(owner, officer, cashier, other_owner):
    assert code_of(lambda: draft_template(owner=cashier)) == "permission_denied"
    template = draft_template(owner=owner)
    assert (
        code_of(lambda: services.template_submit(actor=cashier, template_id=template.pk))
        == "permission_denied"
    )
    assert (
        code_of(lambda: services.template_submit(actor=other_owner, template_id=template.pk))
        == "not_in_your_grid"
    )


def test_a_template_only_for_own_stores(owner, other_shop):
    other_store = other_shop.stores.get()
    assert code_of(lambda: draft_template(owner=owner, store_ids=[other_store.pk])) == "invalid"


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"title": ""}, "title"),
        ({"total_stock": 0}, "total_stock"),
        ({"per_customer_limit": 0}, "per_customer_limit"),
        ({"discount_fen": 0}, "discount_fen"),
        ({"discount_fen": 10000, "min_spend_fen": 10000}, "discount_fen"),
        ({"kind": "percent_off", "pay_percent": 100, "cap_fen": 3000}, "pay_percent"),
        ({"kind": "percent_off", "pay_percent": 85, "cap_fen": 0}, "cap_fen"),
        (
            {"kind": "paid_voucher", "price_fen": 8000, "discount_fen": 8000, "obtain": "purchase"},
            "discount_fen",
        ),
        ({"kind": "paid_voucher", "price_fen": 8000, "discount_fen": 10000}, "obtain"),
        ({"kind": "gift", "gift_item": " "}, "gift_item"),
        ({"obtain": "points", "points_price": 0}, "points_price"),
        ({"validity": "relative", "valid_days": 0}, "valid_days"),
        ({"validity": "fixed"}, "valid_until"),
        ({"weekdays": 0}, "weekdays"),
        ({"time_slots": [["14:00", "11:00"]]}, "time_slots"),
        ({"time_slots": [["25:00", "26:00"]]}, "time_slots"),
        ({"time_slots": "all day"}, "time_slots"),
        ({"daily_cap": 0}, "daily_cap"),
        ({"obtain": "campaign"}, "campaign_id"),
        ({"discount_fen": 20.5}, "discount_fen"),
    ],
)
def test_bad_fields_are_refused_with_the_field_named(owner, overrides, field):
    with pytest.raises(ApplicationError) as caught:
        draft_template(owner=owner, **overrides)
    assert caught.value.code == "invalid"
    assert field in caught.value.extra["fields"]
    assert not CouponTemplate.objects.exists()


def test_claim_window_must_end_after_it_starts(owner):
    now = timezone.now()
    with pytest.raises(ApplicationError) as caught:
        draft_template(owner=owner, claim_start=now, claim_end=now)
    assert "claim_end" in caught.value.extra["fields"]


def test_the_other_kinds_are_accepted(owner):
    percent = draft_template(
        owner=owner, kind="percent_off", pay_percent=85, cap_fen=3000, discount_fen=0
    )
    assert percent.worst_case_cost_fen == 3000
    voucher = draft_template(
        owner=owner, kind="paid_voucher", price_fen=8000, discount_fen=10000, obtain="purchase"
    )
    assert voucher.worst_case_cost_fen == 2000
    gift = draft_template(
        owner=owner, kind="gift", gift_item="A cup of Longjing", discount_fen=1500
    )
    assert gift.worst_case_cost_fen == 1500


def test_after_approval_only_wording_changes(owner, officer):
    template = approved_template(owner=owner, reviewer=officer)
    stores = [s.pk for s in template.stores.all()]
    kept = {f: getattr(template, f) for f in ("claim_start", "claim_end")}
    services.template_update(
        actor=owner,
        template_id=template.pk,
        data=template_fields(
            store_ids=stores, title="Spend ¥100, save ¥20", description="New words", **kept
        ),
    )
    template.refresh_from_db()
    assert template.title == "Spend ¥100, save ¥20"
    unsafe = template_fields(store_ids=stores, discount_fen=5000, **kept)
    with pytest.raises(ApplicationError) as caught:
        services.template_update(actor=owner, template_id=template.pk, data=unsafe)
    assert caught.value.code == "unsafe_edit"
    assert "discount_fen" in caught.value.extra["fields"]
    template.refresh_from_db()
    assert template.discount_fen == 2000
    assert TemplateChange.objects.filter(template=template, reason="edited").count() == 1


def test_stock_grows_but_never_below_claimed(owner, officer, customers):
    template = live_template(owner=owner, reviewer=officer, total_stock=3)
    for n, customer in enumerate(customers[:2]):
        services.coupon_claim(customer=customer, template_id=template.pk, claim_key=f"key-{n:06d}")
    assert (
        code_of(
            lambda: services.template_set_stock(actor=owner, template_id=template.pk, total_stock=1)
        )
        == "stock_below_claimed"
    )
    # After approval even a cut that stays above claimed is not a safe edit.
    assert (
        code_of(
            lambda: services.template_set_stock(actor=owner, template_id=template.pk, total_stock=2)
        )
        == "unsafe_edit"
    )
    services.template_add_stock(actor=owner, template_id=template.pk, more=10)
    template.refresh_from_db()
    assert (template.total_stock, template.stock_left) == (13, 11)


def test_a_draft_stock_can_be_cut(owner):
    template = draft_template(owner=owner, total_stock=100)
    services.template_set_stock(actor=owner, template_id=template.pk, total_stock=40)
    template.refresh_from_db()
    assert (template.total_stock, template.stock_left) == (40, 40)


def test_offers_exist_only_while_live(owner, officer, store):
    template = approved_template(owner=owner, reviewer=officer)
    assert not Offer.objects.exists()
    services.template_publish(actor=owner, template_id=template.pk)
    offer = Offer.objects.get()
    assert (offer.store_id, offer.lat, offer.lng, offer.h3_cell) == (
        store.pk,
        store.lat,
        store.lng,
        store.h3_cell,
    )
    services.template_pause(actor=owner, template_id=template.pk)
    assert not Offer.objects.exists()
    services.template_resume(actor=owner, template_id=template.pk)
    assert Offer.objects.count() == 1
    services.template_end(actor=officer, template_id=template.pk, reason="Complaint")
    assert not Offer.objects.exists()


def test_bank_staff_pause_or_end_only_with_a_reason(owner, officer, other_officer):
    template = live_template(owner=owner, reviewer=officer)
    assert (
        code_of(lambda: services.template_pause(actor=officer, template_id=template.pk))
        == "reason_required"
    )
    assert (
        code_of(
            lambda: services.template_pause(
                actor=other_officer, template_id=template.pk, reason="x"
            )
        )
        == "not_in_your_grid"
    )
    services.template_pause(actor=officer, template_id=template.pk, reason="Complaint")
    change = TemplateChange.objects.filter(template=template).last()
    assert (change.actor, change.to_status, change.reason) == (officer, "paused", "Complaint")


def test_the_beat_job_ends_templates_whose_window_closed(owner, officer):
    template = live_template(owner=owner, reviewer=officer)
    assert services.templates_end_due(now=template.claim_end - timedelta(seconds=1)) == 0
    assert services.templates_end_due(now=template.claim_end) == 1
    template.refresh_from_db()
    assert template.status == Status.ENDED
    assert not Offer.objects.filter(template=template).exists()
    assert services.templates_end_due(now=template.claim_end) == 0


def test_publishing_after_the_window_is_refused(owner, officer):
    now = timezone.now()
    template = approved_template(
        owner=owner,
        reviewer=officer,
        claim_start=now - timedelta(days=2),
        claim_end=now - timedelta(seconds=1),
    )
    assert (
        code_of(lambda: services.template_publish(actor=owner, template_id=template.pk))
        == "invalid_transition"
    )


def test_history_rows_cannot_change(owner):
    template = draft_template(owner=owner)
    change = TemplateChange.objects.get(template=template)
    with pytest.raises(TypeError):
        change.save()
    with pytest.raises(TypeError):
        change.delete()


def test_an_approved_rename_reaches_the_offers(owner, officer, shop):
    from merchants import services as merchant_services

    live_template(owner=owner, reviewer=officer)
    request = merchant_services.profile_change_request(
        actor=owner, merchant_id=shop.pk, changes={"business_name": "West Lake Tea House"}
    )
    merchant_services.profile_change_decide(
        actor=officer, change_id=request.pk, approve=True, reason=""
    )
    assert list(Offer.objects.values_list("merchant_name", flat=True)) == ["West Lake Tea House"]


def test_closing_a_merchant_ends_its_offers(owner, officer, manager, shop):
    from merchants import services as merchant_services

    live = live_template(owner=owner, reviewer=officer)
    waiting = draft_template(owner=owner)
    services.template_submit(actor=owner, template_id=waiting.pk)
    merchant_services.merchant_close(actor=manager, merchant_id=shop.pk, reason="Moved away")
    live.refresh_from_db()
    waiting.refresh_from_db()
    assert (live.status, waiting.status) == (Status.ENDED, Status.REJECTED)
    assert not Offer.objects.exists()
    change = TemplateChange.objects.filter(template=live).last()
    assert (change.actor, change.reason) == (manager, "Moved away")


def test_a_suspended_merchant_leaves_the_nearby_list_until_reinstated(owner, officer, manager,
                                                                       shop):
    from merchants import services as merchant_services

    live_template(owner=owner, reviewer=officer)
    merchant_services.merchant_suspend(actor=manager, merchant_id=shop.pk, reason="Audit")
    assert not Offer.objects.exists()
    merchant_services.merchant_reinstate(actor=manager, merchant_id=shop.pk, reason="Done")
    assert Offer.objects.filter(merchant=shop).count() == 1
