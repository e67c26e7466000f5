"""Bank staff sessions end after 30 minutes without requests (accounts.middleware)."""

import time

import pytest
from django.urls import reverse

from accounts.middleware import LAST_SEEN, SIGNED_OUT_IDLE

pytestmark = pytest.mark.django_db
ME = reverse("api:auth:me")


def last_seen_minutes_ago(client, minutes: float) -> None:
    session = client.session
    session[LAST_SEEN] = time.time() - minutes * 60
    session.save()


def test_an_idle_staff_session_ends_and_the_sign_in_page_says_why(client, officer):
    client.force_login(officer)
    last_seen_minutes_ago(client, 31)

    response = client.get("/console/grid/?b=1")
    assert response.status_code == 302
    assert response.url == reverse("accounts:staff_login") + "?next=/console/grid/%3Fb%3D1"
    assert "_auth_user_id" not in client.session

    page = client.get(response.url)
    assert page.context["idle_signed_out"] == 30
    assert client.get(reverse("accounts:staff_login")).context["idle_signed_out"] is None


def test_an_idle_htmx_request_redirects_the_whole_page(client, officer):
    client.force_login(officer)
    last_seen_minutes_ago(client, 31)
    response = client.get("/console/grid/", HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == reverse("accounts:staff_login")


def test_an_idle_api_request_goes_on_signed_out(client, officer):
    client.force_login(officer)
    last_seen_minutes_ago(client, 31)
    response = client.get(ME)
    assert response.status_code == 403 and response.json()["code"] == "not_authenticated"
    assert SIGNED_OUT_IDLE not in client.session  # no notice waiting on the sign-in page


def test_activity_within_the_limit_keeps_the_session(client, officer):
    client.force_login(officer)
    last_seen_minutes_ago(client, 29)
    before = time.time()
    assert client.get(ME).status_code == 200
    assert client.session[LAST_SEEN] >= before


def test_customers_are_not_timed_out(client, customer):
    client.force_login(customer)
    last_seen_minutes_ago(client, 120)
    assert client.get(ME).status_code == 200
