"""Claiming a coupon: the hot path of a flash sale.

A winner on PostgreSQL, for the templates flash sales are made of (free, merchant-funded, no
daily cap), is one prepared statement and nothing else: it counts what the customer holds of
the template, takes one from the stock if the template is live, in its claim window, its
merchant active and the customer under the limit, and only then writes the coupon and its
event, in one round trip and one short transaction. What the claim needs of the template
besides is fixed at approval (no edit after it changes them), so each process reads it once
(``_terms``). A claim with an API token (:func:`coupon_claim_by_token`) authenticates inside
that same statement: it claims only for the token of an active customer, the very users
``TokenAuthentication`` and ``IsCustomer`` accept (``accounts.authentication.
customer_by_token``, held equal to them by a test), and leaves everything else to the caller.

Whatever that statement does not take goes the general way: one read of the retry key and the
customer's holdings (a retried request gets its coupon back), then the template as it is now;
every refusal that a read can decide (not live, not started, ended, sold out, the limit) is
answered before any transaction, so the losers of a flash sale cost a read or two — and, once a
process has seen the stock run out, only the retry-key read (a two-second sold-out hint in the
cache). Templates with a daily cap, a campaign's budget or a points price, and SQLite, claim in
one transaction through the ORM: the coupon written first and the stock taken last, so that the
template row, which every winner needs, is locked only from that update to the commit.
"""

from __future__ import annotations

import secrets
from contextlib import nullcontext
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import roles
from accounts.authentication import customer_by_token
from accounts.models import User
from alliance.compiled import CompiledQuery, hot_cursor
from alliance.errors import Forbidden
from merchants.models import Merchant
from points.services import points_spend_within

from ..errors import (
    CouponDailyCapReached,
    CouponEnded,
    CouponLimitReached,
    CouponNotClaimable,
    CouponNotFound,
    CouponNotStarted,
    CouponOutOfStock,
    CouponPaused,
    InvalidInput,
)
from ..models import ClaimDay, Coupon, CouponEvent, CouponTemplate
from ._common import days_after, local, local_midnight, record_event
from .campaigns import budget_reserve

Status = CouponTemplate.Status
# Unambiguous when read aloud or typed: no 0/O, 1/I/L.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 12  # 31**12 ~ 2**59: not guessable at any rate the counter allows


def new_code() -> str:
    """CODE_LENGTH letters of _ALPHABET, uniformly at random (one draw, not one per letter)."""
    n = secrets.randbelow(len(_ALPHABET) ** CODE_LENGTH)
    letters = []
    for _letter in range(CODE_LENGTH):
        n, at = divmod(n, len(_ALPHABET))
        letters.append(_ALPHABET[at])
    return "".join(letters)


# What a claim reads of the template and its merchant: never the merchant's whole row (its
# settlement fields are encrypted, and decrypting them on every claim costs the hot path).
_CLAIM_FIELDS = (
    "kind",
    "obtain",
    "status",
    "claim_start",
    "claim_end",
    "stock_left",
    "total_stock",
    "per_customer_limit",
    "daily_cap",
    "campaign_id",
    "discount_fen",
    "cap_fen",
    "price_fen",
    "points_price",
    "title",
    "validity",
    "valid_from",
    "valid_until",
    "valid_days",
    "start_delay_days",
    "merchant__status",
)
# A sold-out template is remembered this long, per process, so that the flash crowd's losers
# are answered without reading the template. A hint, never the decision: stock added back
# reaches the other processes within this time; the claim itself still decides by the
# conditional update.
SOLD_OUT_HINT_S = 2


def _sold_out_key(template_id: int) -> str:
    return f"coupons:sold-out:{template_id}"


def sold_out_hint(template_id: int) -> bool:
    """Whether this process has just seen the template sold out (a hint; see above)."""
    return bool(cache.get(_sold_out_key(template_id)))


def forget_sold_out(template_id: int) -> None:
    cache.delete(_sold_out_key(template_id))


def _claimable_template(template_id: int) -> CouponTemplate:
    template = (
        CouponTemplate.objects.select_related("merchant")
        .only(*_CLAIM_FIELDS)
        .filter(pk=template_id, status__in=(Status.LIVE, Status.PAUSED, Status.ENDED))
        .first()
    )
    if template is None:
        raise CouponNotFound()
    return template


