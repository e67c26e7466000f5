"""How a coupon is said: to merchants and branch staff (``value_in_words``, one wording for the
counter, the dashboard and the console), and to customers on their phones (``value_label`` and
``rules_of``: shorter, in yuan)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from alliance.templatetags.alliance import fen

from .models import CouponTemplate, Kind


def _discount_words(percent: int) -> str:
    """85 -> "8.5", 80 -> "8": the 折 a Chinese customer reads."""
    tenths = f"{percent // 10}.{percent % 10}"
    return tenths.removesuffix(".0")


def value_in_words(template: CouponTemplate) -> str:
    """What the coupon is worth, in the words a merchant would use."""
    if template.kind == Kind.CASH_OFF:
        if template.min_spend_fen:
            return _("%(off)s off when spending at least %(min)s") % {
                "off": fen(template.discount_fen),
                "min": fen(template.min_spend_fen),
            }
        return _("%(off)s off") % {"off": fen(template.discount_fen)}
    if template.kind == Kind.PERCENT_OFF:
        words = _("Pay %(percent)s%% of the bill (%(zhe)s折), at most %(cap)s off") % {
            "percent": template.pay_percent,
            "zhe": _discount_words(template.pay_percent or 0),
            "cap": fen(template.cap_fen),
        }
        if template.min_spend_fen:
            words += _(", when spending at least %(min)s") % {"min": fen(template.min_spend_fen)}
        return words
    if template.kind == Kind.PAID_VOUCHER:
        return _("Pay %(price)s, worth %(value)s") % {
            "price": fen(template.price_fen),
            "value": fen(template.discount_fen),
        }
    if template.discount_fen:
        return _("Free %(item)s (worth %(value)s)") % {
            "item": template.gift_item,
            "value": fen(template.discount_fen),
        }
    return _("Free %(item)s") % {"item": template.gift_item}


# --- To customers, on their phones --------------------------------------------------------------------------------


def distance_label(metres: float | None) -> str:
    """350 m, 1.2 km."""
    if metres is None:
        return ""
    if metres < 1000:
        return _("%(m)d m") % {"m": max(0, int(round(metres / 10.0)) * 10)}
    return _("%(km).1f km") % {"km": metres / 1000}


def yuan(value_fen: int) -> str:
    """¥100, ¥8.50: the price as customers say it (whole yuan without the cents)."""
    whole, cents = divmod(int(value_fen), 100)
    return f"¥{whole:,}" if not cents else f"¥{whole:,}.{cents:02d}"


def value_label(template: CouponTemplate) -> str:
    """What the coupon is worth in plain words: 满100减20, 8.5折最多减30, a free item."""
    if template.kind == Kind.CASH_OFF:
        if template.min_spend_fen:
            return _("%(off)s off orders of %(min)s or more") % {
                "off": yuan(template.discount_fen),
                "min": yuan(template.min_spend_fen),
            }
        return _("%(off)s off") % {"off": yuan(template.discount_fen)}
    if template.kind == Kind.PERCENT_OFF:
        rate = f"{template.pay_percent / 10:g}" if template.pay_percent else ""
        label = _("Pay %(rate)s/10 of the bill, up to %(cap)s off") % {
            "rate": rate,
            "cap": yuan(template.cap_fen),
        }
        if template.min_spend_fen:
            label += _(" (orders of %(min)s or more)") % {"min": yuan(template.min_spend_fen)}
        return label
    if template.kind == Kind.PAID_VOUCHER:
        return _("Pay %(price)s, worth %(value)s") % {
            "price": yuan(template.price_fen),
            "value": yuan(template.discount_fen),
        }
    return _("Free: %(item)s") % {"item": template.gift_item}


WEEKDAYS = [
    gettext_lazy("Mon"),
    gettext_lazy("Tue"),
    gettext_lazy("Wed"),
    gettext_lazy("Thu"),
    gettext_lazy("Fri"),
    gettext_lazy("Sat"),
    gettext_lazy("Sun"),
]


def weekdays_label(mask: int) -> str:
    if mask == 127:
        return _("Every day")
    if mask == 31:
        return _("Monday to Friday")
    if mask == 96:
        return _("Saturday and Sunday")
    return ", ".join(str(day) for bit, day in enumerate(WEEKDAYS) if mask & (1 << bit))


def hours_label(slots: list) -> str:
    if not slots:
        return _("All day (during opening hours)")
    return ", ".join(f"{start}-{end}" for start, end in slots)


def obtain_label(template: CouponTemplate) -> str:
    """How the coupon is obtained, with its price in points or yuan where it has one."""
    if template.obtain == CouponTemplate.Obtain.POINTS:
        return _("Exchanged for %(points)s points") % {"points": template.points_price}
    if template.obtain == CouponTemplate.Obtain.PURCHASE:
        return _("Bought for %(price)s") % {"price": fen(template.price_fen)}
    return str(template.get_obtain_display())


def _date(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def validity_label(template: CouponTemplate) -> str:
    if template.validity == CouponTemplate.Validity.FIXED:
        return _("From %(start)s until %(end)s") % {
            "start": _date(template.valid_from),
            "end": _date(template.valid_until),
        }
    if template.start_delay_days:
        return _("Usable from %(delay)d day(s) after you claim it, then for %(days)d day(s)") % {
            "delay": template.start_delay_days,
            "days": template.valid_days,
        }
    return _("For %(days)d day(s) from the day you claim it (that day counts)") % {
        "days": template.valid_days
    }


@dataclass(frozen=True)
class Rules:
    """A template's rules in plain words, for the coupon page and the API."""

    value: str
    claim_window: str
    min_spend: str
    validity: str
    weekdays: str
    hours: str
    per_customer: str
    daily_cap: str
    obtain: str

    def as_rows(self) -> list[tuple[str, str]]:
        rows = [
            (_("Value"), self.value),
            (_("Claim"), self.claim_window),
            (_("Minimum spend"), self.min_spend),
            (_("Valid"), self.validity),
            (_("Usable days"), self.weekdays),
            (_("Usable hours"), self.hours),
            (_("Limit"), self.per_customer),
        ]
        if self.daily_cap:
            rows.append((_("Each day"), self.daily_cap))
        rows.append((_("How to get it"), self.obtain))
        return rows


def rules_of(template: CouponTemplate) -> Rules:
    obtain = {
        CouponTemplate.Obtain.FREE: _("Free: claim it here."),
        CouponTemplate.Obtain.CAMPAIGN: _("Free, from a bank campaign: claim it here."),
        CouponTemplate.Obtain.PURCHASE: _("Bought through the payment page (%(price)s).")
        % {"price": yuan(template.price_fen)},
        CouponTemplate.Obtain.POINTS: _("Exchanged for %(points)d points.")
        % {"points": template.points_price},
    }[template.obtain]
    return Rules(
        value=value_label(template),
        claim_window=_("From %(start)s until %(end)s")
        % {"start": _date(template.claim_start), "end": _date(template.claim_end)},
        min_spend=yuan(template.min_spend_fen) if template.min_spend_fen else _("None"),
        validity=validity_label(template),
        weekdays=weekdays_label(template.weekdays),
        hours=hours_label(template.time_slots),
        per_customer=_("%(n)d per customer") % {"n": template.per_customer_limit},
        daily_cap=(_("%(n)d coupons a day") % {"n": template.daily_cap})
        if template.daily_cap
        else "",
        obtain=obtain,
    )
