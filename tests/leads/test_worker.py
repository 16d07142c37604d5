"""With a real Celery worker process (PostgreSQL + Redis in .ci/run)."""

import pytest
from django.urls import reverse

from leads.models import ImportJob, Lead

from ..conftest import wait_until
from .test_import_wizard import wizard_import

pytestmark = pytest.mark.worker

MAPPING = {
    "columns": [
        {"column": "email", "to": "email"},
        {"column": "name", "to": "first_name"},
        {"column": "mql_at", "to": "mql_at"},
    ]
}


def test_an_uploaded_csv_is_imported_by_the_worker(client, alice, celery_worker_process):
    rows = "".join(
        f"lead{i}@example.jp,Lead {i},2026-10-0{1 + i % 9}T10:00:00Z\r\n" for i in range(50)
    )
    client.force_login(alice)
    # Through the wizard as a user: upload, map, start; the worker does the rest.
    wizard_import(client, "email,name,mql_at\r\n" + rows, MAPPING)
    job = wait_until(
        lambda: ImportJob.objects.filter(status=ImportJob.Status.DONE).first(), timeout=90
    )
    assert job is not None, ImportJob.objects.values("status", "failure").first()
    assert (job.created_count, job.rejected_count) == (50, 0)
    assert Lead.objects.filter(stage="mql").count() == 50
    status = client.get(reverse("leads:import_status", args=[job.pk])).json()
    assert status["finished"] is True
