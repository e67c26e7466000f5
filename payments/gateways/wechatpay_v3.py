"""WeChat Pay API v3, service-provider (partner) mode, behind ``base.Gateway``.

The bank is the service provider (``sp_mchid``, ``sp_appid``); each alliance merchant is a
sub-merchant whose ``sub_mchid`` is our ``Merchant.code`` (``account`` in the interface).
Every request is signed with our merchant API key (``Authorization: WECHATPAY2-SHA256-
RSA2048 ...``) and every answer's ``Wechatpay-*`` signature is verified with the platform
keys before it is believed; notifications are verified and decrypted the same way
(``wechatpay_crypto``).

Options (``settings.ALLIANCE_PAYMENT_GATEWAYS[channel]``): ``base_url``, ``sp_mchid``,
``sp_appid``, ``serial_no``, ``private_key_path``, ``platform_keys`` (serial -> public key
PEM path), ``api_v3_key``, and

- ``transport``: ``"http"`` (default: urllib to ``base_url``) or ``"inprocess"`` (the same
  signed request through ``django.test.Client`` against this project's URLconf, with the Host
  of ``base_url``: the sandbox's real views, headers and signatures, with no server; for
  tests, and code running in a test process);
- ``timeout_s``: per request over HTTP (default 10);
- ``payer_client_ip``: the ``scene_info.payer_client_ip`` sent with an H5 order (default
  ``127.0.0.1``; the interface does not carry the payer's address).

Errors: no answer, a time-out, a 5xx, 429 or an answer whose signature does not verify are
``GatewayError(retryable=True)`` (the outcome is unknown; the same call may succeed); any other
4xx is ``GatewayError(retryable=False, code=<the channel's code>)``, except that closing a paid
trade is ``code="trade_paid"`` and closing a closed one is not an error.
"""

from __future__ import annotations

import csv
import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from urllib.parse import parse_qs, quote, urlencode, urlsplit
from zoneinfo import ZoneInfo

from . import wechatpay_crypto as crypto
from .base import (
    GatewayError,
    Notification,
    NotificationRejected,
    Prepay,
    RefundState,
    StatementLine,
    TradeState,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")

TRADE_STATES = {
    "SUCCESS": "paid",
    "NOTPAY": "notpay",
    "USERPAYING": "paying",
    "PAYERROR": "failed",
    "CLOSED": "closed",
    "REVOKED": "closed",  # a revoked (cancelled) trade cannot be paid any more
    "REFUND": "refunded",
}
REFUND_STATES = {
    "SUCCESS": "succeeded",
    "PROCESSING": "processing",
    "ABNORMAL": "failed",
    "CLOSED": "closed",
}
# Characters left as they are in a path segment: what Django's own URL escaping keeps, so the
# URL we sign is the URL the server sees (trade numbers are letters, digits and _-|*).
_SEGMENT_SAFE = ":@&+$,-_.!~*'()"


def _segment(value: str) -> str:
    return quote(value, safe=_SEGMENT_SAFE)


def _time(text: str | None) -> datetime | None:
    """An aware datetime from the channel's RFC 3339 text (``...+08:00``), None if absent."""
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"time without offset: {text!r}")
    return moment


