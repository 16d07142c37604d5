import datetime as dt
import io
import json
import tracemalloc
import zoneinfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from leads import importing
from leads.models import Company, ImportJob, Lead, Stage, StageEvent
from leads.tasks import import_job_run_task

from ..conftest import realdata_path
from ..factories import LeadFactory

pytestmark = pytest.mark.django_db

TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")

MAPPING = {
    "placeholders": ["Select"],
    "columns": [
        {"column": "Email", "to": "email"},
        {"column": "First", "to": "first_name"},
        {"column": "Country", "to": "country"},
        {"column": "Visits", "to": "custom.visits", "type": "int"},
        {"column": "Newsletter", "to": "custom.newsletter", "type": "bool"},
    ],
}
HEADER = "Email,First,Country,Visits,Newsletter\r\n"

HISTORY_MAPPING = {
    "time_zone": "Asia/Tokyo",
    "columns": [
        {"column": "Email", "to": "email"},
        {"column": "MQL", "to": "mql_at"},
        {"column": "SAL", "to": "sal_at"},
        {"column": "SQL", "to": "sql_at"},
        {"column": "Rejected", "to": "rejected_at"},
        {"column": "Reason", "to": "rejection_reason"},
        {"column": "Recycled", "to": "recycled_at"},
    ],
}
HISTORY_HEADER = "Email,MQL,SAL,SQL,Rejected,Reason,Recycled\n"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def write(tmp_path, name, content, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return path


def run(tmp_path, content, mapping=MAPPING, **options):
    """Runs the command; returns (stdout, stderr)."""
    csv_path = write(tmp_path, "leads.csv", content)
    mapping_path = write(
        tmp_path, "mapping.json", mapping if isinstance(mapping, str) else json.dumps(mapping)
    )
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "import_leads", str(csv_path), mapping=str(mapping_path), stdout=out, stderr=err, **options
    )
    return out.getvalue(), err.getvalue()


def nothing_written():
    return not Lead.objects.exists() and not StageEvent.objects.exists()


# The command and the service ---------------------------------------------------------------


def test_a_good_file_creates_leads_with_typed_attributes_and_reports(tmp_path):
    out, err = run(
        tmp_path,
        HEADER + "hana@example.jp,Hana,Japan,5,Yes\r\nken@example.jp,Ken,Japan,0,no\r\n",
    )
    assert "Created: 2, updated: 0, rejected: 0" in out
    assert "2 / 2 rows" in err
    hana = Lead.objects.get(email="hana@example.jp")
    assert (hana.first_name, hana.country) == ("Hana", "Japan")
    assert hana.custom == {"visits": 5, "newsletter": True}
    assert Lead.objects.get(email="ken@example.jp").custom == {"visits": 0, "newsletter": False}


def test_progress_is_reported_every_chunk(tmp_path):
    rows = "".join(f"p{i}@example.jp,P,JP,1,yes\r\n" for i in range(5))
    _out, err = run(tmp_path, HEADER + rows, chunk_size=2)
    assert err.splitlines() == ["0 / 5 rows", "2 / 5 rows", "4 / 5 rows", "5 / 5 rows"]


def test_a_shipped_mapping_is_found_by_name(tmp_path):
    path = write(tmp_path, "x.csv", "Prospect ID\nabc\n")
    with pytest.raises(CommandError, match=r"columns\[1\]\.column: the file has no column"):
        call_command("import_leads", str(path), mapping="x_education", stdout=io.StringIO())
    assert nothing_written()


@pytest.mark.parametrize(
    "mapping,message",
    [
        ('{"columns": [', "mapping: not valid JSON (line 1, column 14"),
        ([], "mapping: give a JSON object"),
        ({"columns": [{"column": "Email", "to": "emial"}]}, 'columns[0].to: unknown field "emial"'),
        (
            {"columns": [{"column": "Email", "to": "email"}, {"column": "Nope", "to": "source"}]},
            'columns[1].column: the file has no column "Nope"',
        ),
        (
            {"time_zone": "Mars/Olympus", "columns": [{"column": "Email", "to": "email"}]},
            'time_zone: "Mars/Olympus" is not a known time zone',
        ),
        (
            {"columns": [{"column": "Email", "to": "email", "type": "integer"}]},
            "columns[0].type: use one of text, int, float, bool",
        ),
        (
            {"columns": [{"column": "Email", "to": "email", "kind": "int"}]},
            "columns[0].kind: unknown key",
        ),
        ({"colums": []}, "colums: unknown mapping key"),
        (
            {"columns": [{"column": "First", "to": "first_name"}]},
            "columns: map a column to email, or give an email_template",
        ),
        (
            {"email_template": "{Id}@x.invalid", "columns": [{"column": "First", "to": "source"}]},
            'email_template: the file has no column "Id"',
        ),
        (
            {"columns": [{"column": "Email", "to": "email"}, {"column": "First", "to": "email"}]},
            'columns[1].to: email is already filled from the column "Email"',
        ),
    ],
)
def test_a_bad_mapping_is_refused_naming_its_key_and_writes_nothing(tmp_path, mapping, message):
    with pytest.raises(CommandError) as excinfo:
        run(tmp_path, HEADER + "hana@example.jp,Hana,Japan,5,Yes\r\n", mapping=mapping)
    assert message in str(excinfo.value)
    assert nothing_written()


