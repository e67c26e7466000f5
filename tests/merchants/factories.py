"""Merchant state built through the merchants services, the way users build it."""

from __future__ import annotations

import io
import itertools

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from branches import geo
from merchants import services
from merchants.credit_code import check_character
from merchants.models import FeePlan, Merchant, MerchantApplication
from tests.factories import UserFactory

BRANCH_A = (30.2590, 120.1640)  # tests/conftest.py's ``branch``
_seq = itertools.count(1)


def credit_code(n: int | None = None, *, prefix: str = "91330106") -> str:
    """A valid unified social credit code (market-regulation enterprise in Hangzhou)."""
    n = next(_seq) if n is None else n
    first17 = f"{prefix}MA{n:07d}"
    return first17 + check_character(first17)


def image_upload(
    *,
    width: int = 400,
    height: int = 400,
    fmt: str = "PNG",
    name: str | None = None,
    content_type: str | None = None,
) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 80, 40)).save(buffer, format=fmt)
    ext = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "BMP": "bmp"}[fmt]
    return SimpleUploadedFile(
        name or f"photo.{ext}", buffer.getvalue(), content_type=content_type or f"image/{ext}"
    )


def fee_plan(name: str = "Standard", rate_bp: int = 60) -> FeePlan:
    existing = FeePlan.objects.filter(name=name).first()
    return existing or services.fee_plan_create(actor=None, name=name, rate_bp=rate_bp)


def near(point=BRANCH_A, *, bearing: float = 0, metres: float = 500) -> tuple[float, float]:
    return geo.destination(*point, bearing, metres)


def complete_fields(
    *, location=None, code: str | None = None, **overrides
) -> services.ApplicationFields:
    lat, lng = location or near()
    values = dict(
        business_name="Lakeside Tea House",
        category="drinks_desserts",
        credit_code=code or credit_code(),
        legal_representative="Wang Fang",
        contact_phone="138 0571 0001",
        settlement_bank="Alliance Bank Hangzhou West Lake Sub-branch",
        settlement_account_name="Hangzhou Lakeside Tea House Co., Ltd.",
        settlement_account_number="6222 0212 3456 7890 123",
        store_name="Lakeside Tea House (Beishan Road)",
        store_address="12 Beishan Road, Xihu District, Hangzhou",
        opening_hours="Mon-Sun 09:00-22:00",
        description="Longjing tea and pastries by the lake.",
        lat=lat,
        lng=lng,
    )
    values.update(overrides)
    return services.ApplicationFields(**values)


def draft_application(*, applicant=None, complete: bool = True, **kwargs) -> MerchantApplication:
    applicant = applicant or UserFactory(role="customer")
    application = services.application_create(
        applicant=applicant, data=complete_fields(**kwargs) if complete else None
    )
    if complete:
        for kind in ("licence", "storefront"):
            services.application_document_add(
                actor=applicant, application_id=application.pk, kind=kind, upload=image_upload()
            )
    return application


def submitted_application(**kwargs) -> MerchantApplication:
    application = draft_application(**kwargs)
    return services.application_submit(actor=application.applicant, application_id=application.pk)


def approved_merchant(*, reviewer, **kwargs) -> Merchant:
    application = submitted_application(**kwargs)
    return services.application_approve(
        actor=reviewer, application_id=application.pk, fee_plan_id=fee_plan().pk
    )