class _Answer:
    def __init__(self, status: int, body: bytes, headers: Mapping[str, str]):
        self.status, self.body, self.headers = status, body, headers

    def json(self) -> dict:
        try:
            data = json.loads(self.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise GatewayError("the channel's answer is not JSON", code="bad_answer") from None
        if not isinstance(data, dict):
            raise GatewayError("the channel's answer is not a JSON object", code="bad_answer")
        return data


class WechatPayV3Gateway:
    """One channel spoken as WeChat Pay API v3 partner mode. Keys are read once, when the
    instance is made (``gateway_for`` makes one per process and channel); the instance holds no
    other state, so it is safe to share between threads."""

    def __init__(
        self,
        *,
        channel: str,
        base_url: str,
        sp_mchid: str,
        sp_appid: str,
        serial_no: str,
        private_key_path: str,
        platform_keys: Mapping[str, str],
        api_v3_key: str | bytes,
        transport: str = "http",
        timeout_s: float = 10.0,
        payer_client_ip: str = "127.0.0.1",
    ):
        if transport not in ("http", "inprocess"):
            raise ValueError(f"transport is 'http' or 'inprocess', not {transport!r}")
        self.channel = channel
        self.base_url = base_url.rstrip("/")
        self.sp_mchid = str(sp_mchid)
        self.sp_appid = sp_appid
        self.serial_no = serial_no
        self.transport = transport
        self.timeout_s = timeout_s
        self.payer_client_ip = payer_client_ip
        self._private_key = Path(private_key_path).read_bytes()
        self._platform_keys = {
            serial: Path(path).read_bytes() for serial, path in platform_keys.items()
        }
        self._api_v3_key = api_v3_key.encode() if isinstance(api_v3_key, str) else api_v3_key

    # --- transport ---------------------------------------------------------------------------
    def _send(
        self, method: str, url: str, payload: dict | None = None, *, signed: bool = True
    ) -> _Answer:
        """Sign and send one request to the absolute ``url``; verify the answer's signature
        (``signed``) unless it is a 5xx. Raises ``GatewayError`` for no answer, an unverified
        one and any status >= 400 (the channel's code and message)."""
        body = (
            ""
            if payload is None
            else json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        )
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = {
            "Authorization": crypto.authorization_header(
                mchid=self.sp_mchid,
                serial_no=self.serial_no,
                private_key_pem=self._private_key,
                method=method,
                url=path,
                body=body,
            ),
            "Accept": "application/json",
            "User-Agent": "merchant-alliance-wechatpay-v3",
        }
        if payload is not None:
            headers["Content-Type"] = "application/json"
        if self.transport == "inprocess":
            answer = self._send_inprocess(method, parts, path, body, headers)
        else:
            answer = self._send_http(method, url, body, headers)
        if answer.status >= 500:
            raise GatewayError(
                f"{self.channel}: {method} {parts.path} answered {answer.status}",
                code=self._error_code(answer, f"http_{answer.status}"),
            )
        if signed:
            try:
                crypto.verify_signed(answer.headers, answer.body, public_keys=self._platform_keys)
            except NotificationRejected as exc:
                # We cannot tell what the channel did: as with a time-out, ask again later.
                raise GatewayError(
                    f"{self.channel}: answer to {method} {parts.path} not verified: {exc}",
                    code="answer_unverified",
                ) from exc
        if answer.status >= 400:
            data = self._error_body(answer)
            raise GatewayError(
                f"{self.channel}: {data.get('code')}: {data.get('message')}",
                retryable=answer.status == 429,
                code=str(data.get("code") or f"http_{answer.status}"),
            )
        return answer

    def _send_http(self, method, url, body, headers) -> _Answer:
        request = urllib.request.Request(
            url, data=body.encode() if body else None, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310 - the channel's https URL
                return _Answer(response.status, response.read(), response.headers)
        except urllib.error.HTTPError as exc:
            return _Answer(exc.code, exc.read(), exc.headers)
        except (urllib.error.URLError, OSError, ValueError) as exc:  # refused, reset, time-out
            raise GatewayError(
                f"{self.channel}: {method} {url}: {exc}", code="transport_error"
            ) from exc

    def _send_inprocess(self, method, parts, path, body, headers) -> _Answer:
        from django.test import Client

        client = Client(raise_request_exception=False)
        extra = {k: v for k, v in headers.items() if k != "Content-Type"}
        response = client.generic(
            method,
            path,
            data=body.encode(),
            content_type=headers.get("Content-Type", "application/octet-stream"),
            headers=extra,
            secure=parts.scheme == "https",
            HTTP_HOST=parts.netloc,
        )
        return _Answer(response.status_code, response.content, response.headers)

    @staticmethod
    def _error_body(answer: _Answer) -> dict:
        try:
            data = json.loads(answer.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return {}
        return data if isinstance(data, dict) else {}

    def _error_code(self, answer: _Answer, default: str) -> str:
        return str(self._error_body(answer).get("code") or default)

    def _url(self, path: str, **query) -> str:
        query = {k: v for k, v in query.items() if v not in (None, "")}
        return self.base_url + path + (f"?{urlencode(query)}" if query else "")

    # --- trades ------------------------------------------------------------------------------
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
        """``POST /v3/pay/partner/transactions/h5``; the payer goes to ``h5_url`` with our
        ``redirect_url`` appended (URL-encoded), as the H5 guide says."""
        if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
            raise GatewayError(
                "amount_fen is a positive int", retryable=False, code="invalid_amount"
            )
        answer = self._send(
            "POST",
            self._url("/v3/pay/partner/transactions/h5"),
            {
                "sp_appid": self.sp_appid,
                "sp_mchid": self.sp_mchid,
                "sub_mchid": account,
                "description": description[:127],
                "out_trade_no": out_trade_no,
                "time_expire": expires_at.astimezone(SHANGHAI).isoformat(timespec="seconds"),
                "notify_url": notify_url,
                "amount": {"total": amount_fen, "currency": "CNY"},
                "scene_info": {"payer_client_ip": self.payer_client_ip, "h5_info": {"type": "Wap"}},
            },
        )
        h5_url = answer.json().get("h5_url")
        if not h5_url:
            raise GatewayError(f"{self.channel}: no h5_url in the answer", code="bad_answer")
        separator = "&" if urlsplit(h5_url).query else "?"
        pay_url = f"{h5_url}{separator}redirect_url={quote(return_url, safe='')}"
        return Prepay(pay_url=pay_url, prepay_id=_prepay_id(h5_url))

    def query(self, *, out_trade_no: str, account: str = "") -> TradeState:
        """``GET /v3/pay/partner/transactions/out-trade-no/{out_trade_no}``. ``account`` is the
        sub-merchant; the interface does not pass it yet, and without it only the sandbox
        answers (the real channel requires ``sub_mchid``)."""
        answer = self._send(
            "GET",
            self._url(
                f"/v3/pay/partner/transactions/out-trade-no/{_segment(out_trade_no)}",
                sp_mchid=self.sp_mchid,
                sub_mchid=account,
            ),
        )
        try:
            return self._trade_state(answer.json())
        except (KeyError, TypeError, ValueError) as exc:
            raise GatewayError(
                f"{self.channel}: unreadable trade: {exc}", code="bad_answer"
            ) from exc

    def _trade_state(self, data: Mapping) -> TradeState:
        """Our ``TradeState`` from a transaction object (query answer or notification)."""
        status = TRADE_STATES[data["trade_state"]]
        amount = data.get("amount") or {}
        paid = status in ("paid", "refunded")
        return TradeState(
            out_trade_no=str(data["out_trade_no"]),
            status=status,
            amount_fen=int(amount["total"]) if paid else None,
            transaction_id=str(data.get("transaction_id") or ""),
            paid_at=_time(data.get("success_time")) if paid else None,
            account=str(data.get("sub_mchid") or ""),
        )

    def close(self, *, out_trade_no: str, account: str = "") -> None:
        """``POST .../out-trade-no/{out_trade_no}/close`` (204). A paid trade raises
        ``GatewayError(code="trade_paid")``; a closed one is not an error."""
        try:
            self._send(
                "POST",
                self._url(
                    f"/v3/pay/partner/transactions/out-trade-no/{_segment(out_trade_no)}/close"
                ),
                {"sp_mchid": self.sp_mchid, "sub_mchid": account},
            )
        except GatewayError as exc:
            if exc.code in ("ORDERPAID", "ORDER_PAID", "TRADE_PAID"):
                raise GatewayError(str(exc), retryable=False, code="trade_paid") from exc
            if exc.code == "ORDER_CLOSED":
                return
            raise

    # --- refunds -----------------------------------------------------------------------------
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
        """``POST /v3/refund/domestic/refunds``; usually ``processing``, idempotent by
        ``out_refund_no`` on the channel's side."""
        payload = {
            "sub_mchid": account,
            "out_trade_no": out_trade_no,
            "out_refund_no": out_refund_no,
            "notify_url": notify_url,
            "amount": {"refund": amount_fen, "total": total_fen, "currency": "CNY"},
        }
        if reason:
            payload["reason"] = reason[:80]
        if not account:
            del payload["sub_mchid"]
        answer = self._send("POST", self._url("/v3/refund/domestic/refunds"), payload)
        return self._refund_state_or_raise(answer.json())

    def refund_query(self, *, out_refund_no: str, account: str = "") -> RefundState:
        """``GET /v3/refund/domestic/refunds/{out_refund_no}``."""
        answer = self._send(
            "GET",
            self._url(f"/v3/refund/domestic/refunds/{_segment(out_refund_no)}", sub_mchid=account),
        )
        return self._refund_state_or_raise(answer.json())

    def _refund_state_or_raise(self, data: Mapping) -> RefundState:
        try:
            return self._refund_state(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise GatewayError(
                f"{self.channel}: unreadable refund: {exc}", code="bad_answer"
            ) from exc

    @staticmethod
    def _refund_state(data: Mapping) -> RefundState:
        """Our ``RefundState`` from a refund object (the API says ``status``, a notification
        ``refund_status``)."""
        status = REFUND_STATES[data.get("status") or data["refund_status"]]
        return RefundState(
            out_refund_no=str(data["out_refund_no"]),
            status=status,
            amount_fen=int(data["amount"]["refund"]),
            refund_id=str(data.get("refund_id") or ""),
            out_trade_no=str(data.get("out_trade_no") or ""),
            succeeded_at=_time(data.get("success_time")) if status == "succeeded" else None,
        )

    # --- statements --------------------------------------------------------------------------
    def statement(self, *, day: date, account: str = "") -> str:
        """The ALL trade bill of ``day``: ``GET /v3/bill/tradebill``, then its ``download_url``
        (signed request; the file itself is not signed, its SHA1 in the signed answer is
        checked). A day the channel has no bill for (``NO_STATEMENT_EXIST``) is "" (no
        lines)."""
        try:
            answer = self._send(
                "GET",
                self._url(
                    "/v3/bill/tradebill",
                    bill_date=day.isoformat(),
                    sub_mchid=account,
                    bill_type="ALL",
                ),
            )
        except GatewayError as exc:
            if exc.code == "NO_STATEMENT_EXIST":
                return ""
            raise
        info = answer.json()
        if info.get("hash_type", "SHA1") != "SHA1" or not info.get("download_url"):
            raise GatewayError(f"{self.channel}: unusable tradebill answer", code="bad_answer")
        file = self._send("GET", info["download_url"], signed=False)
        if hashlib.sha1(file.body).hexdigest() != str(info.get("hash_value", "")).lower():  # noqa: S324 - the protocol's hash
            raise GatewayError(
                f"{self.channel}: bill of {day} does not match its SHA1",
                code="statement_hash_mismatch",
            )
        try:
            return file.body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise GatewayError(
                f"{self.channel}: bill of {day} is not UTF-8",
                retryable=False,
                code="statement_unreadable",
            ) from exc

    def parse_statement(self, text: str) -> list[StatementLine]:
        """The lines of an ALL trade bill. Columns are found by their header names (the
        channel does not promise an order); each field's leading backtick is dropped; amounts
        are yuan with at most two decimals. The summary must agree with the lines (count,
        totals). Raises ``GatewayError(retryable=False, code="statement_unreadable")`` naming
        the line (1-based) it cannot read. ``fee_fen`` is as the bill says (a refund's is
        negative: the fee given back)."""
        rows = [
            (n, row)
            for n, row in enumerate(csv.reader(text.lstrip("\ufeff").splitlines()), 1)
            if row
        ]
        if not rows:
            return []

        def refuse(line: int, why: str):
            return GatewayError(
                f"{self.channel}: statement line {line}: {why}",
                retryable=False,
                code="statement_unreadable",
            )

        header_line, header = rows[0]
        columns = {name.strip().lstrip("`"): i for i, name in enumerate(header)}
        needed = ("交易时间", "特约商户号", "微信订单号", "商户订单号", "交易状态", "订单金额",
                  "商户退款单号", "退款金额", "退款状态", "手续费")  # fmt: skip
        missing = [name for name in needed if name not in columns]
        if missing:
            raise refuse(header_line, "no column " + ", ".join(missing))
        lines: list[StatementLine] = []
        summary = None
        for index, (n, row) in enumerate(rows[1:], 1):
            fields = [field.strip().removeprefix("`") for field in row]
            if fields[0] == "总交易单数":
                if index + 1 >= len(rows):
                    raise refuse(n, "summary header without a summary")
                summary = (
                    rows[index + 1][0],
                    fields,
                    [f.strip().removeprefix("`") for f in rows[index + 1][1]],
                )
                if index + 2 < len(rows):
                    raise refuse(rows[index + 2][0], "text after the summary")
                break
            if len(fields) != len(header):
                raise refuse(n, f"{len(fields)} fields, the header has {len(header)}")
            try:
                lines.append(self._statement_line(fields, columns))
            except (KeyError, ValueError) as exc:
                raise refuse(n, str(exc)) from exc
        if summary is None:
            raise refuse(rows[-1][0], "no summary")
        self._check_summary(summary, lines, refuse)
        return lines

    @staticmethod
    def _statement_line(fields: list[str], columns: dict[str, int]) -> StatementLine:
        def field(name: str) -> str:
            return fields[columns[name]]

        at = datetime.strptime(field("交易时间"), "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)
        state = field("交易状态")
        common = {
            "out_trade_no": field("商户订单号"),
            "account": field("特约商户号"),
            "transaction_id": field("微信订单号"),
            "at": at,
            "fee_fen": crypto.yuan_to_fen(field("手续费")),
        }
        if not common["out_trade_no"]:
            raise ValueError("no out_trade_no")
        if state == "REFUND":
            amount_fen = crypto.yuan_to_fen(field("退款金额"))
            refund_state = field("退款状态")
            if amount_fen <= 0:
                raise ValueError(f"refund amount {field('退款金额')}")
            return StatementLine(
                kind="refund",
                amount_fen=amount_fen,
                status="refunded" if refund_state == "SUCCESS" else refund_state,
                out_refund_no=field("商户退款单号"),
                **common,
            )
        amount_fen = crypto.yuan_to_fen(field("订单金额"))
        if amount_fen <= 0:
            raise ValueError(f"payment amount {field('订单金额')}")
        return StatementLine(
            kind="payment",
            amount_fen=amount_fen,
            status="paid" if state == "SUCCESS" else state,
            **common,
        )

    @staticmethod
    def _check_summary(summary, lines: list[StatementLine], refuse) -> None:
        n, names, values = summary
        if len(values) != len(names):
            raise refuse(n, "summary does not match its header")
        totals = dict(zip(names, values, strict=True))
        try:
            count = int(totals["总交易单数"])
            refunded = crypto.yuan_to_fen(totals["退款总金额"])
            ordered = crypto.yuan_to_fen(totals.get("订单总金额", totals.get("应结订单总金额", "")))
        except (KeyError, ValueError) as exc:
            raise refuse(n, f"unreadable summary: {exc}") from exc
        if count != len(lines):
            raise refuse(n, f"summary counts {count} lines, the file has {len(lines)}")
        if refunded != sum(line.amount_fen for line in lines if line.kind == "refund"):
            raise refuse(n, "summary refund total does not add up")
        if ordered != sum(line.amount_fen for line in lines if line.kind == "payment"):
            raise refuse(n, "summary order total does not add up")

    # --- notifications -----------------------------------------------------------------------
    def parse_notification(
        self, *, headers: Mapping[str, str], body: bytes, now: datetime | None = None
    ) -> Notification:
        """Verify (signature over the exact body, 5-minute window, platform serial), decrypt
        (AEAD_AES_256_GCM with our API v3 key) and read a payment or refund notification.
        Raises ``NotificationRejected``; a notification for another service provider is
        ``malformed``."""
        crypto.verify_signed(
            headers,
            body,
            public_keys=self._platform_keys,
            now=int(now.timestamp()) if now else None,
        )
        try:
            envelope = json.loads(body)
            resource = envelope["resource"]
            event_id = str(envelope["id"])
            event_type = str(envelope.get("event_type") or "")
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise NotificationRejected("malformed", "not a notification body") from None
        if not isinstance(resource, Mapping):
            raise NotificationRejected("malformed", "no resource")
        plaintext = crypto.decrypt_resource(self._api_v3_key, resource)
        try:
            data = json.loads(plaintext)
            if data.get("sp_mchid") and str(data["sp_mchid"]) != self.sp_mchid:
                raise NotificationRejected("malformed", f"for merchant {data['sp_mchid']}")
            kind = resource.get("original_type") or event_type.split(".")[0].lower()
            if kind == "refund" or event_type.startswith("REFUND."):
                return Notification(
                    kind="refund", event_id=event_id, refund=self._refund_state(data), raw=data
                )
            if kind == "transaction" or event_type.startswith("TRANSACTION."):
                return Notification(
                    kind="payment", event_id=event_id, trade=self._trade_state(data), raw=data
                )
        except NotificationRejected:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise NotificationRejected("malformed", f"unreadable resource: {exc}") from None
        raise NotificationRejected("malformed", f"unknown event {event_type}")

    def acknowledge(self) -> tuple[int, bytes, str]:
        """v3: a notification taken is answered 200 or 204 with no body."""
        return 204, b"", ""

    def reject(self, *, message: str) -> tuple[int, bytes, str]:
        """v3: a notification not taken is answered 4xx/5xx with ``{"code": "FAIL", ...}``;
        the channel retries it on its schedule."""
        body = json.dumps({"code": "FAIL", "message": message}, ensure_ascii=False).encode()
        return 500, body, "application/json"


def _prepay_id(h5_url: str) -> str:
    """The prepay id in an h5_url: its ``prepay_id`` parameter (the channel's), else its last
    path segment (the sandbox's ``.../pay/<prepay_id>/``)."""
    parts = urlsplit(h5_url)
    found = parse_qs(parts.query).get("prepay_id")
    if found:
        return found[0]
    return parts.path.rstrip("/").rsplit("/", 1)[-1]
