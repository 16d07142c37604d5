"""Every rejected import row is kept and downloads beside its reason."""

import csv
import io

import pytest
from django.urls import reverse

from leads import importing
from leads.models import ImportJob, ImportProblem, Lead

from .test_import import HISTORY_HEADER, HISTORY_MAPPING, MAPPING
from .test_import_wizard import wizard_import

pytestmark = pytest.mark.django_db

HEADER = "Email,First,Country,Visits,Newsletter\r\n"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def download(client, job) -> list[list[str]]:
    response = client.get(reverse("leads:import_problems", args=[job.id]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="leads-rejected.csv"' in response["Content-Disposition"]
    raw = b"".join(response.streaming_content)
    assert raw.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def run_upload(client, django_capture_on_commit_callbacks, content, mapping=MAPPING):
    with django_capture_on_commit_callbacks(execute=True):
        job = wizard_import(client, content, mapping)
    job.refresh_from_db()
    return job


def test_every_rejected_row_is_stored_with_line_column_reason_and_cells(
    client, alice, media, celery_eager, django_capture_on_commit_callbacks, settings
):
    client.force_login(alice)
    bad = "".join(f"bad{i},X,JP,{i},yes\r\n" for i in range(30))
    job = run_upload(
        client,
        django_capture_on_commit_callbacks,
        HEADER + "ok@example.jp,Ok,JP,1,no\r\n" + bad + "two@example.jp,T,JP,many,maybe\r\n",
    )
    assert job.rejected_count == 31 and job.created_count == 1
    assert job.header == ["Email", "First", "Country", "Visits", "Newsletter"]
    problems = list(job.problems.all())
    assert len(problems) == 31
    first = problems[0]
    assert (first.line, first.column) == (3, "Email")
    assert first.reason == "email: Enter a valid email address."
    assert first.cells == ["bad0", "X", "JP", "0", "yes"]
    last = problems[-1]
    assert last.line == 33
    assert last.column == "Visits, Newsletter"
    assert last.errors == {
        "custom.visits": ['"many" is not a whole number.'],
        "custom.newsletter": ['"maybe" is not yes or no.'],
    }


def test_the_rejected_rows_download_beside_their_reasons(
    client, alice, media, celery_eager, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    job = run_upload(
        client,
        django_capture_on_commit_callbacks,
        HEADER + "ok@example.jp,Ok,JP,1,no\r\nbroken,山田,JP,1,yes\r\n",
    )
    rows = download(client, job)
    assert rows == [
        ["Import line", "Import column", "Import reason", *job.header],
        ["3", "Email", "email: Enter a valid email address.", "broken", "山田", "JP", "1", "yes"],
    ]
    page = client.get(reverse("leads:import_detail", args=[job.id])).content.decode()
    assert reverse("leads:import_problems", args=[job.id]) in page
    assert "Done, 1 rejected" in page


def test_a_history_step_left_out_is_stored_with_its_column_and_the_lead_kept(
    client, alice, media, celery_eager, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    job = run_upload(
        client,
        django_capture_on_commit_callbacks,
        HISTORY_HEADER + "a@example.jp,2024-04-01,2024-04-02,,2024-04-03,other,\n",
        mapping=HISTORY_MAPPING,
    )
    (problem,) = job.problems.all()
    assert problem.column == "Rejected"
    assert problem.reason.startswith("rejected_at: A lead cannot go from SAL")
    assert problem.cells[0] == "a@example.jp"
    # Issue 9: the lead keeps its valid steps; only the bad one is left out.
    assert problem.row_imported
    lead = Lead.objects.get()
    assert list(lead.stage_events.values_list("to_stage", flat=True)) == ["mql", "sal"]


def test_an_import_where_every_row_was_rejected_does_not_just_say_done(
    client, alice, media, celery_eager, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    job = run_upload(
        client, django_capture_on_commit_callbacks, HEADER + "x,A,JP,1,no\r\ny,B,JP,1,no\r\n"
    )
    assert job.status_text == "Done, nothing imported: all 2 rows rejected"
    status = client.get(reverse("leads:import_status", args=[job.id])).json()
    assert status["status_label"] == "Done, nothing imported: all 2 rows rejected"
    listing = client.get(reverse("leads:import")).content.decode()
    assert "Done, nothing imported: all 2 rows rejected" in listing


def test_a_clean_import_just_says_done(
    client, alice, media, celery_eager, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    job = run_upload(
        client, django_capture_on_commit_callbacks, HEADER + "a@example.jp,A,JP,1,no\r\n"
    )
    assert job.status_text == "Done"
    assert client.get(reverse("leads:import_problems", args=[job.id])).status_code == 200


def test_a_rerun_after_a_dead_worker_keeps_one_copy_of_each_problem(tmp_path, media):
    path = tmp_path / "x.csv"
    path.write_text(HEADER + "x,A,JP,1,no\r\n")
    job = ImportJob.objects.create(original_name="x.csv", mapping=MAPPING)
    job.file.save("x.csv", open(path, "rb"), save=True)  # noqa: SIM115
    importing.import_job_run(job_id=job.pk)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED)
    importing.import_job_run(job_id=job.pk)
    assert ImportProblem.objects.filter(job=job).count() == 1


def test_the_download_needs_the_import_permission(client, bob, alice, media):
    job = ImportJob.objects.create(original_name="x.csv", mapping=MAPPING)
    client.force_login(bob)
    assert client.get(reverse("leads:import_problems", args=[job.id])).status_code == 403


def test_the_command_api_hands_over_every_rejection(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(HEADER + "".join(f"bad{i},A,JP,1,no\r\n" for i in range(7)))
    seen = []
    report = importing.import_csv(
        open_file=lambda: path.open("rb"),
        mapping=importing.mapping_load(MAPPING),
        chunk_size=3,
        rejections=seen.extend,
    )
    assert report.rejected == 7
    assert [r.line for r in seen] == [2, 3, 4, 5, 6, 7, 8]
    assert seen[0].columns == ["Email"] and seen[0].cells[0] == "bad0"
    assert report.errors[0] == {
        "line": 2,
        "column": "Email",
        "reason": "email: Enter a valid email address.",
        "row_imported": False,
    }
