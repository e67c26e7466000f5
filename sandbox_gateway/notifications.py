"""Notifications the sandbox sends to a trade's notify URL, as WeChat Pay API v3 sends them.

An event (a trade paid or failed, a refund settled) becomes one ``Delivery`` row per copy
(a fault may ask for duplicates) in the transaction that changed the trade; after commit each
is handed to Celery (``tasks.deliver_notification``). An attempt:

- claims the row with one conditional update (pending or held, due), so a task delivered
  twice, a retried task and the sweep never POST the same attempt twice;
- signs the fixed body afresh (``Wechatpay-*`` headers; the timestamp must be recent when it
  arrives) and POSTs it with no database transaction open (the receiver may be this very
  process, or share an SQLite database with it);
- records the attempt (status, body, time) and counts the delivery done only on HTTP 200 or
  204; otherwise the next attempt is due on WeChat Pay's schedule (``conf.RETRY_SCHEDULE_S``
  times ``SANDBOX_GATEWAY_RETRY_SCALE``), and after the last one it gives up.

The sweep (``deliver_due``) attempts every due delivery and settles due refunds: it is how
eager mode (one attempt inline, no retry chain) and a restarted worker catch up.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta
from functools import partial
from urllib.parse import urlsplit

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from payments.gateways import wechatpay_crypto as crypto

from . import conf
from .models import Delivery, DeliveryAttempt, Fault, Refund, Trade

log = logging.getLogger(__name__)

# An attempt's claim on its row lasts this long: a worker that dies mid-POST leaves the row
# due again after it (the sweep picks it up).
CLAIM_LEASE = timedelta(seconds=60)
DELIVERED_STATUSES = (200, 204)  # the spec: anything else is a failure and is retried
MAX_ATTEMPTS = 1 + len(conf.RETRY_SCHEDULE_S)


def _fault(out_trade_no: str) -> Fault | None:
    return Fault.objects.filter(out_trade_no=out_trade_no).first()


def transaction_resource(trade: Trade, fault: Fault | None) -> dict:
    """The decrypted resource of a payment notification (and the body of a query answer),
    as the channel writes a partner-mode transaction."""
    from .services import reported_amount_fen, rfc3339

    resource = {
        "sp_appid": trade.sp_appid,
        "sp_mchid": trade.sp_mchid,
        "sub_mchid": trade.sub_mchid,
        "out_trade_no": trade.out_trade_no,
        "trade_type": "MWEB",
        "trade_state": trade.state,
        "trade_state_desc": Trade.State(trade.state).label,
        "amount": {"total": trade.total_fen, "currency": trade.currency},
    }
    if trade.transaction_id:
        resource["transaction_id"] = trade.transaction_id
        resource["bank_type"] = "OTHERS"
        resource["success_time"] = rfc3339(trade.paid_at)
        resource["payer"] = {"sp_openid": "oSandboxPayer"}
        paid = reported_amount_fen(trade, fault)
        resource["amount"] = {
            "total": paid if fault and fault.report_amount_fen is not None else trade.total_fen,
            "payer_total": paid,
            "currency": trade.currency,
            "payer_currency": trade.currency,
        }
    resource["trade_state_desc"] = str(resource["trade_state_desc"])
    return resource


def refund_resource(refund: Refund) -> dict:
    """The decrypted resource of a refund notification (and a refund query's body)."""
    from .services import rfc3339

    trade = refund.trade
    resource = {
        "sp_mchid": refund.sp_mchid,
        "sub_mchid": refund.sub_mchid,
        "transaction_id": trade.transaction_id,
        "out_trade_no": trade.out_trade_no,
        "refund_id": refund.refund_id,
        "out_refund_no": refund.out_refund_no,
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "create_time": rfc3339(refund.created_at),
        "status": refund.status,
        "refund_status": refund.status,  # the notification's name for it
        "funds_account": "UNSETTLED",
        "amount": {
            "total": trade.total_fen,
            "refund": refund.refund_fen,
            "payer_total": trade.payer_total_fen or trade.total_fen,
            "payer_refund": refund.refund_fen,
            "settlement_refund": refund.refund_fen,
            "settlement_total": trade.total_fen,
            "discount_refund": 0,
            "currency": trade.currency,
        },
    }
    if refund.succeeded_at:
        resource["success_time"] = rfc3339(refund.succeeded_at)
    return resource


def notify_trade(trade: Trade, *, event_type: str, summary: str) -> list[Delivery]:
    """Queue the notification of a trade's new state (inside the caller's transaction)."""
    fault = _fault(trade.out_trade_no)
    return _queue(
        trade=trade,
        refund=None,
        event_type=event_type,
        summary=summary,
        original_type="transaction",
        resource=transaction_resource(trade, fault),
        notify_url=trade.notify_url,
        fault=fault,
    )


def notify_refund(refund: Refund, *, event_type: str, summary: str) -> list[Delivery]:
    """Queue the notification of a refund's outcome (inside the caller's transaction)."""
    return _queue(
        trade=refund.trade,
        refund=refund,
        event_type=event_type,
        summary=summary,
        original_type="refund",
        resource=refund_resource(refund),
        notify_url=refund.notify_url,
        fault=_fault(refund.trade.out_trade_no),
    )


def _queue(
    *,
    trade: Trade,
    refund: Refund | None,
    event_type: str,
    summary: str,
    original_type: str,
    resource: dict,
    notify_url: str,
    fault: Fault | None,
) -> list[Delivery]:
    from .services import rfc3339

    now = timezone.now()
    event_id = str(uuid.uuid4())
    body = json.dumps(
        {
            "id": event_id,
            "create_time": rfc3339(now),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            # The channel's own words (Chinese), part of the protocol, not our UI.
            "summary": summary,
            "resource": crypto.encrypt_resource(
                conf.api_v3_key(),
                json.dumps(resource, ensure_ascii=False, separators=(",", ":")),
                associated_data=original_type,
                original_type=original_type,
            ),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )
    status, first_at = (
        Delivery.Status.PENDING,
        now + timedelta(seconds=fault.delay_s if fault else 0),
    )
    if fault and fault.never_notify:
        status, first_at = Delivery.Status.SUPPRESSED, None
    elif fault and fault.reorder:
        # Held until the next event of this trade is delivered (or at most the hold time).
        status = Delivery.Status.HELD
        first_at = now + timedelta(seconds=conf.reorder_hold_s() * conf.retry_scale())
        Fault.objects.filter(pk=fault.pk).update(reorder=False)  # used once
    deliveries = [
        Delivery.objects.create(
            trade=trade,
            refund=refund,
            event_id=event_id,
            copy=copy,
            event_type=event_type,
            notify_url=notify_url,
            body=body,
            corrupt_signature=bool(fault and fault.corrupt_signature),
            retry_scale=conf.retry_scale(),
            status=status,
            next_attempt_at=first_at,
        )
        for copy in range(1 + (fault.duplicate if fault else 0))
    ]
    if status == Delivery.Status.PENDING:
        countdown = max(0.0, (first_at - now).total_seconds())
        for delivery in deliveries:
            schedule(delivery.pk, countdown=countdown)
    return deliveries


def schedule(delivery_id: int, *, countdown: float = 0.0) -> None:
    """Hand a delivery to Celery after the current transaction commits (if
    ``SANDBOX_GATEWAY_AUTO_DELIVER``). A broker that cannot be reached is logged, not raised:
    the row stays due and the sweep delivers it."""
    if not conf.auto_deliver():
        return
    from .tasks import deliver_notification

    transaction.on_commit(
        partial(
            deliver_notification.apply_async,
            kwargs={"delivery_id": delivery_id},
            countdown=countdown,
        ),
        robust=True,
    )


def _headers(delivery: Delivery) -> dict[str, str]:
    headers = crypto.signed_headers(
        private_key_pem=conf.platform_private_key(),
        serial=conf.platform_serial(),
        body=delivery.body,
    )
    if delivery.corrupt_signature:
        # A well-formed signature, of something else: only verification can tell.
        headers[crypto.H_SIGNATURE] = crypto.sign(conf.platform_private_key(), "corrupted")
    return headers


def _post(url: str, body: str, headers: dict[str, str]) -> tuple[int | None, str, str]:
    """(status or None, answer body, error) of one POST."""
    all_headers = {"Content-Type": "application/json", "User-Agent": "Mozilla/4.0", **headers}
    if conf.notify_transport() == "inprocess":
        from django.test import Client

        parts = urlsplit(url)
        client = Client(raise_request_exception=False)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        response = client.post(
            path,
            data=body.encode(),
            content_type="application/json",
            headers={k: v for k, v in all_headers.items() if k != "Content-Type"},
            secure=parts.scheme == "https",
            HTTP_HOST=parts.netloc,
        )
        return response.status_code, response.content.decode(errors="replace")[:2000], ""
    request = urllib.request.Request(url, data=body.encode(), headers=all_headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=conf.notify_timeout_s()) as response:  # noqa: S310 - http(s) notify URL
            return response.status, response.read(2000).decode(errors="replace"), ""
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(2000).decode(errors="replace"), ""
    except (urllib.error.URLError, OSError, ValueError) as exc:  # refused, reset, time-out
        return None, "", f"{type(exc).__name__}: {exc}"


def delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> float | None:
    """Make one attempt of a delivery if it is due. Returns the seconds until its next attempt
    (it failed and will be retried), or None (delivered, given up, not due, or another
    attempt holds it). Never raises for what the receiver does."""
    now = now or timezone.now()
    claimed = Delivery.objects.filter(
        pk=delivery_id,
        status__in=(Delivery.Status.PENDING, Delivery.Status.HELD),
        next_attempt_at__lte=now,
    ).update(attempts=F("attempts") + 1, next_attempt_at=now + CLAIM_LEASE)
    if not claimed:
        return None
    delivery = Delivery.objects.get(pk=delivery_id)
    number = delivery.attempts
    status_code, answer, error = _post(delivery.notify_url, delivery.body, _headers(delivery))
    done_at = timezone.now()
    DeliveryAttempt.objects.create(
        delivery=delivery,
        number=number,
        at=done_at,
        status_code=status_code,
        response_body=answer,
        error=error,
    )
    mine = Delivery.objects.filter(pk=delivery_id, attempts=number)
    if status_code in DELIVERED_STATUSES:
        mine.update(status=Delivery.Status.DELIVERED, delivered_at=done_at, next_attempt_at=None)
        _release_held(delivery)
        return None
    if number >= MAX_ATTEMPTS:
        mine.update(status=Delivery.Status.GAVE_UP, next_attempt_at=None)
        _release_held(delivery)
        return None
    wait = conf.RETRY_SCHEDULE_S[number - 1] * delivery.retry_scale
    mine.update(status=Delivery.Status.PENDING, next_attempt_at=done_at + timedelta(seconds=wait))
    return wait


def _release_held(delivery: Delivery) -> None:
    """An event of the trade went out: events held back before it (reorder) go now, after it."""
    held = Delivery.objects.filter(
        trade_id=delivery.trade_id, status=Delivery.Status.HELD, created_at__lte=delivery.created_at
    ).exclude(pk=delivery.pk)
    ids = list(held.values_list("pk", flat=True))
    if ids:
        Delivery.objects.filter(pk__in=ids, status=Delivery.Status.HELD).update(
            status=Delivery.Status.PENDING, next_attempt_at=timezone.now()
        )
        for delivery_id in ids:
            schedule(delivery_id)


def due_ids(*, now: datetime | None = None, limit: int = 100) -> list[int]:
    now = now or timezone.now()
    due = Delivery.objects.filter(
        status__in=(Delivery.Status.PENDING, Delivery.Status.HELD), next_attempt_at__lte=now
    )
    return list(due.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit])


def deliver_due(*, now: datetime | None = None, limit: int = 100) -> int:
    """Settle due refunds, then attempt every due delivery, one after the other in this
    process (at most ``limit``); how many attempts were made."""
    from .services import refunds_settle_due

    refunds_settle_due(now=now)
    attempted = 0
    for delivery_id in due_ids(now=now, limit=limit):
        delivery_attempt(delivery_id=delivery_id, now=now)
        attempted += 1
    return attempted
