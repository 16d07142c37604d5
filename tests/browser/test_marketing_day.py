"""A marketing manager's day, as the demo's `marketing` user: the lead list sorted, filtered
and exported; a Shift-JIS file imported through the wizard with a saved mapping and its
rejected rows downloaded; a rejected lead recycled to nurture."""

import csv
import io
from pathlib import Path

import pytest

from demo.seed import DEMO_PASSWORD, demo_users_ensure
from leads.models import Stage
from leads.services import lead_transition
from sla import services as sla_services

from ..factories import CompanyFactory, LeadFactory
from .conftest import login

pytestmark = pytest.mark.browser

FAIR = (
    "メールアドレス,会社名,姓,名,従業員数,業種,ニュースレター,流入元\r\n"
    "hanako@example.jp,株式会社サンプル,山田,花子,120,製造業,はい,展示会\r\n"
    "taro@example.jp,㈱テスト,佐藤,太郎,未選択,ソフトウェア,いいえ,展示会\r\n"
)


def _csv(path: str) -> list[list[str]]:
    raw = Path(path).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "Excel needs the BOM to read UTF-8"
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def test_marketing_sorts_filters_and_exports_the_lead_list(page, live_server, console_errors):
    users = demo_users_ensure()
    acme = CompanyFactory(name="Acme Robotics", industry="Manufacturing")
    LeadFactory(
        first_name="Hiroki",
        last_name="Aoki",
        company=acme,
        source="Webinar",
        total_score=42,
        owner=users["rep1"],
    )
    LeadFactory(first_name="Hana", last_name="Sato", source="webinar", total_score=88)
    LeadFactory(first_name="Ken", last_name="Ito", source="paid_search", total_score=95)
    login(page, live_server, "marketing", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/leads/")
    assert "3 leads" in page.inner_text("#lead-count")

    # Sort by name, A to Z, by clicking the heading.
    with page.expect_navigation():
        page.click("#lead-table th a[data-sort=name]")
    assert "ordering=name" in page.url
    names = page.locator("#lead-table tbody tr td:nth-child(2) a").all_inner_texts()
    assert names == ["Hiroki Aoki", "Ken Ito", "Hana Sato"]

    # Source is chosen from the values present, whatever their case; a full name finds.
    options = page.locator("#id_source option").all_inner_texts()
    assert options[1:] == ["Paid search", "Webinar"]
    page.select_option("#id_source", label="Webinar")
    with page.expect_navigation():
        page.click("#lead-filters button[type=submit]")
    assert page.locator("#lead-table tbody tr").count() == 2
    page.fill("#id_q", "Hiroki Aoki")
    with page.expect_navigation():
        page.click("#lead-filters button[type=submit]")
    assert "q=Hiroki+Aoki" in page.url and "ordering=name" in page.url
    assert page.locator("#lead-table tbody tr").count() == 1

    with page.expect_download() as download:
        page.click("#export-csv")
    rows = _csv(download.value.path())
    assert rows[0][:4] == ["ID", "E-mail", "First name", "Last name"]
    assert [(r[2], r[3], r[4], r[10]) for r in rows[1:]] == [
        ("Hiroki", "Aoki", "Acme Robotics", "Webinar")
    ]
    assert console_errors == []


def test_marketing_imports_a_shift_jis_file_with_a_saved_mapping_and_gets_the_rejected_rows(
    page, live_server, console_errors, celery_eager, tmp_path, settings
):
    settings.MEDIA_ROOT = tmp_path / "media"
    demo_users_ensure()
    first = tmp_path / "fair-april.csv"
    first.write_bytes(FAIR.encode("cp932"))
    login(page, live_server, "marketing", DEMO_PASSWORD)

    # The first file: detected as Shift-JIS, columns suggested, one made a custom yes/no,
    # 未選択 means empty, and the mapping is saved.
    page.goto(f"{live_server.url}/leads/import/")
    page.set_input_files("#id_file", str(first))
    with page.expect_navigation():
        page.click("#upload-form button[type=submit]")
    assert "Shift-JIS" in page.inner_text("#detected-encoding")
    assert "株式会社サンプル" in page.inner_text("#preview")
    assert page.input_value("#id_to_0") == "email"
    assert page.input_value("#id_to_1") == "company_name"
    page.select_option("#id_to_6", "custom")
    page.fill("input[name=key_6]", "newsletter")
    page.select_option("select[name=type_6]", "bool")
    page.fill("#id_placeholders", "未選択")
    page.fill("#id_save_as", "展示会リスト")
    with page.expect_navigation():
        page.click("#start-import")
    page.wait_for_selector("#import-status >> text=Done")
    assert page.inner_text("[data-field=created]") == "2"

    # The next month's file, with a bad address: the saved mapping fills every column.
    second = tmp_path / "fair-may.csv"
    second.write_bytes(
        (FAIR + "not-an-address,㈱テスト,鈴木,一郎,30,ソフトウェア,はい,展示会\r\n").encode("cp932")
    )
    page.goto(f"{live_server.url}/leads/import/")
    page.set_input_files("#id_file", str(second))
    page.select_option("#id_saved", "展示会リスト")
    with page.expect_navigation():
        page.click("#upload-form button[type=submit]")
    assert page.input_value("#id_to_6") == "custom"
    assert page.input_value("input[name=key_6]") == "newsletter"
    assert page.input_value("#id_placeholders") == "未選択"
    with page.expect_navigation():
        page.click("#start-import")
    page.wait_for_selector("#import-status >> text=Done, 1 rejected")

    with page.expect_download() as download:
        page.click("#download-rejected")
    rows = _csv(download.value.path())
    assert rows[0][:3] == ["Import line", "Import column", "Import reason"]
    assert rows[1][:3] == ["4", "メールアドレス", "email: Enter a valid email address."]
    assert rows[1][3:] == [
        "not-an-address",
        "㈱テスト",
        "鈴木",
        "一郎",
        "30",
        "ソフトウェア",
        "はい",
        "展示会",
    ]
    assert console_errors == []


def test_marketing_recycles_a_rejected_lead_with_a_note(page, live_server, console_errors, sla):
    users = demo_users_ensure()
    lead = LeadFactory(first_name="Yuki", last_name="Mori", owner=users["rep1"])
    lead_transition(lead=lead, to_stage=Stage.MQL)
    sla_services.lead_reject(lead=lead, user=users["rep1"], reason="no_budget", note="Next FY")
    login(page, live_server, "marketing", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/sla/rejections/?status=open")
    row = page.locator("#rejections tbody tr", has_text="Yuki Mori")
    row.locator("details.act summary").click()
    row.locator(".recycle-form input[name=note]").fill("Budget opens in April; nurture")
    with page.expect_navigation():
        row.locator(".recycle-form button[type=submit]").click()
    assert "Yuki Mori went back to marketing for nurturing." in page.inner_text(".messages")
    assert page.locator("#rejections tbody tr", has_text="Yuki Mori").count() == 0  # not open
    page.goto(f"{live_server.url}/sla/rejections/?status=recycled")
    assert "Yuki Mori" in page.inner_text("#rejections")
    lead.refresh_from_db()
    assert lead.stage == Stage.RECYCLED
    assert console_errors == []
