"""Helpers shared by the coupon services: who acts, locks, history rows, local time."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.utils import timezone

from accounts import roles
from merchants.services._common import membership_of

from ..errors import NotInYourGrid
from ..models import CouponEvent, CouponTemplate, TemplateChange

__all__ = ["membership_of"]


def local(moment: datetime) -> datetime:
    """The moment in the display zone (Asia/Shanghai): days, weekdays and hours are local."""
    return timezone.localtime(moment, timezone.get_default_timezone())


def local_midnight(day) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_default_timezone())


def days_after(moment: datetime, days: int) -> datetime:
    """Local midnight ``days`` days after the local day of ``moment``."""
    return local_midnight(local(moment).date() + timedelta(days=days))


def lock_template(template_id: int) -> CouponTemplate:
    template = CouponTemplate.objects.select_for_update().filter(pk=template_id).first()
    if template is None:
        raise NotInYourGrid()
    return template


def template_branch_ids(template: CouponTemplate) -> set[int]:
    return set(template.stores.filter(branch__isnull=False).values_list("branch_id", flat=True))


def require_reviewer(actor, template: CouponTemplate) -> None:
    """Head office reviews every template (and those whose stores all lie in the pool); branch
    staff the templates valid at a store of their grid. Anybody else: 404."""
    if roles.is_head_office(actor):
        return
    if roles.is_branch_staff(actor) and actor.branch_id in template_branch_ids(template):
        return
    raise NotInYourGrid()


def record_change(
    *,
    template: CouponTemplate,
    actor,
    from_status: str,
    to_status: str,
    reason: str = "",
    fields: dict | None = None,
) -> TemplateChange:
    return TemplateChange.objects.create(
        template=template,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        fields=fields or {},
    )


def record_event(*, coupon, actor, from_status: str, to_status: str, reason: str = "") -> None:
    CouponEvent.objects.create(
        coupon=coupon, actor=actor, from_status=from_status, to_status=to_status, reason=reason
    )
