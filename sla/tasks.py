from celery import shared_task

from . import services


@shared_task
def breach_sweep_task() -> dict:
    return services.breach_sweep()
