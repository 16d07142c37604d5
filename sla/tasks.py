from celery import shared_task

from . import notifications, services


@shared_task
def send_notification_task(notification_id: int) -> bool:
    return notifications.notification_send(notification_id=notification_id)


@shared_task
def breach_sweep_task() -> dict:
    return services.breach_sweep()
