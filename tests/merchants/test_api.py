"""The application API: through URLs, signed in, with the exact error bodies."""

import pytest
from rest_framework.test import APIClient

from merchants.models import Merchant, MerchantApplication
from tests.merchants.factories import (
    credit_code,
    draft_application,
    fee_plan,
    image_upload,
    near,
    submitted_application,
)

BASE = "/api/merchants/applications/"
OTHER_B = (30.2450, 120.2100)


@pytest.fixture
def api():
    return APIClient(HTTP_ACCEPT_LANGUAGE="en")


def as_user(api, user):
    api.force_authenticate(user)
    return api


def test_apply_upload_submit_and_follow_the_status(
    api, applicant, branch, officer, sms_outbox, django_capture_on_commit_callbacks
):
    client = as_user(api, applicant)
    lat, lng = near()
    response = client.post(
        BASE, {"business_name": "Noodle Bar", "lat": lat, "lng": lng}, format="json"
    )
    assert response.status_code == 201, response.json()
    app_id = response.json()["id"]
    assert response.json()["status"] == "draft" and "category" in response.json()["missing"]

    response = client.patch(
        f"{BASE}{app_id}/",
        {
            "category": "food",
            "credit_code": credit_code(),
            "legal_representative": "Zhao Lei",
            "contact_phone": "13805710002",
            "settlement_bank": "Alliance Bank",
            "settlement_account_name": "Zhao Lei",
            "settlement_account_number": "6222 0000 1111 2345",
            "store_name": "Noodle Bar",
            "store_address": "3 Beishan Road",
            "opening_hours": "10-21",
        },
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["settlement_account_number"] == "**** 2345"  # never shown in full
    assert body["credit_code_problem"] is None
    assert body["missing"] == ["documents.licence", "documents.storefront"]

    for kind in ("licence", "storefront"):
        response = client.post(
            f"{BASE}{app_id}/documents/",
            {"kind": kind, "image": image_upload()},
            format="multipart",
        )
        assert response.status_code == 201, response.json()
        assert response.json()["content_type"] == "image/png"

    response = client.post(f"{BASE}{app_id}/submit/")
    assert response.status_code == 200 and response.json()["status"] == "submitted"

    staff = as_user(APIClient(HTTP_ACCEPT_LANGUAGE="en"), officer)
    queue = staff.get("/api/merchants/review-queue/").json()
    assert [a["id"] for a in queue["results"]] == [app_id]
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(
            f"{BASE}{app_id}/approve/", {"fee_plan_id": fee_plan().pk}, format="json"
        )
    assert response.status_code == 201, response.json()
    assert response.json()["code"] == f"M{app_id:08d}"
    assert len(sms_outbox) == 1

    status = client.get(f"{BASE}{app_id}/status/").json()
    assert status["status"] == "approved"
    assert [h["to_status"] for h in status["history"]] == ["draft", "submitted", "approved"]


def test_invalid_credit_code_error_body(api, applicant, branch):
    app = draft_application(applicant=applicant, code="91350100M000100Y44")
    response = as_user(api, applicant).post(f"{BASE}{app.pk}/submit/")
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid_credit_code",
        "message": "Enter the 18-character unified social credit code exactly as it is printed on "
        "the business licence.",
        "extra": {"problem": "check"},
    }


def test_duplicate_credit_code_is_a_clear_409(api, head_office, branch):
    code = credit_code()
    first = submitted_application(code=code)
    as_user(api, head_office).post(
        f"{BASE}{first.pk}/approve/", {"fee_plan_id": fee_plan().pk}, format="json"
    )
    second = draft_application(code=code)
    response = as_user(APIClient(HTTP_ACCEPT_LANGUAGE="en"), second.applicant).post(
        f"{BASE}{second.pk}/submit/"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_credit_code"
    assert "already a member" in response.json()["message"]


def test_officer_of_a_gets_404_for_branch_bs_application(api, officer, other_branch, branch):
    app = submitted_application(location=near(OTHER_B, metres=100))
    client = as_user(api, officer)
    for method, url, data in [
        ("get", f"{BASE}{app.pk}/", None),
        ("get", f"{BASE}{app.pk}/status/", None),
        ("post", f"{BASE}{app.pk}/approve/", {"fee_plan_id": fee_plan().pk}),
        ("post", f"{BASE}{app.pk}/reject/", {"reason": "no"}),
        ("post", f"{BASE}{app.pk}/return/", {"comments": "no"}),
    ]:
        response = getattr(client, method)(url, data, format="json")
        assert response.status_code == 404, url
        assert response.json()["code"] == "not_in_your_grid"
    assert MerchantApplication.objects.get(pk=app.pk).status == "submitted"


def test_another_applicant_cannot_read_or_edit(api, applicant, customer, branch):
    app = draft_application(applicant=applicant)
    client = as_user(api, customer)
    assert client.get(f"{BASE}{app.pk}/").status_code == 404
    response = client.patch(f"{BASE}{app.pk}/", {"business_name": "x"}, format="json")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    response = client.post(
        f"{BASE}{app.pk}/documents/",
        {"kind": "licence", "image": image_upload()},
        format="multipart",
    )
    assert response.status_code == 404
    assert client.get(BASE).json()["results"] == []


def test_applicants_cannot_review(api, applicant, branch):
    app = submitted_application(applicant=applicant)
    response = as_user(api, applicant).post(
        f"{BASE}{app.pk}/approve/", {"fee_plan_id": fee_plan().pk}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert not Merchant.objects.exists()


def test_wrong_state_is_invalid_transition(api, head_office, branch):
    app = submitted_application()
    client = as_user(api, head_office)
    client.post(f"{BASE}{app.pk}/reject/", {"reason": "fake"}, format="json")
    response = client.post(f"{BASE}{app.pk}/return/", {"comments": "again"}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "invalid_transition")


def test_reason_required(api, head_office, branch):
    app = submitted_application()
    response = as_user(api, head_office).post(
        f"{BASE}{app.pk}/reject/", {"reason": ""}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (400, "reason_required")


@pytest.mark.parametrize(
    ("upload", "code"),
    [
        (lambda: image_upload(fmt="GIF"), "upload_wrong_type"),
        (lambda: image_upload(width=200, height=200), "upload_wrong_dimensions"),
    ],
)
def test_upload_errors(api, applicant, upload, code):
    app = draft_application(applicant=applicant, complete=False)
    response = as_user(api, applicant).post(
        f"{BASE}{app.pk}/documents/", {"kind": "licence", "image": upload()}, format="multipart"
    )
    assert (response.status_code, response.json()["code"]) == (400, code)


def test_unauthenticated_is_refused(api):
    assert api.post(BASE, {}, format="json").status_code in (401, 403)


def test_schema_lists_the_endpoints(api, head_office):
    response = as_user(api, head_office).get("/api/schema/")
    assert response.status_code == 200
    text = response.content.decode()
    for path in (
        "/api/merchants/applications/{id}/submit/",
        "/api/merchants/applications/{id}/approve/",
        "/api/merchants/review-queue/",
    ):
        assert path in text
