"""The one interface every payment channel's adapter implements.

Our code (``payments.services``, the notify view, the Celery jobs) talks only to this. An
adapter turns it into one channel's protocol: the WeChat Pay API v3 adapter
(``wechatpay_v3.WechatPayV3Gateway``) speaks that protocol to the real endpoint or, by
settings, to the sandbox gateway this project serves (``sandbox_gateway``), which speaks it too.

``settings.ALLIANCE_PAYMENT_GATEWAYS`` maps each channel to an adapter class path and its
options; ``gateway_for(channel)`` builds it (once per process and channel).

Amounts are integer fen; times are aware datetimes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Literal, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

TradeStatus = Literal["notpay", "paying", "paid", "failed", "closed", "refunded"]
RefundStatus = Literal["processing", "succeeded", "failed", "closed"]


class GatewayError(Exception):
    """The channel could not be reached or answered something we cannot use. ``retryable``
    says whether the same call may succeed later (a time-out, a 5xx)."""

    def __init__(self, message: str, *, retryable: bool = True, code: str = "gateway_error"):
        super().__init__(message)
        self.retryable = retryable
        self.code = code


class NotificationRejected(Exception):
    """A notification we must not apply: bad signature, stale timestamp, unknown serial, a
    body we cannot decrypt or parse. ``code`` is stable (``signature_invalid``,
    ``timestamp_out_of_window``, ``unknown_serial``, ``decrypt_failed``, ``malformed``)."""

    def __init__(self, code: str, message: str = ""):
        super().__init__(message or code)
        self.code = code


@dataclass(frozen=True)
class Prepay:
    """Where to send the payer: the channel's hosted page (H5 / cashier URL)."""

    pay_url: str
    prepay_id: str = ""


@dataclass(frozen=True)
class TradeState:
    out_trade_no: str
    status: TradeStatus
    amount_fen: int | None = None  # what the channel says was paid (None before paying)
    transaction_id: str = ""
    paid_at: datetime | None = None
    account: str = ""  # the channel's merchant account (sub-merchant id) of the trade


@dataclass(frozen=True)
class RefundState:
    out_refund_no: str
    status: RefundStatus
    amount_fen: int
    refund_id: str = ""
    out_trade_no: str = ""
    succeeded_at: datetime | None = None


@dataclass(frozen=True)
class Notification:
    """A verified, decrypted notification. ``kind`` says which of trade/refund is set."""

    kind: Literal["payment", "refund"]
    event_id: str
    trade: TradeState | None = None
    refund: RefundState | None = None
    raw: Mapping = field(default_factory=dict)  # the decrypted resource, for the record


@dataclass(frozen=True)
class StatementLine:
    """One line of a channel's daily statement, in our terms."""

    kind: Literal["payment", "refund"]
    out_trade_no: str
    amount_fen: int  # paid (payment) or refunded (refund), positive
    status: str  # "paid" / "refunded" for what happened; the channel's word otherwise
    account: str = ""  # sub-merchant id (our merchant's code)
    out_refund_no: str = ""
    transaction_id: str = ""
    at: datetime | None = None
    fee_fen: int = 0


class Gateway(Protocol):
    channel: str

    def create(
        self,
        *,
        out_trade_no: str,
        amount_fen: int,
        description: str,
        account: str,
        notify_url: str,
        return_url: str,
        expires_at: datetime,
    ) -> Prepay:
        """Open a trade on the channel; idempotent by ``out_trade_no`` on the channel's side
        (the same number twice gives the same prepay, or an error saying it exists)."""

    # ``account`` (the sub-merchant: our merchant's code) on every call about a trade: partner
    # mode needs it to find the trade.
    def query(self, *, out_trade_no: str, account: str = "") -> TradeState: ...

    def close(self, *, out_trade_no: str, account: str = "") -> None:
        """Close an unpaid trade so it can no longer be paid. Closing a closed trade is fine;
        closing a paid one raises ``GatewayError(code="trade_paid", retryable=False)``."""

    def refund(
        self,
        *,
        out_trade_no: str,
        out_refund_no: str,
        amount_fen: int,
        total_fen: int,
        notify_url: str,
        reason: str = "",
        account: str = "",
    ) -> RefundState:
        """Ask for a refund; asynchronous (usually ``processing``), idempotent by
        ``out_refund_no``."""

    def refund_query(self, *, out_refund_no: str, account: str = "") -> RefundState: ...

    def statement(self, *, day: date, account: str = "") -> str:
        """The channel's statement file (CSV text) of ``day`` (the channel's local day, Asia/
        Shanghai), all accounts or one, as downloaded (kept as evidence)."""

    def parse_statement(self, text: str) -> list[StatementLine]:
        """The lines of a statement file; raises ``GatewayError(retryable=False)`` for a
        file it cannot read (a broken line names its line number)."""

    def parse_notification(
        self, *, headers: Mapping[str, str], body: bytes, now: datetime | None = None
    ) -> Notification:
        """Verify (signature, timestamp window, serial) and decrypt a notification the
        channel POSTed; raises ``NotificationRejected``."""

    def acknowledge(self) -> tuple[int, bytes, str]:
        """(status, body, content type) the protocol wants for a notification we took."""

    def reject(self, *, message: str) -> tuple[int, bytes, str]:
        """(status, body, content type) for one we did not take (the channel retries)."""


@cache
def gateway_for(channel: str) -> Gateway:
    """The adapter ``settings.ALLIANCE_PAYMENT_GATEWAYS[channel]`` names, built once."""
    try:
        conf = dict(settings.ALLIANCE_PAYMENT_GATEWAYS[channel])
    except KeyError:
        raise GatewayError(f"no gateway for channel {channel!r}", retryable=False) from None
    cls = import_string(conf.pop("class"))
    return cls(channel=channel, **conf)
