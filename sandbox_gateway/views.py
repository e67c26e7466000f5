"""The sandbox channel's HTTP face: the WeChat Pay API v3 endpoints and the hosted pay page.

API views take a JSON request whose ``Authorization`` must verify against a merchant key
(401 ``SIGN_ERROR`` otherwise), call a service, and answer JSON signed with the platform key
(``Wechatpay-*`` headers), errors as ``{"code", "message"}`` with the channel's 4xx. The bill
download is not signed (as on the channel): its SHA1 is in the signed tradebill answer.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from functools import wraps
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpResponse, HttpResponseRedirect
from django.http.request import validate_host
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from payments.gateways import wechatpay_crypto as crypto
from payments.gateways.base import NotificationRejected

from . import bills, conf, services
from .models import Bill, Trade
from .notifications import refund_resource, transaction_resource
from .services import ChannelError


# --- API plumbing ----------------------------------------------------------------------------
def _signed(status: int, payload: dict | None) -> HttpResponse:
    body = "" if payload is None else json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    response = HttpResponse(body.encode(), status=status, content_type="application/json")
    for name, value in crypto.signed_headers(
        private_key_pem=conf.platform_private_key(), serial=conf.platform_serial(), body=body
    ).items():
        response[name] = value
    response["Request-ID"] = crypto.new_nonce(24)
    return response


def _authenticate(request) -> str:
    """The merchant id whose key signed this request; raises ``ChannelError`` 401."""
    header = request.headers.get("Authorization", "")
    body = request.body.decode(errors="replace")
    # The signature covers the URL as sent; a server that keeps the raw URI (gunicorn) gives
    # it, else Django's re-encoded path is the same for the characters a trade number uses.
    urls = [request.get_full_path()]
    if request.META.get("RAW_URI"):
        urls.insert(0, request.META["RAW_URI"])
    error: NotificationRejected | None = None
    for url in urls:
        try:
            params = crypto.verify_authorization(
                header,
                method=request.method,
                url=url,
                body=body,
                public_keys=conf.merchant_public_keys(),
            )
        except NotificationRejected as exc:
            error = exc
            continue
        if params["mchid"] not in conf.merchants():
            raise ChannelError(400, "MCH_NOT_EXISTS", _("Unknown merchant id"))
        return params["mchid"]
    raise ChannelError(
        401, "SIGN_ERROR", _("Signature verification failed: %(reason)s") % {"reason": error}
    )


def channel_api(view):
    """Authenticate, run ``view(request, mchid, ...) -> (status, payload)``, sign the answer."""

    @csrf_exempt
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            mchid = _authenticate(request)
            status, payload = view(request, mchid, *args, **kwargs)
        except ChannelError as exc:
            return _signed(exc.status, {"code": exc.code, "message": str(exc.message)})
        return _signed(status, payload)

    return wrapper


def _json(request) -> dict:
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise ChannelError(400, "PARAM_ERROR", _("The body is not JSON")) from None
    if not isinstance(data, dict):
        raise ChannelError(400, "PARAM_ERROR", _("The body is not a JSON object"))
    return data


def _required(data, *names: str):
    values = []
    for name in names:
        value = data.get(name)
        if value in (None, ""):
            raise ChannelError(400, "PARAM_ERROR", _("%(name)s is required") % {"name": name})
        values.append(value)
    return values


def _own(sp_mchid: str, mchid: str) -> None:
    if sp_mchid != mchid:
        raise ChannelError(403, "NO_AUTH", _("sp_mchid is not the merchant that signed"))


def _rfc3339(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ChannelError(400, "PARAM_ERROR", _("time_expire is an RFC 3339 time with its offset"))
    return moment


# --- API endpoints ---------------------------------------------------------------------------
@require_http_methods(["POST"])
@channel_api
def h5_create(request, mchid):
    data = _json(request)
    sp_mchid, sp_appid, sub_mchid, description, out_trade_no, notify_url, amount = _required(
        data,
        "sp_mchid",
        "sp_appid",
        "sub_mchid",
        "description",
        "out_trade_no",
        "notify_url",
        "amount",
    )
    _own(sp_mchid, mchid)
    if not isinstance(amount, dict):
        raise ChannelError(400, "PARAM_ERROR", _("amount is an object"))
    trade = services.trade_create(
        sp_mchid=sp_mchid,
        sp_appid=sp_appid,
        sub_mchid=sub_mchid,
        out_trade_no=out_trade_no,
        description=description,
        total_fen=amount.get("total"),
        currency=amount.get("currency") or "CNY",
        notify_url=notify_url,
        time_expire=_rfc3339(data["time_expire"]) if data.get("time_expire") else None,
    )
    pay_url = request.build_absolute_uri(reverse("sandbox_gateway:pay", args=[trade.prepay_id]))
    return 200, {"h5_url": pay_url}


@require_http_methods(["GET"])
@channel_api
def trade_query(request, mchid, out_trade_no):
    (sp_mchid,) = _required(request.GET, "sp_mchid")
    _own(sp_mchid, mchid)
    sub_mchid = request.GET.get("sub_mchid", "")  # required on the channel: see trade_get
    trade = services.trade_get(sp_mchid=sp_mchid, sub_mchid=sub_mchid, out_trade_no=out_trade_no)
    return 200, transaction_resource(trade, services.fault_for(trade.out_trade_no))


@require_http_methods(["POST"])
@channel_api
def trade_close(request, mchid, out_trade_no):
    data = _json(request)
    (sp_mchid,) = _required(data, "sp_mchid")
    _own(sp_mchid, mchid)
    sub_mchid = str(data.get("sub_mchid") or "")  # required on the channel: see trade_get
    services.trade_close(sp_mchid=sp_mchid, sub_mchid=sub_mchid, out_trade_no=out_trade_no)
    return 204, None


@require_http_methods(["POST"])
@channel_api
def refund_create(request, mchid):
    data = _json(request)
    out_trade_no, out_refund_no, amount = _required(data, "out_trade_no", "out_refund_no", "amount")
    sub_mchid = str(data.get("sub_mchid") or "")  # required on the channel: see trade_get
    if not isinstance(amount, dict):
        raise ChannelError(400, "PARAM_ERROR", _("amount is an object"))
    refund = services.refund_create(
        sp_mchid=mchid,
        sub_mchid=sub_mchid,
        out_trade_no=out_trade_no,
        out_refund_no=out_refund_no,
        refund_fen=amount.get("refund"),
        total_fen=amount.get("total"),
        currency=amount.get("currency") or "CNY",
        reason=str(data.get("reason") or ""),
        notify_url=str(data.get("notify_url") or ""),
    )
    return 200, _refund_answer(refund)


def _refund_answer(refund) -> dict:
    answer = refund_resource(refund)
    del answer["refund_status"]  # the notification's name; the API says "status"
    return answer


@require_http_methods(["GET"])
@channel_api
def refund_query(request, mchid, out_refund_no):
    sub_mchid = request.GET.get("sub_mchid", "")  # required on the channel: see trade_get
    refund = services.refund_get(sp_mchid=mchid, sub_mchid=sub_mchid, out_refund_no=out_refund_no)
    return 200, _refund_answer(refund)


@require_http_methods(["GET"])
@channel_api
def tradebill(request, mchid):
    (bill_date,) = _required(request.GET, "bill_date")
    try:
        day = date.fromisoformat(bill_date)
    except ValueError:
        raise ChannelError(400, "PARAM_ERROR", _("bill_date is YYYY-MM-DD")) from None
    if request.GET.get("bill_type", "ALL") != "ALL" or request.GET.get("tar_type"):
        raise ChannelError(400, "PARAM_ERROR", _("The sandbox makes ALL bills, not compressed"))
    bill = bills.bill_make(
        sp_mchid=mchid, sub_mchid=request.GET.get("sub_mchid", ""), bill_date=day
    )
    url = request.build_absolute_uri(reverse("sandbox_gateway:bill_download"))
    return 200, {
        "hash_type": "SHA1",
        "hash_value": bill.sha1,
        "download_url": f"{url}?token={bill.token}",
    }


@require_http_methods(["GET"])
@csrf_exempt
def bill_download(request):
    try:
        mchid = _authenticate(request)
    except ChannelError as exc:
        return _signed(exc.status, {"code": exc.code, "message": str(exc.message)})
    bill = Bill.objects.filter(token=request.GET.get("token", ""), sp_mchid=mchid).first()
    if bill is None:
        return _signed(404, {"code": "RESOURCE_NOT_EXISTS", "message": str(_("No such bill"))})
    return HttpResponse(bill.content.encode(), content_type="text/plain; charset=utf-8")


# --- Hosted pay page -------------------------------------------------------------------------
def _redirect_target(url: str) -> str:
    """``redirect_url`` if it is an http(s) URL to one of our hosts (the channel only
    redirects to a merchant's registered domain), else "" (no redirect)."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    allowed = [*settings.ALLOWED_HOSTS]
    public = urlsplit(getattr(settings, "ALLIANCE_PUBLIC_BASE_URL", "")).hostname
    if public:
        allowed.append(public)
    return url if validate_host(parts.hostname, allowed) else ""


@require_http_methods(["GET", "POST"])
def pay_page(request, prepay_id):
    """The payer's page: merchant, amount, channel; confirm or decline (a plain form, no
    JavaScript), then back to ``redirect_url`` as WeChat Pay H5 does (whatever the outcome)."""
    trade = get_object_or_404(Trade, prepay_id=prepay_id)
    redirect_url = _redirect_target(
        request.POST.get("redirect_url") or request.GET.get("redirect_url", "")
    )
    error = ""
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "confirm":
                trade = services.trade_pay(trade_id=trade.pk)
            elif action == "decline":
                trade = services.trade_decline(trade_id=trade.pk)
            else:
                raise ChannelError(400, "PARAM_ERROR", _("Choose to pay or to cancel."))
        except ChannelError as exc:
            error, status = exc.message, 400
            trade.refresh_from_db()
        else:
            if redirect_url:
                return HttpResponseRedirect(redirect_url)
    else:
        trade = services.trade_open_page(trade_id=trade.pk)
    context = {
        "trade": trade,
        "channel_label": conf.channel_label(trade.sp_mchid),
        "redirect_url": redirect_url,
        "error": error,
        "payable": trade.state in services.OPEN,
    }
    return render(request, "sandbox_gateway/pay.html", context, status=status)
