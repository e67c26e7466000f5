"""Shared by the merchant API modules: the documented error responses, the caller's
membership, input parsing."""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiResponse,
)

from alliance.errors import ErrorSerializer, NotFound
from merchants.models import MerchantStaff
from merchants.selectors import membership_for

ERRORS = {
    400: OpenApiResponse(
        ErrorSerializer,
        description="`invalid` (with `extra.fields`), `reason_required`, `unsafe_edit`, "
        "`stock_below_claimed`, `coupon_token_invalid`, `coupon_token_expired`",
    ),
    403: OpenApiResponse(
        ErrorSerializer, description="`permission_denied` (cashier), `coupon_other_merchant`"
    ),
    404: OpenApiResponse(
        ErrorSerializer, description="`not_found`, `not_in_your_grid`, `coupon_not_found`"
    ),
    409: OpenApiResponse(
        ErrorSerializer,
        description="`invalid_transition`, `coupon_already_used`, `coupon_code_used` (an "
        "offline code used before, also when that verification was undone), `coupon_expired`, "
        "`coupon_not_usable` (`extra.reason`), `undo_window_passed`",
    ),
}


def _membership(request) -> MerchantStaff:
    membership = membership_for(request.user)
    if membership is None:
        raise NotFound()
    return membership


def parse(serializer_class, request, **kwargs) -> dict:
    data = serializer_class(data=request.data, **kwargs)
    data.is_valid(raise_exception=True)
    return dict(data.validated_data)