FREE = (CouponTemplate.Obtain.FREE, CouponTemplate.Obtain.CAMPAIGN)
FOR_POINTS = (CouponTemplate.Obtain.POINTS,)


def refusal(template: CouponTemplate, *, now: datetime, obtain=FREE) -> type | None:
    """Why this template cannot be claimed (``obtain``: the ways this call may obtain it) by
    anybody now (an error class), or None."""
    if template.obtain not in obtain:
        return CouponNotClaimable
    if template.status == Status.ENDED or now >= template.claim_end:
        return CouponEnded
    if template.status != Status.LIVE or template.merchant.status != "active":
        return CouponPaused
    if now < template.claim_start:
        return CouponNotStarted
    if template.stock_left <= 0:
        return CouponOutOfStock
    return None


def validity_of(template: CouponTemplate, *, claimed_at: datetime) -> tuple[datetime, datetime]:
    """[valid_from, valid_until) of a coupon claimed at ``claimed_at``.

    Fixed: the template's dates. Relative: usable at once (or from local midnight after the
    start delay) until local midnight ``valid_days`` days after the day of claim (the day of
    claim counts as the first).
    """
    if template.validity == CouponTemplate.Validity.FIXED:
        return template.valid_from, template.valid_until
    delay = template.start_delay_days
    start = days_after(claimed_at, delay) if delay else claimed_at
    return start, days_after(claimed_at, delay + template.valid_days)


@transaction.atomic(durable=True)
def _claim(*, customer: User, template: CouponTemplate, claim_key: str, now: datetime, held: int):
    """One attempt, one transaction. A unique violation (this customer's slot taken, or this
    key used, by a concurrent claim that committed first: the insert waited for it) rolls it
    all back and reaches the caller, who looks again; no savepoint on the hot path."""
    valid_from, valid_until = validity_of(template, claimed_at=now)
    coupon = Coupon(
        template=template,
        customer=customer,
        code=new_code(),
        slot=held + 1,
        claim_key=claim_key,
        claimed_at=now,
        valid_from=valid_from,
        valid_until=valid_until,
        reserved_fen=template.worst_case_cost_fen if template.campaign_id else 0,
    )
    coupon.save(force_insert=True)
    record_event(coupon=coupon, actor=customer, from_status="", to_status=Coupon.Status.ISSUED)
    if template.daily_cap:
        _take_daily(template, now)
    if template.campaign_id:
        budget_reserve(
            campaign_id=template.campaign_id, coupon=coupon, amount_fen=coupon.reserved_fen
        )
    if template.obtain == CouponTemplate.Obtain.POINTS:
        points_spend_within(
            customer_id=customer.pk,
            points=template.points_price,
            idempotency_key=f"coupon-exchange:{customer.pk}:{claim_key}",
            reference_type="coupon",
            reference_id=coupon.pk,
            reason=template.title,
            actor=customer,
            now=now,
        )
    # Last: the row every winner needs stays locked only until the commit just after this.
    taken = CouponTemplate.objects.filter(
        pk=template.pk, status=Status.LIVE, stock_left__gt=0, claim_end__gt=now
    ).update(stock_left=F("stock_left") - 1)
    if taken != 1:
        template.refresh_from_db(fields=["status", "stock_left", "claim_end"])
        _refuse(template, now)
    return coupon


def _claim_until_decided(
    attempt, *, customer: User, template, claim_key: str, now: datetime, held: int
) -> Coupon:
    """``attempt`` (one transaction) until it decides: a unique violation means a concurrent
    claim of this customer committed first (the same key: its coupon is the answer; another
    key: one more slot is held, and the limit is looked at again). Any other violation (no
    new coupon of the customer's explains it) is a bug: raised, never retried in a loop."""
    while True:
        if held >= template.per_customer_limit:
            raise CouponLimitReached(extra={"limit": template.per_customer_limit})
        try:
            return attempt(
                customer=customer, template=template, claim_key=claim_key, now=now, held=held
            )
        except IntegrityError:
            existing = Coupon.objects.filter(customer=customer, claim_key=claim_key).first()
            if existing is not None:
                return existing  # the same request, made twice at once
            now_held = Coupon.objects.filter(template=template.pk, customer=customer).count()
            if now_held <= held:
                raise
            held = now_held