@pytest.mark.parametrize("encoding", ["cp932", "latin-1"])
def test_a_file_that_is_not_utf8_fails_naming_the_line_and_writes_nothing(tmp_path, encoding):
    name = "東京" if encoding == "cp932" else "Café"
    content = HEADER + f"a@example.jp,A,JP,1,yes\r\nb@example.jp,{name},JP,1,yes\r\n"
    with pytest.raises(CommandError, match="Line 3 is not UTF-8 text"):
        run(tmp_path, content.encode(encoding))
    assert nothing_written()


def test_a_utf8_bom_and_multi_line_cells_are_fine(tmp_path):
    content = (
        "\ufeffEmail,First,Country,Visits,Newsletter\r\n"
        'a@example.jp,"Two\r\nlines",JP,1,yes\r\n'
        "not-an-email,B,JP,1,yes\r\n"
    )
    out, _err = run(tmp_path, content)
    assert Lead.objects.get(email="a@example.jp").first_name == "Two\r\nlines"
    assert 'Line 4, column "Email": email: Enter a valid email address.' in out


def test_a_ragged_row_fails_naming_the_line_and_writes_nothing(tmp_path):
    good = "".join(f"p{i}@example.jp,P,JP,1,yes\r\n" for i in range(4))
    with pytest.raises(CommandError, match="Line 6 has 4 columns; the header has 5."):
        run(tmp_path, HEADER + good + "late@example.jp,L,JP,1\r\n", chunk_size=2)
    assert nothing_written()


def test_an_empty_file_fails(tmp_path):
    with pytest.raises(CommandError, match="The file is empty"):
        run(tmp_path, "")


def test_a_bad_row_is_rejected_with_its_line_while_the_others_import(tmp_path):
    out, _err = run(
        tmp_path,
        HEADER
        + "hana@example.jp,Hana,JP,5,Yes\r\n"
        + "not-an-email,Bad,JP,5,Yes\r\n"
        + "ken@example.jp,Ken,JP,many,perhaps\r\n"
        + "mei@example.jp,Mei,JP,2.0,1\r\n",
    )
    assert "Created: 2, updated: 0, rejected: 2" in out
    assert 'Line 3, column "Email": email: Enter a valid email address.' in out
    assert (
        'Line 4, column "Visits, Newsletter": custom.visits: "many" is not a whole number.; '
        'custom.newsletter: "perhaps" is not yes or no.'
    ) in out
    assert sorted(Lead.objects.values_list("email", flat=True)) == [
        "hana@example.jp",
        "mei@example.jp",
    ]
    assert Lead.objects.get(email="mei@example.jp").custom == {"visits": 2, "newsletter": True}


def test_the_report_lists_twenty_rejections_then_counts_the_rest(tmp_path):
    rows = "".join(f"bad{i},B,JP,1,yes\r\n" for i in range(25))
    out, _err = run(tmp_path, HEADER + rows)
    assert "rejected: 25" in out
    assert 'Line 21, column "Email": email' in out and "Line 22" not in out
    assert "… and 5 more." in out


def test_placeholders_and_blanks_are_empty_and_never_overwrite(tmp_path):
    known = LeadFactory(email="hana@example.jp", first_name="Hana", country="Japan")
    known.custom = {"visits": 3, "tier": "gold"}
    known.save()
    out, _err = run(tmp_path, HEADER + "HANA@example.jp,Select,,Select, \r\nnew@example.jp,,,,\r\n")
    assert "Created: 1, updated: 1, rejected: 0" in out
    known.refresh_from_db()
    assert (known.first_name, known.country) == ("Hana", "Japan")
    assert known.custom == {"visits": 3, "tier": "gold"}
    new = Lead.objects.get(email="new@example.jp")
    assert (new.first_name, new.country, new.custom) == ("", "", {})


