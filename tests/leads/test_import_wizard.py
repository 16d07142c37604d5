"""The import wizard: upload, encoding detected, preview, a target per column suggested from
the headers, placeholders, a saved mapping, then the import with progress."""

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from leads import importing
from leads.forms import ImportMappingForm
from leads.models import ImportJob, Lead, SavedMapping

from .test_import import HEADER, MAPPING, nothing_written

pytestmark = pytest.mark.django_db

JAPANESE = (
    "メールアドレス,会社名,姓,名,従業員数,業種,ニュースレター,流入元\r\n"
    "hanako@example.jp,株式会社サンプル,山田,花子,120,製造業,はい,展示会\r\n"
    "taro@example.jp,㈱テスト,佐藤,太郎,未選択,ソフトウェア,いいえ,ウェビナー\r\n"
)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def upload(client, content: bytes | str, name="leads.csv", saved="") -> ImportJob:
    data = content.encode() if isinstance(content, str) else content
    response = client.post(
        reverse("leads:import"), {"file": SimpleUploadedFile(name, data), "saved": saved}
    )
    assert response.status_code == 302, response.context and response.context["form"].errors
    job = ImportJob.objects.latest("id")
    assert response.url.startswith(reverse("leads:import_map", args=[job.id]))
    return job


def mapping_post(header: list[str], mapping, **extra) -> dict:
    """The mapping step's form as a user would fill it to get `mapping`."""
    data = ImportMappingForm.initial_for(header, mapping, "UTC")
    data = {k: v for k, v in data.items() if v is not None}
    return {**data, **extra}


def wizard_import(client, content, mapping=MAPPING, *, encoding=None, **extra) -> ImportJob:
    """Upload, then map with `mapping` and start; returns the job (run with celery_eager and
    on-commit callbacks executed by the caller)."""
    job = upload(client, content)
    with job.file.open("rb") as binary:
        header, _rows = importing.csv_preview(binary, encoding or job.encoding)
    data = mapping_post(header, mapping, encoding=encoding or job.encoding, **extra)
    response = client.post(reverse("leads:import_map", args=[job.id]), data)
    assert response.status_code == 302, response.context["form"].errors
    assert response.url == reverse("leads:import_detail", args=[job.id])
    job.refresh_from_db()
    return job


# Encodings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "encoded,expected",
    [
        (JAPANESE.encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + JAPANESE.encode("utf-8"), "utf-8-sig"),
        (JAPANESE.encode("cp932"), "cp932"),
        (JAPANESE.replace("㈱", "株式会社").encode("euc_jp"), "euc_jp"),
        ("Email,Name\r\nzoe@example.fr,Zoë Café\r\n".encode("cp1252"), "cp1252"),
        (b"Email\r\na@example.jp\r\n", "utf-8"),
    ],
)
def test_the_encoding_is_detected(encoded, expected):
    assert importing.encoding_detect(io.BytesIO(encoded)) == expected


def test_a_utf8_file_cut_inside_a_character_is_still_utf8(monkeypatch):
    monkeypatch.setattr("leads.importing.encoding.SAMPLE_BYTES", 10)
    assert importing.encoding_detect(io.BytesIO("Email,名前,会社\n".encode())) == "utf-8"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_every_encoding_reads_the_same_rows(encoding):
    data = JAPANESE.encode(encoding)
    header, rows = importing.csv_preview(io.BytesIO(data), encoding)
    assert header[0] == "メールアドレス"
    assert rows[1][1] == "㈱テスト"


def test_a_shift_jis_file_read_as_utf8_names_the_line():
    with pytest.raises(importing.ImportFailed, match="Line 1 is not UTF-8 text"):
        importing.csv_preview(io.BytesIO(JAPANESE.encode("cp932")), "utf-8")


# Suggestions --------------------------------------------------------------------------------


def test_targets_are_suggested_from_english_and_japanese_headers():
    header = [
        "メールアドレス",
        "会社名",
        "姓",
        "名",
        "従業員数",
        "E-mail",
        "Lead Source",
        "ＴＥＬ",
        "Visits",
    ]
    assert importing.suggest_targets(header) == [
        "email",
        "company_name",
        "last_name",
        "first_name",
        "employees",
        "",  # e-mail is taken by the first column naming it
        "source",
        "phone",
        "",
    ]


# The wizard ---------------------------------------------------------------------------------


