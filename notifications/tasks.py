from celery import shared_task

from . import services


@shared_task
def notification_deliver_task(notification_id: int) -> bool:
    return services.notification_deliver(notification_id=notification_id)


@shared_task
def notifications_redeliver_task() -> int:
    return services.notifications_redeliver()
