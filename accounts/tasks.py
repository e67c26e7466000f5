from celery import shared_task

from . import services


@shared_task(acks_late=True)
def purge_expired_sms_codes() -> int:
    """Delete SMS codes older than a day (daily, from CELERY_BEAT_SCHEDULE). Safe to re-run."""
    return services.sms_codes_purge()
