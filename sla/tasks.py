from celery import shared_task

from . import services


@shared_task
def breach_sweep_task() -> dict:
    # Warnings before deadlines ride on the same minute's sweep as the breaches after them.
    return {**services.breach_sweep(), "warned": services.deadline_near_sweep()}
