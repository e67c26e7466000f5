from celery import shared_task

from . import services


@shared_task(acks_late=True)
def regrid_after_change(*, change_id: int) -> int:
    """Move the places a branch change affects. Safe to run twice (see ``regrid_apply``)."""
    return len(services.regrid_apply(change_id=change_id))
