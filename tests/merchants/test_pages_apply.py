"""The applicant's pages: start, the draft form, photos, submit and status, through URLs."""

import pytest
from django.urls import reverse
from django.utils import translation

from merchants import services
from merchants.images import UploadWrongSize, UploadWrongType
from merchants.models import MerchantApplication
from tests.factories import UserFactory
from tests.merchants.factories import (
    credit_code,
    draft_application,
    image_upload,
    near,
    submitted_application,
)

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ACCOUNT = "6222021234567890123"


def form_data(**overrides):
    lat, lng = near()
    data = {
        "business_name": "Lakeside Tea House",
        "category": "drinks_desserts",
        "credit_code": credit_code(),
        "legal_representative": "Wang Fang",
        "contact_phone": "138 0571 0001",
        "store_name": "Lakeside Tea House (Beishan Road)",
        "store_address": "12 Beishan Road",
        "opening_hours": "Mon-Sun 09:00-22:00",
        "description": "Tea by the lake.",
        "lat": f"{lat:.6f}",
        "lng": f"{lng:.6f}",
        "settlement_bank": "Alliance Bank West Lake",
        "settlement_account_name": "Lakeside Tea House Co., Ltd.",
        "settlement_account_number": "6222 0212 3456 7890 123",
    }
    data.update(overrides)
    return data


@pytest.fixture
def signed_in(client, applicant):
    client.force_login(applicant)
    return client


@pytest.fixture
def draft(applicant):
    return services.application_create(applicant=applicant)


def url(name, *args):
    return reverse(f"merchants:{name}", args=args)


def field_codes(response, form="form", field="__all__"):
    return [e.code for e in response.context[form].errors.as_data().get(field, [])]


# --- who may see what ----------------------------------------------------------------------------
@pytest.mark.parametrize("name,args", [("apply", ()), ("apply_edit", (1,)), ("apply_status", (1,))])
def test_anonymous_users_are_sent_to_the_customer_sign_in(client, name, args):
    response = client.get(url(name, *args))
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login") + "?next=")
    assert url(name, *args) in response.url.replace("%2F", "/")


def test_bank_staff_are_refused(client, officer):
    client.force_login(officer)
    assert client.get(url("apply")).status_code == 403


def test_another_customers_application_is_404(client, draft):
    client.force_login(UserFactory(role="customer"))
    for name in ("apply_edit", "apply_status"):
        assert client.get(url(name, draft.pk)).status_code == 404
    assert client.post(url("apply_edit", draft.pk), form_data()).status_code == 404
    assert client.post(url("apply_submit", draft.pk)).status_code == 404
    assert client.post(url("apply_document_add", draft.pk), {"kind": "licence"}).status_code == 404


def test_a_reviewer_cannot_use_the_applicant_pages_of_a_submitted_application(client, officer):
    application = submitted_application()
    client.force_login(officer)
    assert client.get(url("apply_status", application.pk)).status_code == 403


# --- start and resume ----------------------------------------------------------------------------
def test_start_creates_a_draft_and_a_second_start_resumes_it(signed_in, applicant):
    assert signed_in.get(url("apply")).status_code == 200
    response = signed_in.post(url("apply"))
    application = MerchantApplication.objects.get(applicant=applicant)
    assert response.status_code == 302 and response.url == url("apply_edit", application.pk)

    again = signed_in.post(url("apply"))
    assert again.url == url("apply_edit", application.pk)
    assert MerchantApplication.objects.filter(applicant=applicant).count() == 1
    page = signed_in.get(url("apply")).content.decode()
    assert url("apply_edit", application.pk) in page


def test_start_with_htmx_redirects_on_the_client(signed_in, applicant):
    response = signed_in.post(url("apply"), **HTMX)
    application = MerchantApplication.objects.get(applicant=applicant)
    assert response.status_code == 200
    assert response["HX-Redirect"] == url("apply_edit", application.pk)


def test_the_form_page_has_the_map_and_the_typed_fallback(signed_in, draft, settings):
    settings.ALLIANCE_MAP_TILE_URL = ""
    page = signed_in.get(url("apply_edit", draft.pk)).content.decode()
    assert 'id="apply-map"' in page and 'data-tile-url=""' in page
    assert "leaflet/leaflet.js" in page and "js/apply-map.js" in page
    assert 'name="lat"' in page and 'name="lng"' in page
    assert "https://" not in page.split("<body")[0]  # no CDN in the head


