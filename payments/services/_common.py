"""Helpers shared by the payment services: numbers, locks, history rows, fees."""

from __future__ import annotations

import secrets
from datetime import datetime

from django.utils import timezone

from ..errors import InvalidInput, OrderNotFound
from ..models import OrderEvent, PaymentOrder

# What one payment may be: from one fen to fifty thousand yuan.
MAX_GROSS_FEN = 5_000_000


def new_number(prefix: str, *, now: datetime | None = None) -> str:
    """An order or refund number the channels accept (6-32 of [A-Za-z0-9]): a letter, the
    local time to the second and 10 random digits, so numbers sort by time, say when they were
    made to whoever reads a statement, and cannot be guessed."""
    local = timezone.localtime(now or timezone.now())
    return f"{prefix}{local:%Y%m%d%H%M%S}{secrets.randbelow(10**10):010d}"


def check_key(key: str | None, field: str = "idempotency_key") -> str:
    from django.utils.translation import gettext_lazy as _

    key = (key or "").strip()
    if not 8 <= len(key) <= 64:
        raise InvalidInput({field: _("Send a unique key of 8 to 64 characters.")})
    return key


def lock_order(*, order_id: int | None = None, out_trade_no: str | None = None) -> PaymentOrder:
    """The order row, locked (``SELECT ... FOR UPDATE``), with its merchant; 404 if none."""
    qs = PaymentOrder.objects.select_for_update(of=("self",)).select_related("merchant")
    if order_id is not None:
        qs = qs.filter(pk=order_id)
    else:
        qs = qs.filter(out_trade_no=out_trade_no or "")
    order = qs.first()
    if order is None:
        raise OrderNotFound()
    return order


def record(
    order: PaymentOrder,
    *,
    to_status: str,
    from_status: str = "",
    source: str,
    actor=None,
    reason: str = "",
) -> OrderEvent:
    return OrderEvent.objects.create(
        order=order,
        actor=actor,
        source=source,
        from_status=from_status,
        to_status=to_status,
        reason=reason[:200],
    )


def fee_for(amount_fen: int, rate_bp: int) -> int:
    """The fee on ``amount_fen`` at ``rate_bp`` basis points, rounded half up to the fen
    (0.6 % of ¥0.50 is 0.3 fen: 0; of ¥0.90, 0.54 fen: 1). Integers only."""
    return (amount_fen * rate_bp + 5_000) // 10_000
