"""Using a coupon at the counter (核销): inspect, confirm, undo; and voiding.

The cashier scans the customer's QR (a signed token) or types the counter digits shown under
it (both change every 30 seconds; the coupon's permanent code is not accepted); ``coupon_inspect``
says what the coupon is and whether it is usable here and now, without changing anything.
``coupon_verify`` confirms with an idempotency key: it locks the coupon row, moves it
issued -> verified with a conditional update and writes one ``Verification`` (unique per
merchant and key, and one live per coupon), so a retried or concurrent confirm never
verifies twice. The owner can undo within ``COUPON_UNDO_MINUTES``.

The counter also takes the phone's offline code (离线码, see ``tokens``): 20 digits starting
with 9, made from the customer's own key without the network. Each offline code is used once:
the verification records its time step, and a code of that step or an earlier one is refused
for the coupon from then on, also after an undo (the customer shows a new one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from merchants.models import MerchantStaff

from ..errors import (
    CounterTooManyWrongCodes,
    CouponAlreadyUsed,
    CouponCodeUsed,
    CouponExpired,
    CouponNotFound,
    CouponNotUsable,
    CouponOtherMerchant,
    InvalidInput,
    InvalidTransition,
    NotInYourGrid,
    ReasonRequired,
    TokenInvalid,
    UndoWindowPassed,
)
from ..models import CampaignEntry, Coupon, Verification
from ._common import local, membership_of, record_event
from .campaigns import reservation_move
from .offline import offline_key_of_coupon
from .tokens import (
    code_from_token,
    coupon_id_from_counter_code,
    coupon_id_from_offline_code,
    is_counter_code,
    is_offline_code,
    offline_code_step,
)

Status = Coupon.Status

REASONS = {
    "used": _("This coupon has already been used."),
    "expired": _("This coupon has expired."),
    "refunded": _("This coupon was refunded."),
    "voided": _("This coupon was voided."),
    "not_yet_valid": _("This coupon is not valid yet."),
    "not_today": _("This coupon cannot be used on this day of the week."),
    "not_this_hour": _("This coupon cannot be used at this time of day."),
    "not_at_this_store": _("This coupon is not valid at this store."),
    "merchant_inactive": _("The merchant is not active in the alliance."),
}


def unusable_reason(coupon: Coupon, *, now: datetime, store_id: int | None = None) -> str | None:
    """Why the coupon cannot be used here and now (a key of ``REASONS``), or None.

    Days and hours are decided in local time (Asia/Shanghai), whatever the server's zone;
    ``valid_until`` is exclusive (a coupon "valid until the 31st" stops at 00:00 on the 1st).
    """
    template = coupon.template
    if coupon.status != Status.ISSUED:
        return {
            Status.VERIFIED: "used",
            Status.EXPIRED: "expired",
            Status.REFUNDED: "refunded",
            Status.VOIDED: "voided",
        }[coupon.status]
    if now >= coupon.valid_until:
        return "expired"
    if now < coupon.valid_from:
        return "not_yet_valid"
    if template.merchant.status != "active":
        return "merchant_inactive"
    here = local(now)
    if not template.weekdays & (1 << here.weekday()):
        return "not_today"
    if template.time_slots:
        hhmm = here.strftime("%H:%M")
        if not any(start <= hhmm < end for start, end in template.time_slots):
            return "not_this_hour"
    if store_id is not None and not template.stores.filter(pk=store_id).exists():
        return "not_at_this_store"
    return None


@dataclass(frozen=True)
class Inspection:
    coupon: Coupon
    reason: str | None
    # The offline digits inspected, if that is what was shown: the confirm step sends them
    # again, so that the code itself is what gets used (once).
    offline_code: str = ""

    @property
    def usable(self) -> bool:
        return self.reason is None

    @property
    def message(self) -> str:
        return str(REASONS[self.reason]) if self.reason else ""


def _membership(actor) -> MerchantStaff:
    return membership_of(actor)


# Typed digits carry a 7-digit MAC: a guess succeeds once in 10 million. A merchant gets at
# most COUNTER_WRONG_CODES wrong digits per COUNTER_WINDOW_S, counted in the cache (per
# process unless a shared cache is configured: with 4 workers, 80 guesses per 10 minutes at
# most, far from walking the MAC space), then typing is refused for the rest of the window;
# scanning the QR (a token nobody can forge) still works.
COUNTER_WRONG_CODES = 20
COUNTER_WINDOW_S = 600


def _wrong_codes_key(merchant_id: int) -> str:
    return f"coupons:counter-wrong:{merchant_id}"


def _counted(merchant_id: int, check):
    """``check()``, with its wrong digits counted against the merchant's limit."""
    key = _wrong_codes_key(merchant_id)
    if (cache.get(key) or 0) >= COUNTER_WRONG_CODES:
        raise CounterTooManyWrongCodes()
    try:
        return check()
    except TokenInvalid:
        cache.add(key, 0, COUNTER_WINDOW_S)
        cache.incr(key)
        raise TokenInvalid(
            _("These digits are not valid. Check them against the customer's screen.")
        ) from None


