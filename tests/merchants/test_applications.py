"""Applying, submitting and deciding: every transition allowed and refused."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import translation

from accounts.models import User
from alliance.errors import ApplicationError
from branches.models import GridMove
from merchants import selectors, services
from merchants.models import (
    Merchant,
    MerchantApplication,
    MerchantStaff,
    StatusChange,
    Store,
    StorePhoto,
)
from tests.merchants.factories import (
    approved_merchant,
    complete_fields,
    credit_code,
    draft_application,
    fee_plan,
    submitted_application,
)

Status = MerchantApplication.Status


def codes_of(call):
    with pytest.raises(ApplicationError) as exc:
        call()
    return exc.value.code


def history(application):
    return [(c.from_status, c.to_status) for c in application.status_changes.order_by("pk")]


# --- Drafts ---------------------------------------------------------------------------------------


def test_a_draft_can_start_empty_and_be_resumed(applicant, branch):
    app = services.application_create(applicant=applicant)
    assert app.status == Status.DRAFT and app.lat is None and app.branch_id is None
    services.application_update(
        actor=applicant,
        application_id=app.pk,
        data=services.ApplicationFields(business_name=" Tea ", contact_phone="138 0571 0001"),
    )
    app.refresh_from_db()
    assert app.business_name == "Tea" and app.contact_phone == "+8613805710001"
    assert services.missing_fields(app)[:1] == ["category"]
    assert history(app) == [("", "draft")]


def test_one_open_application_per_applicant(applicant):
    first = services.application_create(applicant=applicant)
    with pytest.raises(ApplicationError) as exc:
        services.application_create(applicant=applicant)
    assert exc.value.code == "application_exists"
    assert exc.value.extra == {"application_id": first.pk}


def test_the_database_also_keeps_one_open_application(applicant):
    services.application_create(applicant=applicant)
    with pytest.raises(IntegrityError), transaction.atomic():
        MerchantApplication.objects.create(applicant=applicant)


@pytest.mark.parametrize("role", ["branch_officer", "head_office"])
def test_bank_staff_cannot_apply(db, request, role):
    # ``db`` asked for here, not only lazily through getfixturevalue: lazily, it left a
    # PostgreSQL session open to the end of the run when a live-server test came later.
    user = request.getfixturevalue(
        {"branch_officer": "officer", "head_office": "head_office"}[role]
    )
    assert codes_of(lambda: services.application_create(applicant=user)) == "permission_denied"


def test_the_location_puts_the_draft_in_a_grid(applicant, branch):
    app = draft_application(applicant=applicant)
    assert app.branch_id == branch.pk


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"contact_phone": "12345"}, "invalid_phone"),
        ({"category": "casino"}, "invalid"),
        ({"settlement_account_number": "12ab"}, "invalid"),
        ({"lat": 91.0, "lng": 120.0}, "invalid_location"),
        ({"lat": 30.0}, "invalid_location"),
        ({"credit_code": "9" * 19}, "invalid_credit_code"),
    ],
)
def test_bad_draft_values_are_refused(applicant, fields, code):
    app = services.application_create(applicant=applicant)
    data = services.ApplicationFields(**fields)
    assert (
        codes_of(
            lambda: services.application_update(actor=applicant, application_id=app.pk, data=data)
        )
        == code
    )


def test_somebody_else_cannot_touch_the_draft(applicant, customer):
    app = draft_application(applicant=applicant)
    data = services.ApplicationFields(business_name="Mine now")
    assert (
        codes_of(
            lambda: services.application_update(actor=customer, application_id=app.pk, data=data)
        )
        == "not_found"
    )
    assert (
        codes_of(lambda: services.application_submit(actor=customer, application_id=app.pk))
        == "not_found"
    )


# --- Submitting -------------------------------------------------------------------------------


def test_submit_records_who_and_when(applicant, branch):
    app = submitted_application(applicant=applicant)
    assert app.status == Status.SUBMITTED and app.submitted_at is not None
    assert history(app) == [("", "draft"), ("draft", "submitted")]
    assert app.status_changes.last().actor == applicant


def test_an_incomplete_application_is_refused_with_what_is_missing(applicant):
    app = services.application_create(applicant=applicant)
    with pytest.raises(ApplicationError) as exc:
        services.application_submit(actor=applicant, application_id=app.pk)
    assert exc.value.code == "application_incomplete"
    assert "location" in exc.value.extra["missing"]
    assert "documents.licence" in exc.value.extra["missing"]


def test_photos_are_required(applicant):
    app = services.application_create(applicant=applicant, data=complete_fields())
    with pytest.raises(ApplicationError) as exc:
        services.application_submit(actor=applicant, application_id=app.pk)
    assert exc.value.extra["missing"] == ["documents.licence", "documents.storefront"]


def test_an_invalid_credit_code_is_refused_on_submit(applicant):
    code = credit_code()
    wrong = code[:17] + ("0" if code[17] != "0" else "1")
    app = draft_application(applicant=applicant, code=wrong)
    with pytest.raises(ApplicationError) as exc:
        services.application_submit(actor=applicant, application_id=app.pk)
    assert (exc.value.code, exc.value.extra) == ("invalid_credit_code", {"problem": "check"})


def test_a_credit_code_of_a_live_merchant_is_refused_clearly(head_office, branch):
    code = credit_code()
    approved_merchant(reviewer=head_office, code=code)
    app = draft_application(code=code)
    with pytest.raises(ApplicationError) as exc, translation.override("en"):
        services.application_submit(actor=app.applicant, application_id=app.pk)
    assert exc.value.code == "duplicate_credit_code"
    with translation.override("en"):
        assert "already a member" in str(exc.value.message)


def test_a_closed_merchant_frees_its_credit_code(head_office, branch):
    code = credit_code()
    merchant = approved_merchant(reviewer=head_office, code=code)
    services.merchant_close(actor=head_office, merchant_id=merchant.pk, reason="moved away")
    again = approved_merchant(reviewer=head_office, code=code)
    assert again.credit_code == code and again.pk != merchant.pk


def test_the_database_refuses_two_live_merchants_with_one_credit_code(head_office, branch):
    merchant = approved_merchant(reviewer=head_office)
    other = submitted_application()
    with pytest.raises(IntegrityError), transaction.atomic():
        Merchant.objects.create(
            code="MX",
            application=other,
            business_name="x",
            category="food",
            credit_code=merchant.credit_code,
            contact_phone="+8613800000000",
            fee_plan=fee_plan(),
        )


# --- Deciding ---------------------------------------------------------------------------------


def test_approval_creates_the_merchant_its_store_and_owner(
    officer, applicant, branch, sms_outbox, django_capture_on_commit_callbacks
):
    app = submitted_application(applicant=applicant)
    plan = fee_plan("Tea shops", 38)
    with django_capture_on_commit_callbacks(execute=True):
        merchant = services.application_approve(
            actor=officer, application_id=app.pk, fee_plan_id=plan.pk, reason="documents fine"
        )
    assert merchant.code == f"M{app.pk:08d}"
    assert merchant.status == "active" and merchant.fee_plan == plan
    assert merchant.settlement_account_number == "6222021234567890123"
    store = Store.objects.get(merchant=merchant)
    assert store.branch_id == branch.pk
    assert (store.lat, store.lng) == (app.lat, app.lng)
    assert StorePhoto.objects.filter(store=store).count() == 1
    assert GridMove.objects.filter(subject_id=store.pk, to_branch=branch).count() == 1
    owner = MerchantStaff.objects.get(merchant=merchant)
    assert owner.user == applicant and owner.role == "owner"
    applicant.refresh_from_db()
    assert applicant.role == "merchant_owner" and applicant.is_active
    app.refresh_from_db()
    assert (app.status, app.reviewer, app.decision_reason) == (
        "approved",
        officer,
        "documents fine",
    )
    assert history(app)[-1] == ("submitted", "approved")
    assert [(c.from_status, c.to_status) for c in merchant.status_changes.all()] == [("", "active")]
    # The SMS went to the applicant after the commit, in Chinese-first settings.
    assert len(sms_outbox) == 1
    assert sms_outbox[0].phone == applicant.phone and merchant.code in sms_outbox[0].text


def test_no_sms_before_the_commit(officer, branch, sms_outbox, django_capture_on_commit_callbacks):
    app = submitted_application()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.application_approve(
            actor=officer, application_id=app.pk, fee_plan_id=fee_plan().pk
        )
    assert sms_outbox == [] and len(callbacks) == 1


def test_an_inactive_fee_plan_cannot_be_chosen(officer, branch):
    app = submitted_application()
    plan = services.fee_plan_create(actor=None, name="Old", rate_bp=100, is_active=False)
    assert (
        codes_of(
            lambda: services.application_approve(
                actor=officer, application_id=app.pk, fee_plan_id=plan.pk
            )
        )
        == "invalid_fee_plan"
    )


@pytest.mark.parametrize("decision", ["reject", "return"])
def test_reject_and_return_need_a_reason(officer, branch, decision):
    app = submitted_application()
    call = getattr(services, f"application_{decision}")
    kw = "reason" if decision == "reject" else "comments"
    assert (
        codes_of(lambda: call(actor=officer, application_id=app.pk, **{kw: "  "}))
        == "reason_required"
    )


def test_returned_application_is_edited_and_resubmitted(
    officer, applicant, branch, sms_outbox, django_capture_on_commit_callbacks
):
    app = submitted_application(applicant=applicant)
    with django_capture_on_commit_callbacks(execute=True):
        services.application_return(
            actor=officer, application_id=app.pk, comments="Licence photo is blurred"
        )
    assert "blurred" in sms_outbox[-1].text
    seen = selectors.application_get(applicant, app.pk)
    assert (seen.status, seen.decision_reason) == ("returned", "Licence photo is blurred")
    services.application_update(
        actor=applicant,
        application_id=app.pk,
        data=services.ApplicationFields(opening_hours="10:00-22:00"),
    )
    services.application_submit(actor=applicant, application_id=app.pk)
    app.refresh_from_db()
    assert app.status == "submitted" and app.reviewer is None
    assert history(app) == [
        ("", "draft"),
        ("draft", "submitted"),
        ("submitted", "returned"),
        ("returned", "submitted"),
    ]
    reasons = [c.reason for c in selectors.application_history(applicant, app.pk)]
    assert "Licence photo is blurred" in reasons


def test_rejection_is_final_and_frees_the_applicant(officer, applicant, branch):
    app = submitted_application(applicant=applicant)
    services.application_reject(actor=officer, application_id=app.pk, reason="Not a real shop")
    assert history(MerchantApplication.objects.get(pk=app.pk))[-1] == ("submitted", "rejected")
    services.application_create(applicant=applicant)  # may start again


# Every (state, action) pair: allowed ones succeed, the others are invalid_transition.
ACTIONS = {
    "update": lambda app, u, ho: services.application_update(
        actor=u, application_id=app.pk, data=services.ApplicationFields(description="x")
    ),
    "submit": lambda app, u, ho: services.application_submit(actor=u, application_id=app.pk),
    "approve": lambda app, u, ho: services.application_approve(
        actor=ho, application_id=app.pk, fee_plan_id=fee_plan().pk
    ),
    "reject": lambda app, u, ho: services.application_reject(
        actor=ho, application_id=app.pk, reason="r"
    ),
    "return": lambda app, u, ho: services.application_return(
        actor=ho, application_id=app.pk, comments="c"
    ),
}
ALLOWED = {
    "draft": {"update", "submit"},
    "submitted": {"approve", "reject", "return"},
    "returned": {"update", "submit"},
    "approved": set(),
    "rejected": set(),
}


def application_in(state, head_office):
    app = draft_application()
    u = app.applicant
    if state == "draft":
        return app
    services.application_submit(actor=u, application_id=app.pk)
    if state == "returned":
        services.application_return(actor=head_office, application_id=app.pk, comments="c")
    elif state == "approved":
        services.application_approve(
            actor=head_office, application_id=app.pk, fee_plan_id=fee_plan().pk
        )
    elif state == "rejected":
        services.application_reject(actor=head_office, application_id=app.pk, reason="r")
    return MerchantApplication.objects.get(pk=app.pk)


@pytest.mark.parametrize("state", list(ALLOWED))
@pytest.mark.parametrize("action", list(ACTIONS))
def test_every_transition(state, action, head_office, branch):
    app = application_in(state, head_office)
    before = app.status_changes.count()
    if action in ALLOWED[state]:
        ACTIONS[action](app, app.applicant, head_office)
    else:
        if state == "draft" and action in {"approve", "reject", "return"}:
            expected = "not_found"  # a draft is the applicant's alone: reviewers cannot see it
        else:
            expected = "invalid_transition"
        assert codes_of(lambda: ACTIONS[action](app, app.applicant, head_office)) == expected
        assert app.status_changes.count() == before
        assert MerchantApplication.objects.get(pk=app.pk).status == state


def test_status_changes_are_immutable(head_office, branch):
    app = submitted_application()
    change = StatusChange.objects.filter(application=app).last()
    change.reason = "rewritten"
    with pytest.raises(TypeError):
        change.save()
    with pytest.raises(TypeError):
        change.delete()


def test_a_merchant_user_cannot_apply_again(head_office, branch):
    merchant = approved_merchant(reviewer=head_office)
    owner = User.objects.get(merchant_membership__merchant=merchant)
    assert codes_of(lambda: services.application_create(applicant=owner)) == "already_a_merchant"
