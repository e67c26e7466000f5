"""Photo and licence uploads: type, size, dimensions, and that the bytes really are an image."""

import io

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from alliance.errors import ApplicationError
from merchants import services
from merchants.images import MAX_BYTES
from tests.merchants.factories import image_upload


@pytest.fixture
def draft(applicant):
    return services.application_create(applicant=applicant)


def upload(draft, file, kind="licence"):
    return services.application_document_add(
        actor=draft.applicant, application_id=draft.pk, kind=kind, upload=file
    )


def refused(draft, file):
    with pytest.raises(ApplicationError) as exc:
        upload(draft, file)
    assert not draft.documents.exists()
    return exc.value.code


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_jpeg_png_and_webp_are_accepted(draft, fmt):
    document = upload(draft, image_upload(fmt=fmt, width=640, height=480, name="IMG 001.weird"))
    assert (document.width, document.height) == (640, 480)
    expected = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}[fmt]
    assert document.content_type == expected
    # Our own name and extension, not the client's, through Django's storage API.
    assert document.image.name.startswith(f"merchants/applications/{draft.pk}/licence-")
    assert document.image.name.endswith({"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}[fmt])
    assert default_storage.exists(document.image.name)


@pytest.mark.parametrize("fmt", ["GIF", "BMP"])
def test_other_image_types_are_refused(draft, fmt):
    assert refused(draft, image_upload(fmt=fmt)) == "upload_wrong_type"


def test_a_gif_named_jpg_is_still_a_gif(draft):
    assert (
        refused(draft, image_upload(fmt="GIF", name="licence.jpg", content_type="image/jpeg"))
        == "upload_wrong_type"
    )


def test_too_large_is_refused(draft):
    big = SimpleUploadedFile("big.jpg", b"\xff\xd8" + b"0" * MAX_BYTES, content_type="image/jpeg")
    assert refused(draft, big) == "upload_too_large"


def test_exactly_5_mb_is_not_too_large(draft):
    # A valid PNG padded after its end to exactly 5 MB: the size check lets it through.
    buffer = io.BytesIO()
    Image.new("RGB", (400, 400)).save(buffer, format="PNG")
    data = buffer.getvalue()
    data += b"\0" * (MAX_BYTES - len(data))
    assert len(data) == MAX_BYTES
    upload(draft, SimpleUploadedFile("ok.png", data, content_type="image/png"))


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.4 not an image at all", b"", b"\x89PNG\r\n\x1a\n" + b"\0" * 100, b"GIF89a"],
)
def test_not_an_image_is_refused(draft, data):
    assert (
        refused(draft, SimpleUploadedFile("photo.png", data, content_type="image/png"))
        == "upload_not_an_image"
    )


def test_a_truncated_image_is_refused(draft):
    whole = image_upload(fmt="PNG", width=500, height=500).read()
    assert (
        refused(
            draft, SimpleUploadedFile("cut.png", whole[: len(whole) // 2], content_type="image/png")
        )
        == "upload_not_an_image"
    )


@pytest.mark.parametrize(("w", "h"), [(299, 400), (400, 299), (100, 100), (8001, 300)])
def test_wrong_dimensions_are_refused(draft, w, h):
    assert refused(draft, image_upload(width=w, height=h)) == "upload_wrong_dimensions"


def test_300_square_is_enough(draft):
    upload(draft, image_upload(width=300, height=300))


def test_unknown_kind_and_someone_elses_application(draft, customer):
    with pytest.raises(ApplicationError) as exc:
        upload(draft, image_upload(), kind="selfie")
    assert exc.value.code == "invalid"
    with pytest.raises(ApplicationError) as exc:
        services.application_document_add(
            actor=customer, application_id=draft.pk, kind="licence", upload=image_upload()
        )
    assert exc.value.code == "not_found"


def test_removing_a_photo(draft, django_capture_on_commit_callbacks):
    document = upload(draft, image_upload())
    name = document.image.name
    with django_capture_on_commit_callbacks(execute=True):
        services.application_document_remove(actor=draft.applicant, document_id=document.pk)
    assert not draft.documents.exists() and not default_storage.exists(name)