# --- saving the draft ----------------------------------------------------------------------------
def test_saving_a_partial_draft_keeps_it_for_later(signed_in, draft):
    response = signed_in.post(
        url("apply_edit", draft.pk), {"business_name": "Half Done Noodles", "category": "food"}
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    assert (draft.business_name, draft.category) == ("Half Done Noodles", "food")
    assert draft.status == "draft"
    page = signed_in.get(url("apply_edit", draft.pk)).content.decode()
    assert 'value="Half Done Noodles"' in page


def test_the_account_number_is_never_echoed_back(signed_in, draft):
    response = signed_in.post(url("apply_edit", draft.pk), form_data(), follow=True)
    assert response.status_code == 200
    draft.refresh_from_db()
    assert draft.settlement_account_number == ACCOUNT
    edit_pages = [
        response,
        signed_in.get(url("apply_edit", draft.pk)),
        signed_in.post(url("apply_edit", draft.pk), form_data(lat="95")),  # an error page
        signed_in.post(url("apply_edit", draft.pk), form_data(lat="95"), **HTMX),
        signed_in.post(url("apply_submit", draft.pk)),  # incomplete: the form again
    ]
    other_pages = [signed_in.get(url("apply_status", draft.pk)), signed_in.get(url("apply"))]
    for page in edit_pages + other_pages:
        body = page.content.decode()
        assert ACCOUNT not in body and "6222 0212 3456 7890 123" not in body
    for page in edit_pages:
        assert "0123" in page.content.decode()  # the masked tail is shown


def test_an_empty_account_number_keeps_the_saved_one(signed_in, draft):
    signed_in.post(url("apply_edit", draft.pk), form_data())
    signed_in.post(url("apply_edit", draft.pk), form_data(settlement_account_number=""))
    draft.refresh_from_db()
    assert draft.settlement_account_number == ACCOUNT


@pytest.mark.parametrize(
    "overrides,field,code",
    [
        ({"credit_code": "X" * 40}, "credit_code", "max_length"),
        ({"credit_code": "9" * 20}, "credit_code", "invalid_credit_code"),
        ({"credit_code": "9" * 19}, "credit_code", "invalid_credit_code"),
        ({"contact_phone": "12345"}, "contact_phone", "invalid_phone"),
        ({"settlement_account_number": "12ab"}, "settlement_account_number", "invalid"),
        ({"lat": "95"}, "lat", "max_value"),
        ({"lat": "abc"}, "lat", "invalid"),
        ({"lng": ""}, "lat", None),
        ({"category": "casino"}, "category", "invalid_choice"),
    ],
)
def test_typed_errors_are_form_errors_not_500(signed_in, draft, overrides, field, code):
    response = signed_in.post(url("apply_edit", draft.pk), form_data(**overrides), **EN)
    assert response.status_code == 200
    errors = response.context["form"].errors.as_data()[field]
    if code:
        assert [e.code for e in errors] == [code]
    draft.refresh_from_db()
    assert draft.business_name == ""  # nothing saved


def test_service_errors_are_in_the_users_language(signed_in, draft):
    english = signed_in.post(url("apply_edit", draft.pk), form_data(contact_phone="12"), **EN)
    chinese = signed_in.post(
        url("apply_edit", draft.pk), form_data(contact_phone="12"), HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    with translation.override("en"):
        assert "Enter a valid mainland China mobile number." in english.content.decode()
    assert "Enter a valid mainland China mobile number." not in chinese.content.decode()


def test_htmx_save_errors_return_only_the_form(signed_in, draft):
    response = signed_in.post(url("apply_edit", draft.pk), form_data(lat="95"), **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith("<form") and "<html" not in body


def test_htmx_save_redirects_on_the_client(signed_in, draft):
    response = signed_in.post(url("apply_edit", draft.pk), form_data(), **HTMX)
    assert response["HX-Redirect"] == url("apply_edit", draft.pk)


# --- photos --------------------------------------------------------------------------------------
def test_a_photo_is_uploaded_through_the_service(signed_in, draft):
    response = signed_in.post(
        url("apply_document_add", draft.pk), {"kind": "licence", "image": image_upload()}
    )
    assert response.status_code == 302
    assert list(draft.documents.values_list("kind", flat=True)) == ["licence"]


@pytest.mark.parametrize(
    "upload,error",
    [
        (lambda: image_upload(fmt="GIF"), UploadWrongType),
        (lambda: image_upload(width=100, height=100), UploadWrongSize),
    ],
)
def test_upload_errors_are_shown_under_the_field(signed_in, draft, upload, error):
    response = signed_in.post(
        url("apply_document_add", draft.pk), {"kind": "licence", "image": upload()}, **EN
    )
    assert response.status_code == 400
    assert field_codes(response, "document_form", "image") == [error.code]
    with translation.override("en"):
        assert str(error.message) in response.content.decode()
    assert not draft.documents.exists()


def test_not_an_image_is_refused(signed_in, draft):
    from django.core.files.uploadedfile import SimpleUploadedFile

    fake = SimpleUploadedFile("licence.jpg", b"not really a photo", content_type="image/jpeg")
    response = signed_in.post(
        url("apply_document_add", draft.pk), {"kind": "licence", "image": fake}
    )
    assert field_codes(response, "document_form", "image") == ["upload_not_an_image"]


def test_htmx_upload_swaps_only_the_photo_section(signed_in, draft):
    ok = signed_in.post(
        url("apply_document_add", draft.pk),
        {"kind": "storefront", "image": image_upload()},
        **HTMX,
    )
    body = ok.content.decode()
    assert ok.status_code == 200 and body.lstrip().startswith('<section id="documents"')
    assert "<img" in body and "HX-Trigger" in ok.headers
    bad = signed_in.post(
        url("apply_document_add", draft.pk),
        {"kind": "licence", "image": image_upload(fmt="GIF")},
        **HTMX,
        **EN,
    )
    assert bad.content.decode().lstrip().startswith('<section id="documents"')
    with translation.override("en"):
        assert str(UploadWrongType.message) in bad.content.decode()


def test_a_photo_can_be_removed(signed_in, draft, applicant):
    document = services.application_document_add(
        actor=applicant, application_id=draft.pk, kind="licence", upload=image_upload()
    )
    response = signed_in.post(url("apply_document_remove", draft.pk, document.pk))
    assert response.status_code == 302 and not draft.documents.exists()


# --- submit and status ---------------------------------------------------------------------------
def test_submitting_an_incomplete_draft_lists_what_is_missing(signed_in, draft):
    response = signed_in.post(url("apply_submit", draft.pk), **EN)
    assert response.status_code == 400
    assert "application_incomplete" in field_codes(response)
    assert "Business licence" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_an_invalid_credit_code_is_refused_at_submit(signed_in, applicant):
    application = draft_application(applicant=applicant, code="91330106MA00000010")
    response = signed_in.post(url("apply_submit", application.pk))
    assert field_codes(response, field="credit_code") == ["invalid_credit_code"]


def test_draft_to_submit_through_the_pages(signed_in, applicant, branch):
    signed_in.post(url("apply"))
    application = MerchantApplication.objects.get(applicant=applicant)
    assert signed_in.post(url("apply_edit", application.pk), form_data()).status_code == 302
    for kind in ("licence", "storefront"):
        signed_in.post(
            url("apply_document_add", application.pk), {"kind": kind, "image": image_upload()}
        )
    page = signed_in.get(url("apply_edit", application.pk)).content.decode()
    assert 'id="missing"' not in page

    response = signed_in.post(url("apply_submit", application.pk))
    assert response.status_code == 302 and response.url == url("apply_status", application.pk)
    application.refresh_from_db()
    assert application.status == "submitted" and application.branch_id == branch.pk

    # Submitted: no more editing through the pages.
    status = signed_in.get(url("apply_status", application.pk), **EN).content.decode()
    assert "Submitted" in status and "Edit the application" not in status
    assert (
        'id="save-draft"' not in signed_in.get(url("apply_edit", application.pk)).content.decode()
    )
    late = signed_in.post(url("apply_edit", application.pk), form_data(business_name="Late"))
    assert field_codes(late) == ["invalid_transition"]
    application.refresh_from_db()
    assert application.business_name == "Lakeside Tea House"


def test_the_status_page_says_why_it_was_returned_and_allows_resubmitting(
    signed_in, applicant, officer
):
    application = submitted_application(applicant=applicant)
    services.application_return(
        actor=officer, application_id=application.pk, comments="The licence photo is blurred."
    )
    page = signed_in.get(url("apply_status", application.pk), **EN).content.decode()
    assert "The licence photo is blurred." in page and "Returned for changes" in page
    assert url("apply_edit", application.pk) in page
    edit = signed_in.get(url("apply_edit", application.pk)).content.decode()
    assert "The licence photo is blurred." in edit
    assert signed_in.post(url("apply_submit", application.pk)).status_code == 302
    application.refresh_from_db()
    assert application.status == "submitted"


def test_the_status_page_shows_the_rejection_reason_and_history(signed_in, applicant, officer):
    application = submitted_application(applicant=applicant)
    services.application_reject(
        actor=officer, application_id=application.pk, reason="Not in a commercial area."
    )
    page = signed_in.get(url("apply_status", application.pk), **EN).content.decode()
    assert "Not in a commercial area." in page
    history = page.split('id="history"')[1]
    assert history.index("Draft") < history.index("Submitted") < history.index("Rejected")


def test_the_status_partial_for_htmx(signed_in, draft):
    response = signed_in.get(url("apply_status", draft.pk), **HTMX)
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="status"') and "<html" not in body
    assert f'href="{url("apply_status", draft.pk)}"' in body  # hx-get has an href


def test_an_approved_applicant_still_sees_the_status(client, officer):
    application = submitted_application()
    services.application_approve(
        actor=officer,
        application_id=application.pk,
        fee_plan_id=__import__("tests.merchants.factories", fromlist=["x"]).fee_plan().pk,
    )
    client.force_login(application.applicant)
    page = client.get(url("apply_status", application.pk))
    assert page.status_code == 200
    assert reverse("accounts:merchant_password") in page.content.decode()


# --- in a real browser on a phone --------------------------------------------------------------
@pytest.mark.browser
def test_apply_on_a_phone(phone_page, live_server, transactional_db, sms_outbox, branch):
    from playwright.sync_api import expect

    from tests.accounts.helpers import code_sent_to

    page = phone_page
    page.goto("/apply/")
    page.wait_for_url(lambda u: "/accounts/login/" in u and "next=" in u)
    page.fill("input[name=phone]", "139 0000 1111")
    page.click("#send-code")
    expect(page.locator("#sms-status")).to_contain_text("139****1111")
    page.fill("input[name=code]", code_sent_to("+8613900001111"))
    page.click("#sign-in")
    page.wait_for_url(f"{live_server.url}/apply/")

    page.click("#start-application")
    page.wait_for_url("**/apply/*/")
    data = form_data()
    for name in (
        "business_name",
        "credit_code",
        "legal_representative",
        "contact_phone",
        "store_name",
        "store_address",
        "opening_hours",
        "settlement_bank",
        "settlement_account_name",
        "settlement_account_number",
    ):
        page.fill(f"#application-form [name={name}]", data[name])
    page.select_option("#application-form [name=category]", data["category"])

    # The pin: the map is drawn from the app's own Leaflet; a tap moves the pin and fills
    # the typed fields, which stay usable on their own.
    expect(page.locator("#apply-map .leaflet-marker-icon")).to_be_visible()
    page.locator("#apply-map").click(position={"x": 120, "y": 100})
    assert page.input_value("[name=lat]") and page.input_value("[name=lng]")
    page.fill("[name=lat]", data["lat"])
    page.fill("[name=lng]", data["lng"])
    page.click("#save-draft")
    page.wait_for_load_state()
    expect(page.locator("#application-form [name=business_name]")).to_have_value(
        data["business_name"]
    )
    expect(page.locator("#application-form [name=settlement_account_number]")).to_have_value("")

    for kind in ("licence", "storefront"):
        page.select_option("#document-form [name=kind]", kind)
        upload = image_upload()
        page.set_input_files(
            "#document-form [name=image]",
            {"name": "photo.png", "mimeType": "image/png", "buffer": upload.read()},
        )
        count = page.locator("#documents img").count()
        page.click("#upload")
        expect(page.locator("#documents img")).to_have_count(count + 1)

    page.reload()
    expect(page.locator("#missing")).to_have_count(0)
    page.click("#submit-application")
    page.wait_for_url("**/status/")
    application = MerchantApplication.objects.get(applicant__phone="+8613900001111")
    assert application.status == "submitted" and application.branch_id == branch.pk
    assert ACCOUNT not in page.content()