def _offline_check(digits: str):
    """(coupon id, step) of valid offline digits, checked under the key of the customer who
    holds that coupon; a coupon nobody holds a key for has no real offline code."""
    coupon_id = coupon_id_from_offline_code(digits)
    key = offline_key_of_coupon(coupon_id)
    if key is None:
        raise TokenInvalid()
    return coupon_id, offline_code_step(digits, key)


@dataclass(frozen=True)
class _Shown:
    """What the customer showed: the coupon's lookup and, for an offline code, its step."""

    lookup: dict
    offline_code: str = ""
    offline_step: int | None = None


def _find(code: str | None, token: str | None, merchant_id: int) -> _Shown:
    """Which coupon the cashier means: from the QR's ``token``, or from ``code``, what was
    typed or scanned -- the counter digits under the QR, the phone's offline code, or a token
    that a USB scanner typed. The coupon's permanent code is refused: it never expires, so a
    screenshot of it (or a code passed on) could be used by anybody; the counter takes only
    what changes every 30 s."""
    if token:
        return _Shown({"code": code_from_token(token)})
    typed = "".join((code or "").split())
    if not typed:
        raise InvalidInput({"code": _("Scan the QR code or type the digits under it.")})
    digits = typed.replace("-", "")
    if is_offline_code(digits):
        coupon_id, step = _counted(merchant_id, lambda: _offline_check(digits))
        return _Shown({"pk": coupon_id}, offline_code=digits, offline_step=step)
    if is_counter_code(digits):
        return _Shown({"pk": _counted(merchant_id, lambda: coupon_id_from_counter_code(digits))})
    if len(typed) > 20:  # a token has letters, and dashes of its own
        return _Shown({"code": code_from_token(typed)})
    raise InvalidInput(
        {"code": _("Type the 18 digits under the customer's QR code; they change every 30 seconds.")}
    )


def _coupon_of(membership: MerchantStaff, lookup: dict, *, lock: bool = False) -> Coupon:
    qs = Coupon.objects.select_related("template", "template__merchant", "customer")
    if lock:
        qs = qs.select_for_update(of=("self",))
    coupon = qs.filter(**lookup).first()
    if coupon is None:
        raise CouponNotFound()
    if coupon.template.merchant_id != membership.merchant_id:
        raise CouponOtherMerchant()
    return coupon


def _check_offline_code_unused(coupon: Coupon, shown: _Shown) -> None:
    """An offline code is used once: refused if a verification of this coupon (live or
    undone) used a code of this step or a later one. Under the coupon's lock when verifying,
    so two cashiers with one code cannot both pass; the unique constraint on (coupon,
    offline_step) holds it in the database too."""
    if shown.offline_step is None:
        return
    used = Verification.objects.filter(coupon_id=coupon.pk, offline_step__gte=shown.offline_step)
    if used.exists():
        raise CouponCodeUsed()


def coupon_inspect(
    *,
    actor: User,
    code: str | None = None,
    token: str | None = None,
    store_id: int | None = None,
    now: datetime | None = None,
) -> Inspection:
    """What the coupon is and whether it can be used here and now. Changes nothing.

    Refuses an expired or forged token, an unknown code (404), another merchant's coupon
    (``coupon_other_merchant``, 403: the cashier is told plainly) and an offline code already
    used (``coupon_code_used``).
    """
    membership = _membership(actor)
    shown = _find(code, token, membership.merchant_id)
    coupon = _coupon_of(membership, shown.lookup)
    _check_store(membership, store_id)
    reason = unusable_reason(coupon, now=now or timezone.now(), store_id=store_id)
    if reason is None:
        _check_offline_code_unused(coupon, shown)
    return Inspection(coupon, reason, offline_code=shown.offline_code)


def _check_store(membership: MerchantStaff, store_id: int | None) -> None:
    if store_id is not None and not membership.merchant.stores.filter(pk=store_id).exists():
        raise InvalidInput({"store_id": _("Choose one of your stores.")})


@transaction.atomic(durable=True)
def coupon_verify(
    *,
    actor: User,
    code: str,
    idempotency_key: str,
    store_id: int | None = None,
    now: datetime | None = None,
) -> Verification:
    """Use the coupon: issued -> verified, exactly once.

    Atomic and idempotent: locks the coupon row; the same ``idempotency_key`` returns the
    verification it made (also when the retry races the first attempt). A campaign-funded
    coupon turns its reservation into spending. An expired coupon is refused here even before
    the expiry job has marked it.
    """
    key = (idempotency_key or "").strip()
    if not 8 <= len(key) <= 64:
        raise InvalidInput({"idempotency_key": _("Send a unique key of 8 to 64 characters.")})
    membership = _membership(actor)
    _check_store(membership, store_id)
    now = now or timezone.now()
    shown = _find(code, None, membership.merchant_id)
    coupon = _coupon_of(membership, shown.lookup, lock=True)
    done = Verification.objects.filter(merchant_id=membership.merchant_id, idempotency_key=key)
    done = done.select_related("coupon").first()
    if done is not None:
        if done.coupon_id != coupon.pk:
            raise InvalidInput({"idempotency_key": _("This key was used for another coupon.")})
        return done
    refuse_unusable(coupon, now=now, store_id=store_id)
    _check_offline_code_unused(coupon, shown)
    verification = mark_verified(
        coupon, merchant_id=membership.merchant_id, store_id=store_id, verified_by_id=actor.pk,
        idempotency_key=key, now=now, offline_step=shown.offline_step,
    )
    record_event(coupon=coupon, actor=actor, from_status=Status.ISSUED, to_status=Status.VERIFIED)
    return verification