# --- The winner in one statement (PostgreSQL) ----------------------------------------------------
# What a claim needs of a template besides its state: fixed once it is approved (only the
# wording and more stock may change after), so kept per process, read by the first claim.
_TERMS_KEPT = 10_000
_terms: dict[int, CouponTemplate] = {}


def _in_one_statement(template: CouponTemplate, obtain) -> bool:
    """Whether a claim of this template is the one-statement kind (see the module's text)."""
    return (
        connection.vendor == "postgresql"
        and obtain == FREE
        and template.obtain == CouponTemplate.Obtain.FREE
        and not template.daily_cap
        and not template.campaign_id
    )


def _keep_terms(template: CouponTemplate) -> None:
    if len(_terms) >= _TERMS_KEPT:
        _terms.clear()
    _terms[template.pk] = template


def _column(model, name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)


_statements: dict[str, str] = {}


def _claim_sql(who: str) -> str:
    """The claim as one statement, for the customer ``who`` selects (an id, one row or none):
    count what they hold of the template; take one from the stock if there is such a customer,
    the template can be claimed now and they are under the limit; only then write the coupon
    (in the next slot) and its event. Returns one row, the customer's id with the coupon's id
    and slot (null when nothing was taken), or no row when ``who`` found nobody. A concurrent
    claim of the same customer, or the same key used before, is a unique violation that undoes
    the whole statement."""
    statement = _statements.get(who)
    if statement is None:
        T, C, E, M = CouponTemplate, Coupon, CouponEvent, Merchant
        table = {m: connection.ops.quote_name(m._meta.db_table) for m in (T, C, E, M)}
        t = {n: _column(T, n) for n in ("id", "status", "stock_left", "claim_start", "claim_end",
                                          "merchant")}  # fmt: skip
        c = [_column(C, n) for n in ("template", "customer", "code", "slot", "claim_key",
                                      "status", "reserved_fen", "claimed_at", "valid_from",
                                      "valid_until")]  # fmt: skip
        e = [_column(E, n) for n in ("coupon", "actor", "from_status", "to_status", "reason",
                                      "created_at")]  # fmt: skip
        statement = _statements[who] = (
            f"WITH who (id) AS ({who}),"
            f" held AS (SELECT count(*) AS n FROM {table[C]}"
            f" WHERE {_column(C, 'template')} = %s"
            f" AND {_column(C, 'customer')} = (SELECT id FROM who)),"
            f" taken AS (UPDATE {table[T]} SET {t['stock_left']} = {t['stock_left']} - 1"
            f" WHERE {t['id']} = %s AND {t['status']} = %s AND {t['stock_left']} > 0"
            f" AND {t['claim_start']} <= %s AND {t['claim_end']} > %s"
            f" AND EXISTS (SELECT 1 FROM {table[M]} WHERE {_column(M, 'id')} = {t['merchant']}"
            f" AND {_column(M, 'status')} = %s)"
            " AND EXISTS (SELECT 1 FROM who) AND (SELECT n FROM held) < %s"
            f" RETURNING {t['id']} AS id),"
            f" coupon AS (INSERT INTO {table[C]} ({', '.join(c)})"
            " SELECT taken.id, who.id, %s, (SELECT n FROM held) + 1, %s, %s, 0, %s, %s, %s"
            f" FROM taken, who RETURNING {_column(C, 'id')} AS id, {_column(C, 'slot')} AS slot,"
            f" {_column(C, 'customer')} AS customer),"
            f" event AS (INSERT INTO {table[E]} ({', '.join(e)})"
            " SELECT coupon.id, coupon.customer, '', %s, '', %s FROM coupon)"
            " SELECT who.id, coupon.id, coupon.slot FROM who LEFT JOIN coupon ON true"
        )
    return statement