def test_company_and_owner_columns_fill_the_company_and_the_owner(tmp_path, bob):
    mapping = {
        "columns": [
            {"column": "Email", "to": "email"},
            {"column": "Company", "to": "company_name"},
            {"column": "Staff", "to": "employees"},
            {"column": "Listed", "to": "listed", "type": "bool"},
            {"column": "Owner", "to": "owner_email"},
        ]
    }
    out, _err = run(
        tmp_path,
        "Email,Company,Staff,Listed,Owner\n"
        f"a@acme.jp,Acme,120,Yes,{bob.email.upper()}\n"
        "b@acme.jp,Acme,lots,No,\n"
        "c@acme.jp,Acme,,No,nobody@example.jp\n",
        mapping=mapping,
    )
    assert 'Line 3, column "Staff": employees: A valid integer is required.' in out
    assert 'Line 4, column "Owner": owner_email: No active user has this e-mail.' in out
    lead = Lead.objects.get(email="a@acme.jp")
    assert lead.owner == bob
    assert (lead.company.name, lead.company.employees, lead.company.listed) == ("Acme", 120, True)
    assert Company.objects.count() == 1


def test_an_email_template_gives_rows_without_email_a_stable_identity(tmp_path):
    mapping = {
        "email_template": "{Prospect ID}@crm.invalid",
        "columns": [{"column": "Source", "to": "source"}],
    }
    content = "Prospect ID,Source\nabc-1,Google\n,Google\n"
    out, _err = run(tmp_path, content, mapping=mapping)
    assert Lead.objects.get().email == "abc-1@crm.invalid"
    assert 'Line 3, column "Prospect ID": email: This field is required.' in out
    out, _err = run(tmp_path, content, mapping=mapping)
    assert "Created: 0, updated: 1" in out


# History -----------------------------------------------------------------------------------


def test_history_columns_become_stage_events_in_lifecycle_order(tmp_path):
    out, _err = run(
        tmp_path,
        HISTORY_HEADER
        + "won@example.jp,2024-04-01 09:00,2024-04-01T10:30:00+09:00,2024-04-03,,,\n"
        + "lost@example.jp,2024-04-02T00:00:00Z,,,2024-04-05T12:00:00Z,Not a fit,2024-05-01\n",
        mapping=HISTORY_MAPPING,
    )
    assert "Created: 2, updated: 0, rejected: 0" in out
    won = Lead.objects.get(email="won@example.jp")
    events = list(won.stage_events.values_list("from_stage", "to_stage", "at", "origin"))
    assert events == [
        ("lead", "mql", dt.datetime(2024, 4, 1, 9, tzinfo=TOKYO), "import"),
        ("mql", "sal", dt.datetime(2024, 4, 1, 10, 30, tzinfo=TOKYO), "import"),
        ("sal", "sql", dt.datetime(2024, 4, 3, tzinfo=TOKYO), "import"),
    ]
    assert won.stage == Stage.SQL and won.stage_changed_at == dt.datetime(2024, 4, 3, tzinfo=TOKYO)
    lost = Lead.objects.get(email="lost@example.jp")
    assert [(e.to_stage, e.reason) for e in lost.stage_events.all()] == [
        ("mql", ""),
        ("rejected", "not_a_fit"),
        ("recycled", ""),
    ]
    assert lost.stage_events.first().context == {"import_file": "leads.csv", "line": 3}


