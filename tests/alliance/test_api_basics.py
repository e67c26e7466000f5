"""The API's common ground: the error format, the schema and docs pages, the health check."""

import pytest
from django.urls import reverse


def test_unauthenticated_api_call_gets_the_common_error_body(client):
    response = client.get("/api/auth/me/")
    assert response.status_code in (401, 403)
    body = response.json()
    assert set(body) == {"code", "message", "extra"}
    assert body["code"] == "not_authenticated"


def test_unknown_api_path_is_404_not_500(client):
    assert client.get("/api/no-such-thing/").status_code == 404


@pytest.mark.django_db
def test_openapi_schema_and_docs(client, customer):
    client.force_login(customer)
    schema = client.get(reverse("api:schema"), HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/auth/sms-code/" in paths
    assert "/api/grid/owner/" in paths
    docs = client.get(reverse("api:docs"))
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()
    # served by the app from the sidecar package, never from a public CDN
    assert b"drf_spectacular_sidecar" in docs.content
    assert b"cdn." not in docs.content and b"unpkg" not in docs.content


@pytest.mark.django_db
def test_health(client):
    response = client.get(reverse("api:health"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_rate_limited_answers_carry_retry_after(client):
    first = client.post("/api/auth/sms-code/", {"phone": "13812345678"}, content_type="application/json")
    assert first.status_code == 202
    second = client.post("/api/auth/sms-code/", {"phone": "13812345678"}, content_type="application/json")
    assert second.status_code == 429
    assert second.json()["code"] == "sms_rate_limited_phone"
    assert int(second["Retry-After"]) == second.json()["extra"]["retry_after"] > 0


@pytest.mark.django_db
def test_admin_login_goes_through_the_staff_sign_in(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:staff_login") + "?next=/admin/"


@pytest.mark.django_db
def test_signed_out_staff_pages_send_to_the_staff_sign_in(client):
    response = client.get(reverse("branches:map"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:staff_login"))


@pytest.mark.django_db
def test_home_sends_each_role_to_its_start_page(client, merchant_owner, head_office, customer):
    assert client.get(reverse("home")).status_code == 200
    client.force_login(merchant_owner)
    assert client.get(reverse("home"))["Location"] == reverse("merchants:dashboard")
    client.force_login(head_office)
    assert client.get(reverse("home"))["Location"] == reverse("branches:map")
    client.force_login(customer)
    page = client.get(reverse("home"))
    assert page.status_code == 200 and reverse("merchants:apply").encode() in page.content
