import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    # As production runs: without the browser tests' async-unsafe switch.
    base = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_variables(tmp_path):
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY="x" * 20 + "a-long-random-production-secret-value-0123456789",
        ALLOWED_HOSTS="handoff.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
        HANDOFF_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


EMBEDDED_PROBE = """
import django, os
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
django.setup()
from django.conf import settings as s
from config.celery import app
db = s.DATABASES["default"]
options = app.conf.broker_transport_options
print(db["ENGINE"], db["OPTIONS"]["transaction_mode"], app.conf.broker_url)
print(options["polling_interval"], options["data_folder_in"] == options["data_folder_out"])
"""


def test_the_embedded_defaults_need_no_server(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    result = subprocess.run(
        [sys.executable, "-c", EMBEDDED_PROBE],
        cwd=ROOT,
        env={**env, "HANDOFF_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "IMMEDIATE",
        "filesystem://",
        "0.1",
        "True",
    ], result.stderr
    assert (tmp_path / "broker").is_dir()