@pytest.mark.parametrize(
    "row,column,reason,kept",
    [
        (
            "2024-04-02,2024-04-01,,,,",
            "SAL",
            "sal_at: The change cannot be dated before the lead's previous stage change "
            "(2024-04-02T00:00:00+09:00).",
            ["mql"],
        ),
        (
            "2024-04-03,,2024-04-01,,,",
            "SQL",
            "sql_at: The change cannot be dated before the lead's previous stage change "
            "(2024-04-03T00:00:00+09:00).",
            ["mql"],
        ),
        (
            "2024-04-01,2024-04-02,,2024-04-03,other,",
            "Rejected",
            "rejected_at: A lead cannot go from SAL",
            ["mql", "sal"],
        ),
        (
            "2024-04-01,,,2024-04-03,,",
            "Rejected",
            "rejected_at: A rejection needs a rejection_reason.",
            ["mql"],
        ),
        (
            "2024-04-01,,,2024-04-03,lazy,",
            "Reason, Rejected",
            'rejection_reason: "lazy" is not one of not_a_fit',
            ["mql"],
        ),
        ("01/04/2024,,,,,", "MQL", 'mql_at: "01/04/2024" is not an ISO 8601 time', []),
        ("2999-01-01,,2024-04-03,,,", "MQL", 'mql_at: "2999-01-01" is in the future.', ["sql"]),
    ],
)
def test_a_bad_history_step_is_left_out_and_reported_while_the_lead_keeps_the_rest(
    tmp_path, row, column, reason, kept
):
    out, _err = run(
        tmp_path,
        HISTORY_HEADER + "ok@example.jp,2024-04-01,,,,,\n" + f"bad@example.jp,{row}\n",
        mapping=HISTORY_MAPPING,
    )
    assert f'Line 3, column "{column}": {reason}' in out
    assert "Created: 2, updated: 0, rejected: 0" in out
    assert "History problems: " in out
    bad = Lead.objects.get(email="bad@example.jp")
    assert list(bad.stage_events.values_list("to_stage", flat=True)) == kept


def test_history_may_skip_steps_that_were_not_recorded_and_says_so(tmp_path):
    out, _err = run(
        tmp_path,
        HISTORY_HEADER
        + "won@example.jp,2024-04-01,,2024-04-20,,,\n"
        + "direct@example.jp,,,2024-04-03,,,\n"
        + "normal@example.jp,2024-04-01,2024-04-02,2024-04-03,,,\n",
        mapping=HISTORY_MAPPING,
    )
    assert "Created: 3, updated: 0, rejected: 0" in out
    assert "History problems" not in out

    def events(email):
        return list(
            StageEvent.objects.filter(lead__email=email).values_list(
                "from_stage", "to_stage", "skipped"
            )
        )

    assert events("won@example.jp") == [("lead", "mql", False), ("mql", "sql", True)]
    assert events("direct@example.jp") == [("lead", "sql", True)]
    assert events("normal@example.jp") == [
        ("lead", "mql", False),
        ("mql", "sal", False),
        ("sal", "sql", False),
    ]
    assert Lead.objects.get(email="won@example.jp").stage == Stage.SQL


def test_errors_file_lists_every_problem_with_line_column_and_reason(tmp_path):
    rows = "".join(f"p{i}@example.jp,2024-04-05,,2024-04-01,,,\n" for i in range(30))
    errors = tmp_path / "problems.csv"
    out, _err = run(
        tmp_path,
        HISTORY_HEADER + rows + "bad,2024-04-01,,,,,\n",
        mapping=HISTORY_MAPPING,
        errors=str(errors),
    )
    assert "Created: 30, updated: 0, rejected: 1" in out
    assert "History problems: 30" in out
    assert f"Every problem is in {errors}." in out
    lines = errors.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "line,column,field,problem,outcome"
    assert len(lines) == 32
    assert lines[1].startswith("2,SQL,sql_at,The change cannot be dated before")
    assert lines[1].endswith(",lead imported without this cell")
    assert lines[31] == "32,Email,email,Enter a valid email address.,row not imported"


def test_the_command_says_how_to_get_every_problem(tmp_path):
    rows = "".join(f"bad{i},B,JP,1,yes\r\n" for i in range(25))
    out, _err = run(tmp_path, HEADER + rows)
    assert "--errors FILE writes them all." in out


def test_history_continues_from_the_stage_a_known_lead_is_in(tmp_path):
    lead = LeadFactory(email="known@example.jp")
    run(tmp_path, HISTORY_HEADER + "known@example.jp,2024-04-01,,,,,\n", mapping=HISTORY_MAPPING)
    out, _err = run(
        tmp_path,
        HISTORY_HEADER + "known@example.jp,2024-04-01,2024-04-02,,,,\n",
        mapping=HISTORY_MAPPING,
    )
    assert "updated: 1, rejected: 0" in out
    assert list(lead.stage_events.values_list("to_stage", flat=True)) == ["mql", "sal"]
    out, _err = run(
        tmp_path, HISTORY_HEADER + "known@example.jp,2024-03-01,,,,,\n", mapping=HISTORY_MAPPING
    )
    assert 'Line 2, column "MQL": mql_at: A lead cannot go from SAL to MQL.' in out


