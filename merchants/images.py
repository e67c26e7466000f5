"""Checks for uploaded photos and documents: what they claim and what they really are.

The browser's content type and the file name are the client's word; Pillow opens the bytes and
decides. Only JPEG, PNG and WebP are accepted, up to 5 MB, from 300 x 300 to 8000 x 8000 pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _
from PIL import Image, UnidentifiedImageError

from alliance.errors import ApplicationError

MAX_BYTES = 5 * 1024 * 1024
MIN_SIDE = 300
MAX_SIDE = 8000
# Pillow format -> (content type, file extension)
FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}


class UploadTooLarge(ApplicationError):
    code = "upload_too_large"
    message = _("The file is larger than 5 MB. Please upload a smaller photo.")


class UploadNotAnImage(ApplicationError):
    code = "upload_not_an_image"
    message = _("The file is not a readable image.")


class UploadWrongType(ApplicationError):
    code = "upload_wrong_type"
    message = _("Upload a JPEG, PNG or WebP image.")


class UploadWrongSize(ApplicationError):
    code = "upload_wrong_dimensions"
    message = _("The image must be at least 300 x 300 and at most 8000 x 8000 pixels.")


@dataclass(frozen=True)
class CheckedImage:
    content_type: str
    extension: str
    width: int
    height: int
    size: int


def check_image(upload: UploadedFile) -> CheckedImage:
    """Validate an upload and say what it really is; raise an ``Upload*`` error otherwise.

    Reads the header and then the whole image (``verify``), so a truncated or forged file is
    refused. Leaves the file positioned at the start for saving.
    """
    size = upload.size if upload.size is not None else len(upload.read())
    if size > MAX_BYTES:
        raise UploadTooLarge(extra={"max_bytes": MAX_BYTES})
    upload.seek(0)
    # Refuse decompression bombs before decoding: the header gives the dimensions.
    try:
        with Image.open(upload) as image:
            fmt = image.format
            width, height = image.size
            if fmt not in FORMATS:
                raise UploadWrongType(extra={"allowed": sorted(FORMATS)})
            if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
                raise UploadWrongSize(extra={"width": width, "height": height})
            image.verify()
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
    ) as exc:
        raise UploadNotAnImage() from exc
    finally:
        upload.seek(0)
    content_type, extension = FORMATS[fmt]
    return CheckedImage(
        content_type=content_type, extension=extension, width=width, height=height, size=size
    )