def test_a_shift_jis_file_goes_through_the_wizard_and_imports(
    client, alice, media, celery_eager, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    job = upload(client, JAPANESE.encode("cp932"), name="展示会.csv")
    assert (job.status, job.encoding) == (ImportJob.Status.DRAFT, "cp932")
    page = client.get(reverse("leads:import_map", args=[job.id]))
    html = page.content.decode()
    assert "Shift-JIS" in html and "株式会社サンプル" in html  # the preview, decoded
    form = page.context["form"]
    assert [form[f"to_{i}"].value() for i in range(8)] == [
        "email",
        "company_name",
        "last_name",
        "first_name",
        "employees",
        "industry",
        "",
        "source",
    ]
    data = {
        **{f"to_{i}": form[f"to_{i}"].value() for i in range(8)},
        "to_6": "custom",
        "key_6": "newsletter",
        "type_6": "bool",
        "empty_4": "未選択",
        "encoding": "cp932",
        "time_zone": "Asia/Tokyo",
        "placeholders": "-, N/A",
        "save_as": "展示会リスト",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("leads:import_map", args=[job.id]), data)
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE, job.failure
    assert (job.created_count, job.rejected_count) == (2, 0)
    hanako = Lead.objects.get(email="hanako@example.jp")
    assert (hanako.last_name, hanako.company.name, hanako.company.employees) == (
        "山田",
        "株式会社サンプル",
        120,
    )
    assert hanako.source == "展示会"
    taro = Lead.objects.get(email="taro@example.jp")
    assert taro.company.employees is None  # 未選択 means empty in that column
    saved = SavedMapping.objects.get(name="展示会リスト")
    assert saved.mapping["time_zone"] == "Asia/Tokyo"
    assert {"column": "ニュースレター", "to": "custom.newsletter", "type": "bool"} in saved.mapping[
        "columns"
    ]


def test_japanese_yes_and_no_are_booleans(
    client, alice, media, celery_eager, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    mapping = {
        "columns": [
            {"column": "メールアドレス", "to": "email"},
            {"column": "ニュースレター", "to": "custom.newsletter", "type": "bool"},
        ]
    }
    with django_capture_on_commit_callbacks(execute=True):
        job = wizard_import(client, JAPANESE.encode("cp932"), mapping)
    job.refresh_from_db()
    assert job.rejected_count == 0, job.errors
    assert Lead.objects.get(email="hanako@example.jp").custom == {"newsletter": True}
    assert Lead.objects.get(email="taro@example.jp").custom == {"newsletter": False}


def test_a_saved_mapping_fills_the_next_file_of_the_same_shape(client, alice, media):
    SavedMapping.objects.create(
        name="Monthly fair",
        mapping={
            "time_zone": "Asia/Tokyo",
            "placeholders": ["未選択"],
            "columns": [
                {"column": "メールアドレス", "to": "email"},
                {"column": "ニュースレター", "to": "custom.nl", "type": "bool"},
            ],
        },
    )
    client.force_login(alice)
    job = upload(client, JAPANESE.encode("cp932"), saved="Monthly fair")
    response = client.get(reverse("leads:import_map", args=[job.id]), {"saved": "Monthly fair"})
    form = response.context["form"]
    assert form["to_0"].value() == "email"
    assert form["to_1"].value() == ""  # the saved mapping skips it: no guessing on top
    assert (form["to_6"].value(), form["key_6"].value(), form["type_6"].value()) == (
        "custom",
        "nl",
        "bool",
    )
    assert form["placeholders"].value() == "未選択"
    assert form["time_zone"].value() == "Asia/Tokyo"
    assert form["save_as"].value() == "Monthly fair"


def test_the_shipped_mapping_can_be_started_from(client, alice, media):
    client.force_login(alice)
    job = upload(client, "Prospect ID,Lead Source\nabc,Google\n", saved="shipped:x_education")
    response = client.get(
        reverse("leads:import_map", args=[job.id]), {"saved": "shipped:x_education"}
    )
    assert response.context["form"]["to_1"].value() == "source"


def test_choosing_another_encoding_reads_the_file_again(client, alice, media):
    client.force_login(alice)
    job = upload(client, JAPANESE.encode("cp932"))
    page = client.get(reverse("leads:import_map", args=[job.id]), {"encoding": "utf-8"})
    assert "Line 1 is not UTF-8 text" in page.content.decode()
    assert "株式会社サンプル" not in page.content.decode()


def test_a_mapping_without_an_email_is_refused_beside_the_form(client, alice, media):
    client.force_login(alice)
    job = upload(client, HEADER + "a@example.jp,A,JP,1,yes\r\n")
    response = client.post(
        reverse("leads:import_map", args=[job.id]),
        {"to_0": "", "to_1": "first_name", "encoding": "utf-8", "time_zone": "UTC"},
    )
    assert response.status_code == 200
    assert "map a column to email, or give an email_template." in str(
        response.context["form"].non_field_errors()
    )
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DRAFT


def test_a_target_chosen_twice_is_named_beside_the_second_column(client, alice, media):
    client.force_login(alice)
    job = upload(client, HEADER + "a@example.jp,A,JP,1,yes\r\n")
    response = client.post(
        reverse("leads:import_map", args=[job.id]),
        {"to_0": "email", "to_1": "email", "encoding": "utf-8", "time_zone": "UTC"},
    )
    assert "email is already filled from the column" in response.context["form"].errors["to_1"][0]


@pytest.mark.parametrize(
    "content,message",
    [
        ("\n\n", "The file is empty"),
        (HEADER + "a@example.jp,A,JP,1,yes\nb@example.jp,B\n", "Line 3 has 2 columns"),
    ],
)
def test_a_broken_file_is_named_in_the_wizard_and_queues_nothing(
    client, alice, media, content, message
):
    client.force_login(alice)
    job = upload(client, content)
    page = client.get(reverse("leads:import_map", args=[job.id]))
    if "empty" in message:
        assert message in page.content.decode()
        return
    response = client.post(
        reverse("leads:import_map", args=[job.id]),
        mapping_post(page.context["header"], MAPPING, encoding="utf-8"),
    )
    assert response.status_code == 200
    assert any(message in e for e in response.context["form"].non_field_errors())
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DRAFT
    assert nothing_written()


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("empty.csv", b"", "The submitted file is empty."),
        ("leads.xlsx", HEADER.encode(), "Upload a .csv file."),
    ],
)
def test_a_bad_upload_is_a_form_error(client, alice, media, name, content, message):
    client.force_login(alice)
    response = client.post(reverse("leads:import"), {"file": SimpleUploadedFile(name, content)})
    assert response.status_code == 200
    assert message in response.context["form"].errors["file"]
    assert not ImportJob.objects.exists()