def test_reimporting_the_same_file_is_idempotent(tmp_path):
    content = (
        HISTORY_HEADER
        + "won@example.jp,2024-04-01 09:00,2024-04-01 10:30,2024-04-03,,,\n"
        + "lost@example.jp,2024-04-02,,,2024-04-05,duplicate,2024-05-01\n"
        + "won@example.jp,2024-04-01 09:00,2024-04-01 10:30,2024-04-03,,,\n"
    )
    out, _err = run(tmp_path, content, mapping=HISTORY_MAPPING)
    assert "Created: 2, updated: 1, rejected: 0" in out
    events = list(StageEvent.objects.order_by("id").values_list("lead__email", "to_stage", "at"))
    assert len(events) == 6
    out, _err = run(tmp_path, content, mapping=HISTORY_MAPPING, chunk_size=1)
    assert "Created: 0, updated: 3, rejected: 0" in out
    assert list(StageEvent.objects.order_by("id").values_list("lead__email", "to_stage", "at")) == (
        events
    )
    assert Lead.objects.count() == 2


def test_memory_stays_flat_on_a_large_file(tmp_path):
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("Email,Visits\r\n")
        for i in range(6_000):
            out.write(f"lead{i}@example.jp,{i % 50}\r\n")
    mapping = importing.mapping_load(
        {
            "columns": [
                {"column": "Email", "to": "email"},
                {"column": "Visits", "to": "custom.visits", "type": "int"},
            ]
        }
    )
    tracemalloc.start()
    try:
        report = importing.import_csv(open_file=lambda: path.open("rb"), mapping=mapping)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (report.created, report.rejected) == (6_000, 0)
    assert Lead.objects.count() == 6_000
    # Holding the rows or the leads would take several times this; a chunk takes ~1 MB.
    assert peak < 10 * 1024 * 1024, f"peak {peak / 1024 / 1024:.1f} MB"


# Jobs and pages ----------------------------------------------------------------------------


def _upload(content, name="leads.csv"):
    return SimpleUploadedFile(name, content if isinstance(content, bytes) else content.encode())


def test_a_running_job_shows_progress_and_polls(client, alice, media):
    job = ImportJob.objects.create(
        file="imports/x.csv",
        original_name="x.csv",
        mapping=MAPPING,
        status=ImportJob.Status.RUNNING,
        total_rows=200,
        processed_rows=50,
    )
    client.force_login(alice)
    html = client.get(reverse("leads:import_detail", args=[job.id])).content.decode()
    assert 'style="width: 25%"' in html
    assert reverse("leads:import_status", args=[job.id]) in html
    assert client.get(reverse("leads:import_status", args=[job.id])).json()["percent"] == 25


def test_a_sales_rep_cannot_import(client, bob, media):
    client.force_login(bob)
    job = ImportJob.objects.create(file="imports/x.csv", original_name="x.csv", mapping=MAPPING)
    assert client.get(reverse("leads:import")).status_code == 403
    response = client.post(reverse("leads:import"), {"file": _upload(HEADER)})
    assert response.status_code == 403
    assert client.get(reverse("leads:import_map", args=[job.id])).status_code == 403
    assert client.get(reverse("leads:import_detail", args=[job.id])).status_code == 403
    assert client.get(reverse("leads:import_status", args=[job.id])).status_code == 403
    assert ImportJob.objects.count() == 1
    assert reverse("leads:import") not in client.get(reverse("leads:list")).content.decode()


def test_the_nav_links_to_the_import_for_marketing(client, alice):
    client.force_login(alice)
    assert reverse("leads:import") in client.get(reverse("leads:list")).content.decode()


def test_running_a_job_twice_imports_once(media, alice):
    upload = _upload(HEADER + "a@example.jp,A,JP,1,yes\n")
    job = importing.import_job_create(file=upload, mapping=MAPPING, user=alice)
    assert importing.import_job_run(job_id=job.id).created_count == 1
    assert importing.import_job_run(job_id=job.id) is None
    job.refresh_from_db()
    assert (job.status, job.created_count, job.updated_count) == (ImportJob.Status.DONE, 1, 0)
    import_job_run_task(job.id + 1000)  # a job that is gone: nothing happens


# Real data ---------------------------------------------------------------------------------


