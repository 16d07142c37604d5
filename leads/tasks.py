"""Celery tasks of the leads app: thin wrappers that take ids and call one service."""

from __future__ import annotations

from celery import shared_task

from . import importing


@shared_task
def import_job_run_task(job_id: int) -> None:
    # Safe to run twice: the service claims the job with a conditional update.
    importing.import_job_run(job_id=job_id)


@shared_task
def import_jobs_resume_task() -> list[int]:
    importing.import_drafts_discard()
    return importing.import_jobs_resume()