def _statement_claim(
    *, who: tuple[str, list], template: CouponTemplate, claim_key: str, now: datetime
) -> Coupon | None:
    """The claim as one statement (its own transaction; a savepoint inside a caller's test
    transaction) for the customer ``who`` selects (its SQL and arguments): the coupon (its
    ``customer_id`` set), or None when there was no such customer or the stock could not be
    taken (see _claim_sql). A unique violation raises IntegrityError."""
    valid_from, valid_until = validity_of(template, claimed_at=now)
    issued = Coupon.Status.ISSUED
    code = new_code()
    who_sql, who_args = who
    params = [
        *who_args,
        template.pk,
        template.pk, Status.LIVE, now, now, Merchant.Status.ACTIVE, template.per_customer_limit,
        code, claim_key, issued, now, valid_from, valid_until,
        issued, now,
    ]  # fmt: skip
    # Outside any transaction the statement is its own: nothing to open or close.
    with transaction.atomic(durable=True) if connection.in_atomic_block else nullcontext():
        with hot_cursor() as cursor:
            cursor.execute(_claim_sql(who_sql), params)
            row = cursor.fetchone()
    if row is None or row[1] is None:
        return None
    coupon = Coupon(
        id=row[1],
        template_id=template.pk,
        customer_id=row[0],
        code=code,
        slot=row[2],
        claim_key=claim_key,
        status=issued,
        reserved_fen=0,
        claimed_at=now,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    coupon._state.adding = False
    coupon._state.db = connection.alias
    return coupon


# The claiming customer, for the statement: the one the service was given.
_customer_by_pk = CompiledQuery(lambda pk: User.objects.filter(pk=pk).only("id"), pk=-1)


def _customer_statement_claim(
    *, customer: User, template: CouponTemplate, claim_key: str, now: datetime
) -> Coupon | None:
    coupon = _statement_claim(
        who=_customer_by_pk.sql(pk=customer.pk), template=template, claim_key=claim_key, now=now
    )
    if coupon is not None:
        coupon.customer = customer
    return coupon


def _claim_in_one_statement(
    *, customer: User, template: CouponTemplate, claim_key: str, now: datetime, held: int
) -> Coupon:
    """One attempt of :func:`_claim_until_decided` as one statement (the statement counts
    what the customer holds itself)."""
    coupon = _customer_statement_claim(
        customer=customer, template=template, claim_key=claim_key, now=now
    )
    if coupon is None:
        _refuse(_claimable_template(template.pk), now, limit=template.per_customer_limit)
    return coupon


def _refuse(template: CouponTemplate, now: datetime, *, limit: int | None = None):
    """The stock could not be taken: say why, from the template as it is now. With ``limit``
    (the statement also checked the customer's limit) a template that could be claimed means
    the customer reached it, in a claim running at the same time."""
    reason = refusal(template, now=now, obtain=(template.obtain,))
    if reason is None and limit is not None:
        raise CouponLimitReached(extra={"limit": limit})
    reason = reason or CouponOutOfStock
    if reason is CouponOutOfStock:
        cache.set(_sold_out_key(template.pk), True, SOLD_OUT_HINT_S)
    raise reason()


def _take_daily(template: CouponTemplate, now: datetime) -> None:
    day = local(now).date()
    ClaimDay.objects.get_or_create(template=template, day=day, defaults={"cap": template.daily_cap})
    taken = ClaimDay.objects.filter(template=template, day=day, claimed__lt=F("cap")).update(
        claimed=F("claimed") + 1
    )
    if taken != 1:
        raise CouponDailyCapReached(
            extra={"next_claim_at": local_midnight(day + timedelta(days=1)).isoformat()}
        )


def coupon_claim(
    *, customer: User, template_id: int, claim_key: str, now: datetime | None = None
) -> Coupon:
    """Give the customer one coupon of the template, or refuse with the reason.

    Atomic and idempotent: the same ``claim_key`` (a double tap, a retried request) returns the
    coupon it made. Stock (conditional update, ``stock_left >= 0``), the per-customer limit
    (unique slot per customer), the daily cap (conditional update, ``claimed <= cap``) and the
    campaign budget (conditional update, ``reserved + spent <= budget``) each hold in the
    database under any concurrency; a refused claim writes nothing.
    """
    return _obtain(
        customer=customer, template_id=template_id, claim_key=claim_key, now=now, obtain=FREE
    )


def coupon_claim_by_token(
    *, token_key: str, template_id: int, claim_key: str, now: datetime | None = None
) -> Coupon | None:
    """A flash sale's winner, authenticated inside the claim's own statement: the coupon, new,
    when ``token_key`` is the API token of a customer (as ``TokenAuthentication`` and
    ``IsCustomer`` decide, ``accounts.authentication.customer_by_token``) and the template is
    of the one-statement kind, read by this process before, and claimable by them now.

    None for everything else, with nothing written: a token that is not a customer's, a
    template this process has not read or that claims another way, sold out, the limit, a
    retried key. The caller then authenticates and calls :func:`coupon_claim`, which decides
    and says why (a retried key gets its coupon back there). The caller has asked
    :func:`sold_out_hint` first (the claim endpoint answers the losers before this); asking it
    again would cost every winner a second cache read."""
    claim_key = (claim_key or "").strip()
    terms = _terms.get(template_id)
    if terms is None or not 8 <= len(claim_key) <= 64 or not _in_one_statement(terms, FREE):
        return None
    who = customer_by_token.sql(key=token_key)
    try:
        return _statement_claim(
            who=who, template=terms, claim_key=claim_key, now=now or timezone.now()
        )
    except IntegrityError:
        return None


def coupon_exchange(
    *, customer: User, template_id: int, claim_key: str, now: datetime | None = None
) -> Coupon:
    """Exchange points for a coupon: :func:`coupon_claim` for a template obtained by points,
    and the points are spent (oldest lot first) in the same transaction — the customer gets
    the coupon and pays, or neither (``points_insufficient``). Idempotent by ``claim_key``."""
    return _obtain(
        customer=customer, template_id=template_id, claim_key=claim_key, now=now, obtain=FOR_POINTS
    )


def _obtain(*, customer, template_id: int, claim_key: str, now, obtain) -> Coupon:
    if not roles.is_customer(customer):
        raise Forbidden()
    claim_key = (claim_key or "").strip()
    if not 8 <= len(claim_key) <= 64:
        raise InvalidInput({"claim_key": _("Send a unique key of 8 to 64 characters per claim.")})
    now = now or timezone.now()
    terms = _terms.get(template_id)
    if terms is not None and _in_one_statement(terms, obtain) and not sold_out_hint(template_id):
        # A flash sale's winner: one statement, which checks the template's state, the stock
        # and the customer's limit itself. Whatever it does not take (a retried key, the
        # customer at the limit, a template that cannot be claimed now) is decided below.
        try:
            coupon = _customer_statement_claim(
                customer=customer, template=terms, claim_key=claim_key, now=now
            )
        except IntegrityError:
            coupon = None
        if coupon is not None:
            return coupon
    # One read answers both "did this key already claim?" and "how many does the customer
    # hold of this template?" (at most the limit's few rows).
    mine = _mine.fetch(customer=customer.pk, key=claim_key, template=template_id)
    existing = next((c for c in mine if c.claim_key == claim_key), None)
    if existing is not None:
        if existing.template_id != template_id:
            raise InvalidInput({"claim_key": _("This key was used for another coupon.")})
        return existing
    if sold_out_hint(template_id):
        raise CouponOutOfStock()
    # The template as it is now: a sold-out or ended template says so before the limit.
    template = _claimable_template(template_id)
    reason = refusal(template, now=now, obtain=obtain)
    if reason is CouponOutOfStock:
        cache.set(_sold_out_key(template_id), True, SOLD_OUT_HINT_S)
    if reason is not None:
        raise reason()
    if _in_one_statement(template, obtain):
        _keep_terms(template)
        attempt = _claim_in_one_statement
    else:
        attempt = _claim
    held = sum(1 for c in mine if c.template_id == template_id)
    return _claim_until_decided(
        attempt, customer=customer, template=template, claim_key=claim_key, now=now, held=held
    )


_mine = CompiledQuery(
    lambda customer, key, template: Coupon.objects.filter(
        Q(claim_key=key) | Q(template_id=template), customer_id=customer
    ),
    customer=-1,
    key="\0key",
    template=-2,
)