@pytest.mark.realdata
def test_the_x_education_file_imports_whole_and_reimports_as_updates():
    path = realdata_path("Leads.csv")
    out, err = io.StringIO(), io.StringIO()
    call_command("import_leads", str(path), mapping="x_education", stdout=out, stderr=err)
    assert "Rows: 9240. Created: 9240, updated: 0, rejected: 0." in out.getvalue()
    assert err.getvalue().splitlines()[-1] == "9240 / 9240 rows"
    assert Lead.objects.count() == 9240

    first = Lead.objects.get(email="7927b2df-8bba-4d29-b9a2-b6e0beafe620@xeducation.invalid")
    assert (first.source, first.country) == ("Olark Chat", "")
    assert first.custom["lead_number"] == 660737
    assert first.custom["lead_origin"] == "API"
    assert first.custom["do_not_email"] is False and first.custom["converted"] is False
    assert first.custom["total_visits"] == 0 and first.custom["page_views_per_visit"] == 0.0
    assert first.custom["tags"] == "Interested in other courses"
    assert first.custom["activity_score"] == 15
    # "Select" and blanks are empty: no attribute at all.
    for key in ("specialization", "heard_from", "lead_profile", "city"):
        assert key not in first.custom

    third = Lead.objects.get(email="8cc8c611-a219-4f35-ad23-fdfd2656bd8a@xeducation.invalid")
    assert third.country == "India"
    assert third.custom["converted"] is True
    assert third.custom["total_visits"] == 2 and third.custom["time_on_website"] == 1532
    assert third.custom["specialization"] == "Business Administration"
    assert third.custom["occupation"] == "Student"
    assert Lead.objects.filter(custom__converted=True).count() == 3561

    out = io.StringIO()
    call_command("import_leads", str(path), mapping="x_education", stdout=out, stderr=io.StringIO())
    assert "Created: 0, updated: 9240, rejected: 0." in out.getvalue()
    assert Lead.objects.count() == 9240
    assert not StageEvent.objects.exists()


def _stuck_job(media, minutes_ago: int) -> ImportJob:
    from django.core.files.base import ContentFile
    from django.utils import timezone

    job = ImportJob(original_name="stuck.csv", mapping=MAPPING, status=ImportJob.Status.RUNNING)
    job.file.save(
        "stuck.csv", ContentFile((HEADER + "a@example.jp,A,JP,1,yes\n").encode()), save=False
    )
    job.heartbeat_at = timezone.now() - dt.timedelta(minutes=minutes_ago)
    job.save()
    return job


def test_a_job_whose_worker_died_is_taken_over_and_finished(media, celery_eager):
    from leads.importing import import_job_run, import_jobs_resume

    stuck = _stuck_job(media, minutes_ago=10)
    alive = _stuck_job(media, minutes_ago=1)
    assert import_job_run(job_id=alive.pk) is None  # its worker is still at it
    assert import_jobs_resume() == [stuck.pk]
    stuck.refresh_from_db()
    assert stuck.status == ImportJob.Status.DONE and stuck.created_count == 1
    assert ImportJob.objects.get(pk=alive.pk).status == ImportJob.Status.RUNNING


def test_a_new_lead_is_created_when_its_history_says(tmp_path):
    mapping = {
        "time_zone": "Asia/Tokyo",
        "columns": [
            {"column": "Email", "to": "email"},
            {"column": "Created", "to": "created_at"},
            {"column": "MQL", "to": "mql_at"},
            {"column": "SQL", "to": "sql_at"},
        ],
    }
    known = LeadFactory(email="known@example.jp")
    out, _err = run(
        tmp_path,
        "Email,Created,MQL,SQL\n"
        "given@example.jp,2023-12-24,2024-01-10,\n"
        "first@example.jp,,2024-02-10,2024-02-05\n"
        "bad@example.jp,yesterday,2024-03-01,\n"
        "known@example.jp,2020-01-01,2024-04-01,\n",
        mapping=mapping,
    )
    assert "Created: 3, updated: 1, rejected: 0" in out
    assert 'Line 4, column "Created": created_at: "yesterday" is not an ISO 8601 time' in out

    def created(email):
        return Lead.objects.get(email=email).created_at

    assert created("given@example.jp") == dt.datetime(2023, 12, 24, tzinfo=TOKYO)
    # No created_at: the first stage date of the row, even a step left out.
    assert created("first@example.jp") == dt.datetime(2024, 2, 5, tzinfo=TOKYO)
    assert created("bad@example.jp") == dt.datetime(2024, 3, 1, tzinfo=TOKYO)
    # A known lead keeps its creation date (already counted in its day).
    assert created("known@example.jp") == known.created_at
