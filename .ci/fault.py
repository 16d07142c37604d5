"""Fault test on PostgreSQL + a Redis of its own, with gunicorn, real workers and beat.

1. Broker outage: activities are posted while Redis is stopped for 10 s and started again
   (empty: whatever it held is gone). No request may answer 5xx; every activity must be
   scored, every lead made an MQL and handed over, every notice sent within a minute of the
   broker's return.
2. Dead worker: the only live worker is killed (SIGKILL) in the middle of a batch of
   hand-offs; another worker started in its place must finish them within minutes.

Prints the figures; exits non-zero if a promise is broken. Run by .ci/run; by hand:
    .venv/bin/python .ci/fault.py   (FAULT_DB, FAULT_REDIS_PORT, FAULT_WEB_PORT to override)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
DB = os.environ.get("FAULT_DB", "handoff_fault")
REDIS_PORT = int(os.environ.get("FAULT_REDIS_PORT", "6391"))
WEB_PORT = int(os.environ.get("FAULT_WEB_PORT", "8196"))
LEADS_OUTAGE = int(os.environ.get("FAULT_LEADS", "100"))
LEADS_KILL = int(os.environ.get("FAULT_LEADS_KILL", "200"))
OUTAGE_SECONDS = 10
RECOVERY_LIMIT = 60.0
TAKEOVER_LIMIT = 180.0

ENV = {
    **{k: v for k, v in os.environ.items() if k not in ("DJANGO_ALLOW_ASYNC_UNSAFE",)},
    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB}",
    "CELERY_BROKER_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
    "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    "HANDOFF_VAR_DIR": f"/tmp/handoff-fault-{os.getpid()}",
    "CELERY_TASK_ALWAYS_EAGER": "0",
}
os.environ.update(ENV)
Path(ENV["HANDOFF_VAR_DIR"]).mkdir(parents=True, exist_ok=True)
processes: dict[str, subprocess.Popen] = {}


def start(name: str, *args: str) -> subprocess.Popen:
    log = open(Path(ENV["HANDOFF_VAR_DIR"]) / f"{name}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(args, cwd=ROOT, env=ENV, stdout=log, stderr=subprocess.STDOUT)
    processes[name] = proc
    return proc


def stop(name: str, sig: int = signal.SIGTERM) -> None:
    proc = processes.pop(name, None)
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def redis_start() -> None:
    start(
        "redis",
        "redis-server",
        "--port",
        str(REDIS_PORT),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    )
    wait_for(lambda: _redis_ping(), 20, "redis did not start")


def _redis_ping() -> bool:
    result = subprocess.run(
        ["redis-cli", "-p", str(REDIS_PORT), "ping"], capture_output=True, text=True
    )
    return result.stdout.strip() == "PONG"


def worker(name: str, queues: str) -> None:
    start(
        name,
        str(BIN / "celery"),
        "-A",
        "config",
        "worker",
        "-Q",
        queues,
        "-n",
        f"{name}@fault",
        "--concurrency=2",
        "--loglevel=WARNING",
        "--without-gossip",
        "--without-mingle",
    )


def wait_for(predicate, seconds: float, message: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.25)
    raise SystemExit(f"FAIL: {message} (after {seconds:.0f} s)")


def manage(*args: str) -> str:
    return subprocess.run(
        [str(BIN / "python"), "manage.py", *args],
        cwd=ROOT,
        env=ENV,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def api(token: str, path: str, body: object) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{WEB_PORT}/api/v1/{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 599  # no answer at all counts as a failure


def setup() -> str:
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c", f"DROP DATABASE IF EXISTS {DB}"],
        check=True,
    )
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c", f"CREATE DATABASE {DB}"],
        check=True,
    )
    manage("migrate", "-v0")
    import django

    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    sys.path.insert(0, str(ROOT))
    django.setup()
    import datetime as dt

    from demo.seed import _demo_sla, demo_users_ensure
    from scoring.models import Rule, RuleSetVersion

    users = demo_users_ensure()
    # The demo's SLA, in force from before any MQL the run makes.
    _demo_sla(dt.datetime(2026, 1, 1, tzinfo=dt.UTC), users["salesmgr"])
    version = RuleSetVersion.objects.create(
        number=1,
        status=RuleSetVersion.Status.PUBLISHED,
        mql_threshold=100,
        published_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )
    Rule.objects.create(
        version=version, kind="fast_track", name="Demo", activity_kind="demo_request"
    )
    return manage("create_api_token", "fault").strip()


def progress(emails: list[str]) -> dict[str, int]:
    from django.db.models import Count

    from leads.models import Lead, Stage, StageEvent
    from notifications.models import Notification
    from sla.models import Handoff

    leads = Lead.objects.filter(email__in=emails)
    return {
        "activities": leads.aggregate(n=Count("activities"))["n"],
        "mqls": StageEvent.objects.filter(lead__in=leads, to_stage=Stage.MQL).count(),
        "handoffs": Handoff.objects.filter(lead__in=leads).count(),
        "notices": Notification.objects.filter(lead__in=leads, user__isnull=False).count(),
        "sent": Notification.objects.filter(
            lead__in=leads, user__isnull=False, delivered_at__isnull=False
        ).count(),
        "stale": leads.filter(score_stale_since__isnull=False).count(),
    }


def create_leads(token: str, prefix: str, n: int) -> list[str]:
    emails = [f"{prefix}{i}@fault.example" for i in range(n)]
    for start_at in range(0, n, 500):
        chunk = emails[start_at : start_at + 500]
        status = api(token, "leads/batch/", {"leads": [{"email": e} for e in chunk]})
        assert status == 200, f"lead batch answered {status}"
    return emails


def demo_request(email: str, n: int = 0) -> dict:
    return {
        "email": email,
        "kind": "demo_request",
        "occurred_at": "2026-11-20T10:00:00Z",
        "source_system": "fault",
        "external_id": f"{email}-{n}",
    }


def broker_outage(token: str) -> bool:
    emails = create_leads(token, "outage", LEADS_OUTAGE)
    statuses: list[int] = []
    returned_at: list[float] = []

    def post(email: str) -> int:
        return api(token, "activities/", demo_request(email))

    def outage() -> None:
        time.sleep(1.0)
        stop("redis")
        time.sleep(OUTAGE_SECONDS)
        redis_start()
        returned_at.append(time.monotonic())

    with ThreadPoolExecutor(max_workers=9) as pool:
        broker = pool.submit(outage)
        # Spread over the outage: about 20 s of posting at a steady pace.
        futures = []
        for email in emails:
            futures.append(pool.submit(post, email))
            time.sleep(20.0 / len(emails))
        statuses = [f.result() for f in futures]
        broker.result()
    counts = {code: statuses.count(code) for code in sorted(set(statuses))}
    failures = sum(n for code, n in counts.items() if code >= 500)
    n = len(emails)

    def done() -> bool:
        p = progress(emails)
        return p["mqls"] == p["handoffs"] == p["sent"] == p["notices"] == n and not p["stale"]

    ok = True
    try:
        wait_for(done, RECOVERY_LIMIT + 30, "not all work done after the broker came back")
        recovered = time.monotonic() - returned_at[0]
    except SystemExit as exc:
        print(exc)
        recovered, ok = float("inf"), False
    p = progress(emails)
    print(
        f"broker outage: {n} activity POSTs, answers {counts}, 5xx {failures}; "
        f"scored {p['activities']}, MQLs {p['mqls']}, hand-offs {p['handoffs']}, "
        f"notices sent {p['sent']}/{p['notices']}; all done {recovered:.1f} s after Redis "
        f"came back (limit {RECOVERY_LIMIT:.0f} s)"
    )
    return ok and failures == 0 and recovered <= RECOVERY_LIMIT


def dead_worker(token: str) -> bool:
    emails = create_leads(token, "kill", LEADS_KILL)
    stop("live-a")
    stop("live-b")
    worker("live-a", "live")
    time.sleep(3)  # let it connect
    status = api(token, "activities/batch/", {"activities": [demo_request(e, 1) for e in emails]})
    assert status == 200, f"activity batch answered {status}"
    n = len(emails)
    # Kill it mid-way through the hand-offs.
    wait_for(lambda: progress(emails)["mqls"] > 0, 60, "the worker never started")
    before = progress(emails)
    stop("live-a", signal.SIGKILL)
    killed_at = time.monotonic()
    print(f"dead worker: killed with {before['mqls']}/{n} leads handed over")
    worker("live-c", "live")

    def done() -> bool:
        p = progress(emails)
        return p["mqls"] == p["handoffs"] == p["sent"] == n and not p["stale"]

    ok = True
    try:
        wait_for(done, TAKEOVER_LIMIT, "the killed worker's hand-offs were not finished")
    except SystemExit as exc:
        print(exc)
        ok = False
    taken = time.monotonic() - killed_at
    p = progress(emails)
    print(
        f"dead worker: MQLs {p['mqls']}/{n}, hand-offs {p['handoffs']}, notices sent "
        f"{p['sent']}; finished by another worker {taken:.1f} s after the kill "
        f"(limit {TAKEOVER_LIMIT:.0f} s)"
    )
    return ok and p["mqls"] == n and taken <= TAKEOVER_LIMIT


def main() -> int:
    outage_ok = kill_ok = False
    try:
        token = setup()
        redis_start()
        start(
            "web",
            str(BIN / "gunicorn"),
            "config.wsgi",
            "--workers",
            "3",
            "--bind",
            f"127.0.0.1:{WEB_PORT}",
            "--timeout",
            "30",
        )
        worker("live-a", "live")
        worker("live-b", "live")
        worker("bulk", "bulk,sweeps")
        start(
            "beat",
            str(BIN / "celery"),
            "-A",
            "config",
            "beat",
            "--loglevel=WARNING",
            "--scheduler",
            "django_celery_beat.schedulers:DatabaseScheduler",
        )
        wait_for(
            lambda: api(token, "leads/", {"email": "probe@fault.example"}) in (200, 201),
            60,
            "gunicorn did not answer",
        )
        outage_ok = broker_outage(token)
        kill_ok = dead_worker(token)
    finally:
        for name in list(processes):
            stop(name)
    print("fault test:", "PASS" if outage_ok and kill_ok else "FAIL")
    return 0 if outage_ok and kill_ok else 1


if __name__ == "__main__":
    sys.exit(main())
