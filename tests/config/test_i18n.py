"""The Japanese translation is complete, compiled, and what a Japanese user actually sees."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parent.parent.parent
PO = ROOT / "locale" / "ja" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")  # kana or kanji


def _gettext_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} (GNU gettext) is not installed")
    return path


def _msgattrib(*flags: str) -> str:
    result = subprocess.run(
        [_gettext_tool("msgattrib"), *flags, str(PO)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_japanese_catalogue_has_no_untranslated_entries():
    untranslated = _msgattrib("--untranslated")
    assert untranslated == "", f"untranslated entries in {PO}:\n{untranslated}"


def test_the_japanese_catalogue_has_no_fuzzy_entries():
    fuzzy = _msgattrib("--only-fuzzy")
    assert fuzzy == "", f"fuzzy entries in {PO} (check and clear the flag):\n{fuzzy}"


def test_the_japanese_catalogue_declares_its_language_and_plural_forms():
    header = PO.read_text(encoding="utf-8").split("\n\n", 1)[0]
    assert '"Language: ja\\n"' in header
    assert "charset=UTF-8" in header
    assert '"Plural-Forms: nplurals=1; plural=0;\\n"' in header


def test_the_compiled_catalogue_is_up_to_date_with_the_po(tmp_path):
    """django.mo is what `compilemessages` makes of django.po now (and the formats check)."""
    fresh = tmp_path / "django.mo"
    result = subprocess.run(
        [_gettext_tool("msgfmt"), "--check-format", "-o", str(fresh), str(PO)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert MO.exists(), "run: manage.py compilemessages -l ja"
    assert MO.read_bytes() == fresh.read_bytes(), (
        "django.mo is stale: run manage.py compilemessages -l ja"
    )


@pytest.mark.parametrize("url_name", ["leads:list", "scoring:overview"])
def test_a_user_who_chose_japanese_sees_the_pages_in_japanese(client, alice, url_name):
    alice.profile.language = "ja"
    alice.profile.save()
    client.force_login(alice)

    response = client.get(reverse(url_name))

    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="ja">' in html
    assert "リード" in html  # the navigation, whatever the page
    assert ">Leads<" not in html
    assert "Log out" not in html and "ログアウト" in html


def test_a_japanese_rep_is_told_of_a_new_mql_in_japanese(bob):
    from leads.services import lead_transition
    from notifications.models import Notification
    from sla.services import sla_live
    from tests.factories import LeadFactory

    sla_live()
    bob.profile.language = "ja"
    bob.profile.save()
    lead = LeadFactory(owner=bob, first_name="Hana", last_name="Sato")

    lead_transition(lead=lead, to_stage="mql")

    note = Notification.objects.get(kind="assigned", user=bob)
    assert "MQL" in note.subject and "Hana Sato" in note.subject
    assert JAPANESE.search(note.subject), note.subject
    assert "New MQL for you" not in note.subject
    assert JAPANESE.search(note.body) and "Accept or reject by" not in note.body


def test_every_string_in_the_code_is_in_the_catalogue(tmp_path):
    """`make messages` would add nothing untranslated: no new string was left out."""
    from django.core.management import call_command

    _gettext_tool("xgettext")
    # makemessages always writes the project's own locale/ (it finds it under the cwd, whatever
    # LOCALE_PATHS says): run it there, keep what it made, and put the catalogue back as it was.
    copy = tmp_path / "django.po"
    original = PO.read_bytes()
    try:
        call_command(
            "makemessages",
            locale=["ja"],
            no_location=True,
            no_obsolete=True,
            ignore_patterns=[".venv", "staticfiles", "var", "tests"],
            verbosity=0,
        )
        shutil.copy(PO, copy)
    finally:
        PO.write_bytes(original)
    result = subprocess.run(
        [_gettext_tool("msgattrib"), "--untranslated", "--no-obsolete", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout == "", f"strings missing from {PO} (run make messages):\n{result.stdout}"