def test_the_mapping_step_queues_once_even_when_sent_twice(
    client, alice, media, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    job = upload(client, HEADER + "a@example.jp,A,JP,1,yes\r\n")
    data = mapping_post(HEADER.strip().split(","), MAPPING, encoding="utf-8")
    with django_capture_on_commit_callbacks() as callbacks:
        client.post(reverse("leads:import_map", args=[job.id]), data)
        second = client.post(reverse("leads:import_map", args=[job.id]), data)
    assert len(callbacks) == 1
    assert second.url == reverse("leads:import_detail", args=[job.id])
    job.refresh_from_db()
    assert job.status == ImportJob.Status.QUEUED
    assert job.mapping["columns"][0] == {"column": "Email", "to": "email"}


def test_a_large_upload_is_checked_by_the_job_which_fails_and_writes_nothing(
    client, alice, media, monkeypatch, celery_eager, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(ImportMappingForm, "FULL_CHECK_BYTES", 10)  # only the header is checked
    client.force_login(alice)
    content = HEADER + "a@example.jp,A,JP,1,yes\n" + "b@example.jp,B,JP\n"
    with django_capture_on_commit_callbacks(execute=True):
        job = wizard_import(client, content)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED
    assert job.failure == "Line 3 has 3 columns; the header has 5."
    assert nothing_written()
    html = client.get(reverse("leads:import_detail", args=[job.id])).content.decode()
    assert "Line 3 has 3 columns; the header has 5." in html


def test_the_report_shows_progress_and_the_rejections(
    client, alice, media, celery_eager, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        job = wizard_import(
            client, HEADER + "hana@example.jp,Hana,JP,5,Yes\r\nbroken,X,JP,1,no\r\n"
        )
    job.refresh_from_db()
    assert (job.total_rows, job.processed_rows, job.created_count, job.rejected_count) == (
        2,
        2,
        1,
        1,
    )
    assert job.created_by == alice and job.original_name == "leads.csv"
    html = client.get(reverse("leads:import_detail", args=[job.id])).content.decode()
    assert 'style="width: 100%"' in html
    assert "email: Enter a valid email address." in html
    assert "Done, 1 rejected" in html
    status = client.get(reverse("leads:import_status", args=[job.id])).json()
    assert status["finished"] and status["percent"] == 100 and status["rejected"] == 1


def test_a_draft_links_back_to_its_mapping(client, alice, media):
    client.force_login(alice)
    job = upload(client, HEADER)
    assert (
        reverse("leads:import_map", args=[job.id])
        in client.get(reverse("leads:import")).content.decode()
    )
    queued = ImportJob.objects.create(
        original_name="x.csv", mapping=MAPPING, status=ImportJob.Status.QUEUED
    )
    response = client.get(reverse("leads:import_map", args=[queued.id]))
    assert response.url == reverse("leads:import_detail", args=[queued.id])


def test_the_command_reads_shift_jis_when_told_or_left_to_detect(tmp_path):
    from django.core.management import call_command

    path = tmp_path / "fair.csv"
    path.write_bytes(JAPANESE.encode("cp932"))
    mapping = tmp_path / "m.json"
    mapping.write_text(
        '{"columns": [{"column": "メールアドレス", "to": "email"},'
        ' {"column": "姓", "to": "last_name"}]}',
        encoding="utf-8",
    )
    out = io.StringIO()
    call_command("import_leads", str(path), mapping=str(mapping), encoding="auto", stdout=out)
    assert Lead.objects.get(email="hanako@example.jp").last_name == "山田"
    call_command(
        "import_leads", str(path), mapping=str(mapping), encoding="cp932", stdout=io.StringIO()
    )
    assert Lead.objects.count() == 2


def test_abandoned_uploads_are_discarded_after_a_week(client, alice, media):
    import datetime as dt

    import time_machine
    from django.utils import timezone

    client.force_login(alice)
    with time_machine.travel(timezone.now() - dt.timedelta(days=8)):
        old = upload(client, HEADER)
    fresh = upload(client, HEADER)
    path = old.file.path
    assert importing.import_drafts_discard() == 1
    assert list(ImportJob.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert not Path(path).exists()
