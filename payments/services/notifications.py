"""What a channel POSTs to our notify URL: verified, recorded, applied once, answered the way
the channel's protocol wants."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from alliance.errors import ApplicationError

from ..gateways import GatewayError, NotificationRejected, gateway_for
from ..models import GatewayNotification, PaymentOrder
from .orders import order_apply_trade
from .refunds import refund_apply_state

log = logging.getLogger(__name__)
Outcome = GatewayNotification.Outcome

# Headers kept with each notification (the signature's inputs; nothing else of the request).
_KEPT_HEADERS = ("wechatpay-timestamp", "wechatpay-nonce", "wechatpay-signature",
                 "wechatpay-serial", "wechatpay-signature-type", "content-type")


def notification_receive(
    *, channel: str, headers: Mapping[str, str], body: bytes, now: datetime | None = None
) -> tuple[int, bytes, str]:
    """Take one notification: verify it (signature, timestamp window, serial), apply it
    (``order_apply_trade`` / ``refund_apply_state``: idempotent, so a duplicate answers
    success and changes nothing), record it whatever happens, and return the (status, body,
    content type) to answer. Refused, recorded and answered as a failure (so a genuine channel
    tries again, and nothing changes): a bad signature or stale timestamp, an unknown order or
    refund, an amount or merchant account that does not match.
    """
    gateway = gateway_for(channel)
    kept = {k: v for k, v in ((k.lower(), v) for k, v in headers.items()) if k in _KEPT_HEADERS}
    row = GatewayNotification(channel=channel, headers=kept,
                              body=body.decode("utf-8", errors="replace")[:20_000])
    try:
        note = gateway.parse_notification(headers=headers, body=body, now=now)
    except NotificationRejected as exc:
        return _refuse(gateway, row, code=exc.code)
    row.event_id, row.kind, row.resource = note.event_id[:64], note.kind, dict(note.raw)
    try:
        if note.kind == "payment":
            row.out_trade_no = note.trade.out_trade_no[:32]
            order, outcome = order_apply_trade(trade=note.trade, source="gateway", now=now)
        else:
            row.out_refund_no = note.refund.out_refund_no[:32]
            refund, outcome = refund_apply_state(state=note.refund, source="gateway", now=now)
            order = refund.order
            row.out_trade_no = order.out_trade_no
    except ApplicationError as exc:
        code = "unknown_order" if exc.status == 404 else exc.extra.get("reason", exc.code)
        if code in ("amount", "account"):
            code = f"{code}_mismatch"
        row.order = PaymentOrder.objects.filter(out_trade_no=row.out_trade_no).first()
        return _refuse(gateway, row, code=code)
    row.order, row.outcome = order, outcome
    row.save()
    return gateway.acknowledge()


def _refuse(gateway, row: GatewayNotification, *, code: str) -> tuple[int, bytes, str]:
    row.outcome, row.code = Outcome.REJECTED, code[:40]
    row.save()
    log.warning("%s notification refused (%s): %s", row.channel, code, row.out_trade_no or "-")
    return gateway.reject(message=code)


__all__ = ["GatewayError", "notification_receive"]