def refuse_unusable(coupon: Coupon, *, now: datetime, store_id: int | None) -> None:
    """Raise the refusal for a coupon that cannot be used here and now (see ``REASONS``)."""
    reason = unusable_reason(coupon, now=now, store_id=store_id)
    if reason == "used":
        raise CouponAlreadyUsed()
    if reason == "expired":
        raise CouponExpired()
    if reason is not None:
        raise CouponNotUsable(REASONS[reason], extra={"reason": reason})


def mark_verified(
    coupon: Coupon, *, merchant_id: int, store_id: int | None, verified_by_id: int,
    idempotency_key: str, now: datetime, offline_step: int | None = None,
) -> Verification:
    """issued -> verified with one conditional update, the ``Verification`` row (unique per
    merchant and key, one live per coupon: a concurrent use fails here) and the campaign's
    reservation turned into spending. For a coupon row the caller has locked, in its
    transaction; the caller writes the history event."""
    updated = Coupon.objects.filter(pk=coupon.pk, status=Status.ISSUED).update(
        status=Status.VERIFIED, closed_at=now
    )
    if updated != 1:
        raise CouponAlreadyUsed()
    try:
        with transaction.atomic():
            verification = Verification.objects.create(
                coupon=coupon,
                merchant_id=merchant_id,
                store_id=store_id,
                verified_by_id=verified_by_id,
                idempotency_key=idempotency_key,
                offline_step=offline_step,
            )
    except IntegrityError:
        raise CouponAlreadyUsed() from None
    coupon.status = Status.VERIFIED
    reservation_move(coupon, CampaignEntry.Kind.SPEND)
    return verification


@transaction.atomic(durable=True)
def verification_undo(
    *, actor: User, verification_id: int, reason: str, now: datetime | None = None
) -> Verification:
    """The merchant's owner undoes a verification within the undo window (reason required):
    the coupon is issued again, the row keeps who undid it and why. Locks the coupon."""
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired(_("Say why the verification is undone."))
    membership = membership_of(actor, owner=True)
    now = now or timezone.now()
    verification = Verification.objects.filter(
        pk=verification_id, merchant_id=membership.merchant_id
    ).first()
    if verification is None:
        raise NotInYourGrid()
    if verification.idempotency_key.startswith("pay:"):
        # Used in a payment: its discount is in the payment; refunding it gives the coupon back.
        raise InvalidTransition(
            _("This coupon was used in a payment. Refund the payment to give it back.")
        )
    coupon = (
        Coupon.objects.select_for_update().select_related("template").get(pk=verification.coupon_id)
    )
    verification = Verification.objects.select_for_update().get(pk=verification.pk)
    if verification.undone_at is not None:
        raise InvalidTransition(_("This verification was already undone."))
    if now - verification.created_at > timedelta(minutes=settings.COUPON_UNDO_MINUTES):
        raise UndoWindowPassed()
    updated = Coupon.objects.filter(pk=coupon.pk, status=Status.VERIFIED).update(
        status=Status.ISSUED, closed_at=None
    )
    if updated != 1:
        raise InvalidTransition()
    Verification.objects.filter(pk=verification.pk).update(
        undone_at=now, undone_by=actor, undo_reason=reason[:200]
    )
    verification.refresh_from_db()
    reservation_move(coupon, CampaignEntry.Kind.UNSPEND)
    record_event(
        coupon=coupon,
        actor=actor,
        from_status=Status.VERIFIED,
        to_status=Status.ISSUED,
        reason=reason[:200],
    )
    return verification


@transaction.atomic(durable=True)
def coupon_void(*, actor: User, coupon_id: int, reason: str) -> Coupon:
    """The merchant's owner voids an unused coupon of theirs (reason required); a campaign's
    reservation is released. issued -> voided, once."""
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    membership = membership_of(actor, owner=True)
    coupon = (
        Coupon.objects.select_for_update(of=("self",))
        .select_related("template")
        .filter(pk=coupon_id, template__merchant_id=membership.merchant_id)
        .first()
    )
    if coupon is None:
        raise NotInYourGrid()
    updated = Coupon.objects.filter(pk=coupon.pk, status=Status.ISSUED).update(
        status=Status.VOIDED, closed_at=timezone.now()
    )
    if updated != 1:
        raise InvalidTransition(extra={"status": coupon.status})
    reservation_move(coupon, CampaignEntry.Kind.RELEASE)
    record_event(
        coupon=coupon,
        actor=actor,
        from_status=Status.ISSUED,
        to_status=Status.VOIDED,
        reason=reason[:200],
    )
    coupon.status = Status.VOIDED
    return coupon
