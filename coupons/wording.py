"""How a coupon's value is said to merchants and branch staff (one wording for the counter,
the dashboard and the console; the customer's phone pages have their own shorter one in
``selectors.customer.value_label``)."""

from __future__ import annotations

from django.utils.translation import gettext as _

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
