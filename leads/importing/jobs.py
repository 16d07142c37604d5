"""Import jobs: an upload queued, claimed by one worker, resumed if that worker dies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.tasks import delay_safely, enqueue_after_commit

from ..models import ImportJob, ImportProblem, SavedMapping
from .encoding import encoding_detect
from .mapping import ImportFailed, mapping_load
from .reading import Rejection
from .writing import ImportReport, import_csv

# Jobs --------------------------------------------------------------------------------------


@transaction.atomic
def import_job_create(*, file: UploadedFile, mapping: Mapping[str, Any], user: Any) -> ImportJob:
    """Store the upload and queue its import once the job row is committed."""
    from ..tasks import import_job_run_task

    job = ImportJob(
        original_name=Path(file.name or "").name[:255],
        mapping=dict(mapping),
        encoding=encoding_detect(file),
    )
    job.created_by = user if user is not None and user.is_authenticated else None
    job.file.save(job.original_name or "import.csv", file, save=False)
    job.save()
    # If the broker is away the job stays QUEUED and import_jobs_resume starts it.
    enqueue_after_commit(import_job_run_task, job.pk)
    return job


@transaction.atomic
def import_upload(*, file: UploadedFile, user: Any) -> ImportJob:
    """Store an upload as a draft job for the wizard, with its encoding detected."""
    job = ImportJob(
        original_name=Path(file.name or "").name[:255],
        mapping={},
        status=ImportJob.Status.DRAFT,
        encoding=encoding_detect(file),
    )
    job.created_by = user if user is not None and user.is_authenticated else None
    job.file.save(job.original_name or "import.csv", file, save=False)
    job.save()
    return job


@transaction.atomic
def import_job_queue(
    *,
    job: ImportJob,
    mapping: Mapping[str, Any],
    encoding: str,
    user: Any,
    save_as: str = "",
) -> bool:
    """Queue a draft with its mapping (and keep the mapping under `save_as`). False when the
    draft was queued already (a double click): nothing is queued twice."""
    from ..tasks import import_job_run_task

    queued = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.DRAFT).update(
        status=ImportJob.Status.QUEUED, mapping=dict(mapping), encoding=encoding
    )
    if not queued:
        return False
    if save_as:
        SavedMapping.objects.update_or_create(
            name=save_as,
            defaults={"mapping": dict(mapping), "created_by": user, "updated_at": timezone.now()},
        )
    enqueue_after_commit(import_job_run_task, job.pk)
    return True


def _job_progress(job_id: int) -> Callable[[ImportReport], None]:
    def save(report: ImportReport) -> None:
        ImportJob.objects.filter(pk=job_id).update(
            total_rows=report.total_rows,
            processed_rows=report.processed_rows,
            created_count=report.created,
            updated_count=report.updated,
            rejected_count=report.rejected,
            errors=report.errors,
            header=report.header,
            heartbeat_at=timezone.now(),
        )

    return save


def _job_rejections(job_id: int) -> Callable[[list[Rejection]], None]:
    def store(rejected: list[Rejection]) -> None:
        ImportProblem.objects.bulk_create(
            [
                ImportProblem(
                    job_id=job_id,
                    line=r.line,
                    column=", ".join(c for c in r.columns if c)[:1000],
                    reason=r.reason,
                    errors=r.errors,
                    cells=r.cells,
                    row_imported=r.row_imported,
                )
                for r in rejected
            ],
            batch_size=500,
        )

    return store


# A job that showed no progress for this long lost its worker; imports are idempotent
# (rows upsert by e-mail, history events are skipped when present), so it starts again.
IMPORT_STALE_AFTER = dt.timedelta(minutes=5)
# A queued job that no worker started for this long is queued again (a second run of the
# same job does nothing: runs are claimed).
IMPORT_QUEUED_GRACE = dt.timedelta(minutes=2)


def _claimable(job_id: int) -> Any:
    stale = timezone.now() - IMPORT_STALE_AFTER
    return ImportJob.objects.filter(pk=job_id).filter(
        Q(status=ImportJob.Status.QUEUED)
        | Q(status=ImportJob.Status.RUNNING, heartbeat_at__lt=stale)
    )


def import_jobs_resume() -> list[int]:
    """Queue again the jobs whose worker died (beat, every few minutes)."""
    from ..tasks import import_job_run_task

    now = timezone.now()
    ids = list(
        ImportJob.objects.filter(
            Q(status=ImportJob.Status.RUNNING, heartbeat_at__lt=now - IMPORT_STALE_AFTER)
            # Never reached a worker (the broker was away when it was queued).
            | Q(status=ImportJob.Status.QUEUED, created_at__lt=now - IMPORT_QUEUED_GRACE)
        ).values_list("pk", flat=True)
    )
    return [job_id for job_id in ids if delay_safely(import_job_run_task, job_id)]


# An upload nobody mapped for this long was abandoned; its file goes with it.
IMPORT_DRAFT_KEPT = dt.timedelta(days=7)


def import_drafts_discard() -> int:
    """Delete the uploads the wizard never got a mapping for (beat, with the resume sweep).
    A draft queued meanwhile is left alone: the delete is conditional on the status."""
    count = 0
    old = ImportJob.objects.filter(
        status=ImportJob.Status.DRAFT, created_at__lt=timezone.now() - IMPORT_DRAFT_KEPT
    )
    for job in old.only("pk", "file"):
        deleted, _rows = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.DRAFT).delete()
        if deleted:
            job.file.delete(save=False)
            count += 1
    return count


def import_job_run(*, job_id: int) -> ImportJob | None:
    """Run a queued import. Claimed with a conditional update, so a second run (a redelivered
    task, a double click) finds it taken and does nothing; a job whose worker died (no
    heartbeat for IMPORT_STALE_AFTER) is claimed again and re-imported from the start."""
    now = timezone.now()
    claimed = _claimable(job_id).update(
        status=ImportJob.Status.RUNNING, started_at=now, heartbeat_at=now
    )
    if claimed != 1:
        return None
    job = ImportJob.objects.get(pk=job_id)
    # A job taken over from a dead worker starts again from the first row.
    ImportProblem.objects.filter(job_id=job_id).delete()
    try:
        import_csv(
            open_file=lambda: job.file.storage.open(job.file.name, "rb"),
            mapping=mapping_load(job.mapping),
            progress=_job_progress(job.pk),
            context={"import_job": job.pk},
            rejections=_job_rejections(job.pk),
            encoding=job.encoding,
        )
    except ImportFailed as exc:
        _job_finish(job, ImportJob.Status.FAILED, exc.message)
    except Exception:
        _job_finish(
            job,
            ImportJob.Status.FAILED,
            _("The import stopped on an unexpected error; the rows counted above were imported."),
        )
        raise
    else:
        _job_finish(job, ImportJob.Status.DONE, "")
    job.refresh_from_db()
    return job


def _job_finish(job: ImportJob, status: str, failure: str) -> None:
    ImportJob.objects.filter(pk=job.pk).update(
        status=status, failure=failure, finished_at=timezone.now()
    )
