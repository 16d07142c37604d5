from celery import shared_task

from . import services


@shared_task
def lead_days_settle_task() -> int:
    return services.lead_days_settle()


@shared_task
def reports_rebuild_task() -> dict:
    return services.reports_rebuild()
