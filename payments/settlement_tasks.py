"""Settlement and reconciliation jobs (Celery beat; entries at the end of
alliance/settings/base.py): settle yesterday at 02:00 Shanghai, reconcile yesterday's
statements at 10:00, when the channels' bills are ready (WeChat Pay's after 09:00)."""

from __future__ import annotations

from datetime import date

from celery import shared_task

from .models import ReconciliationRun
from .services import reconciliation as reconciliation_services
from .services import settlement as settlement_services

RECONCILE_RETRY_S = 30 * 60


@shared_task
def run_settlement() -> list[str]:
    """Settle every day since the latest batch through yesterday (idempotent)."""
    return [str(batch.day) for batch in settlement_services.settlement_run_due()]


@shared_task
def run_reconciliation() -> None:
    """Yesterday's statement of every channel, each channel its own task (one channel's
    failure holds back no other)."""
    day = settlement_services.yesterday().isoformat()
    for channel in reconciliation_services.channels():
        reconcile_channel.delay(day=day, channel=channel)


@shared_task(bind=True, max_retries=8)
def reconcile_channel(self, *, day: str, channel: str) -> str:
    """One (day, channel). A statement that cannot be had yet is asked for again every 30
    minutes, up to 8 times (each try keeps its failed run; a repeat of the same failure is
    not written twice)."""
    run = reconciliation_services.reconciliation_run(day=date.fromisoformat(day), channel=channel)
    if run.status == ReconciliationRun.Status.FAILED and self.request.retries < self.max_retries:
        raise self.retry(countdown=RECONCILE_RETRY_S)
    return run.status
