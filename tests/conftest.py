"""Shared personas: a marketing manager, a sales rep, a sales manager, an outsider."""

import datetime as dt
import os
from pathlib import Path

import pytest
from django.contrib.auth.models import Group

from leads import roles
from sla.models import SlaVersion
from sla.services import sla_live

from .factories import ProfileFactory, TeamFactory, UserFactory

REALDATA = Path(__file__).resolve().parent.parent.parent / "shared" / "realdata"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Personas log in with passwords; the production hasher is slow by design.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _english_unless_a_test_says_otherwise():
    # A request as a Japanese user leaves Japanese active in the thread; with tests spread over
    # processes in any order, each starts in the default language.
    from django.utils import translation

    translation.activate("en")
    yield
    translation.deactivate()


# The history tests record is dated months before the test database was made; the default
# SLA (version 1) takes effect at migration, which would leave all of it before any SLA.
# Tests about history from before the first SLA set effective_from themselves.
SLA_IN_FORCE_SINCE = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        SlaVersion.objects.update(effective_from=SLA_IN_FORCE_SINCE)


def tokyo_sla(**terms) -> SlaVersion:
    """The live SLA (version 1) as most tests want it: Tokyo, Mon–Fri 09:00–18:00, Japanese
    holidays; 4 h to accept, 30 min first contact when hot (score 80+), else 8 h; 10 business
    days to qualify; escalation after 60 min. `terms` change any of it."""
    version = sla_live()
    SlaVersion.objects.filter(pk=version.pk).update(
        **{
            "time_zone": "Asia/Tokyo",
            "holiday_country": "JP",
            "working_days": [0, 1, 2, 3, 4],
            "day_start": dt.time(9),
            "day_end": dt.time(18),
            "accept_within_hours": 4,
            "first_contact_hot_minutes": 30,
            "first_contact_hours": 8,
            "qualify_within_days": 10,
            "hot_score": 80,
            "escalation_grace_minutes": 60,
            "effective_from": SLA_IN_FORCE_SINCE,
            **terms,
        }
    )
    version.refresh_from_db()
    return version


@pytest.fixture
def sla(db):
    """The Tokyo SLA of `tokyo_sla`."""
    return tokyo_sla()


def realdata_path(name: str) -> Path:
    """A file of ../shared/realdata; skips where it is absent, fails in CI (REQUIRE_REALDATA)."""
    path = REALDATA / name
    if not path.exists():
        if os.environ.get("REQUIRE_REALDATA") == "1":
            pytest.fail(f"REQUIRE_REALDATA=1 but {path} is missing")
        pytest.skip(f"real data {path} is not here (it lives in ../shared beside the repo)")
    return path


def _person(username: str, role: str | None, team=None, **extra):
    user = UserFactory.create(username=username, **extra)
    ProfileFactory(user=user, team=team)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def team(db):
    return TeamFactory(name="Inside sales")


@pytest.fixture
def other_team(db):
    return TeamFactory(name="Enterprise")


@pytest.fixture
def alice(db):
    """Marketing manager."""
    return _person("alice", roles.MARKETING_MANAGER, first_name="Alice", last_name="Marketing")


@pytest.fixture
def bob(team):
    """Sales rep in the inside-sales team."""
    return _person("bob", roles.SALES_REP, team=team, first_name="Bob", last_name="Rep")


@pytest.fixture
def dave(team):
    """Another sales rep in the same team."""
    return _person("dave", roles.SALES_REP, team=team, first_name="Dave", last_name="Rep")


@pytest.fixture
def carol(team):
    """Sales manager of the inside-sales team."""
    return _person("carol", roles.SALES_MANAGER, team=team, first_name="Carol", last_name="Boss")


@pytest.fixture
def erin(other_team):
    """Sales rep in another team."""
    return _person("erin", roles.SALES_REP, team=other_team, first_name="Erin", last_name="Far")


@pytest.fixture
def mallory(db):
    """An outsider: a user with no role."""
    return _person("mallory", None)


@pytest.fixture
def celery_eager():
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = previous


@pytest.fixture
def celery_worker_process(transactional_db):
    """A real Celery worker process on the test database and the configured broker.

    Runs in .ci/run on PostgreSQL + Redis; an in-memory SQLite test database cannot be
    shared with another process.
    """
    import subprocess
    import sys
    import time
    import uuid

    from django.conf import settings
    from django.db import connection

    from config.celery import app

    if connection.vendor != "postgresql" or settings.CELERY_BROKER_URL.startswith("filesystem"):
        pytest.skip("needs PostgreSQL and a networked broker (run by .ci/run)")
    db = connection.settings_dict
    env = dict(os.environ)
    env["DATABASE_URL"] = (
        f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    name = f"test-{uuid.uuid4().hex[:8]}@%h"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "-Q",
            ",".join(settings.WORKER_QUEUES),
            "--loglevel=WARNING",
            "-n",
            name,
            "--without-gossip",
            "--without-mingle",
        ],
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if app.control.ping(timeout=0.5):
            break
        if proc.poll() is not None:
            pytest.fail("the Celery worker exited at start")
    else:
        proc.terminate()
        pytest.fail("the Celery worker did not answer a ping within 60 s")
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def wait_until(predicate, timeout: float = 30.0):
    """Polls a real worker's outcome (never used to pass time in the code under test)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.1)
    return predicate()
