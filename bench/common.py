"""What the two benchmarks share: their database, their error, the pseudo-random SQL their
PostgreSQL seeds are written in, timing and progress output.

`make bench` prepares one database for both (`bench_database_prepare`), then runs
`manage.py bench` (bench.scoring) and `manage.py bench_reports` (bench.reports) in it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from django.conf import settings
from django.db import connection

# (value, weight): the industries of the synthetic companies both benches seed.
INDUSTRIES = [
    ("Software", 25),
    ("Financial Services", 12),
    ("Manufacturing", 15),
    ("Retail", 12),
    ("Healthcare", 10),
    ("Education", 8),
    ("Public Sector", 5),
    ("", 13),
]


class BenchError(Exception):
    """The bench cannot run here; the commands report it as a CommandError."""


# --------------------------------------------------------------------------------------------
# The benches' own database


def bench_database_prepare(url: str) -> str:
    """Recreate the dedicated bench database and return the DATABASE_URL to use.

    PostgreSQL: the database in `url` (its name must end in _bench, since it is dropped) is
    dropped and created empty. When that server cannot be reached: a fresh SQLite file in
    var/. The caller then runs `migrate` and the benches with DATABASE_URL set to the answer."""
    import environ
    import psycopg
    from psycopg import sql

    config = environ.Env.db_url_config(url)
    if "postgresql" not in config["ENGINE"]:
        raise BenchError("The bench database URL must be a postgres:// URL.")
    name = config["NAME"]
    if not name.endswith("_bench"):
        raise BenchError(f"Refusing to drop {name!r}: the bench database's name ends in _bench.")
    try:
        admin = psycopg.connect(
            host=config.get("HOST") or None,
            port=config.get("PORT") or None,
            user=config.get("USER") or None,
            password=config.get("PASSWORD") or None,
            dbname="postgres",
            autocommit=True,
            connect_timeout=3,
        )
    except psycopg.OperationalError:
        path = Path(settings.VAR_DIR) / "bench.sqlite3"
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
        return f"sqlite:///{path}"
    with admin:
        ident = sql.Identifier(name)
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(ident))
    return url


def tables_analyze(tables: Sequence[str]) -> None:
    """After a bulk load: fresh planner statistics for `tables` (PostgreSQL)."""
    with connection.cursor() as cursor:
        for table in tables:
            # VACUUM sets the visibility map, without which a covering index is not
            # index-only; it cannot run inside a transaction (tests run in one).
            verb = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
            cursor.execute(f"{verb} {table}")


# --------------------------------------------------------------------------------------------
# Pseudo-random values in SQL: one INSERT ... SELECT generate_series per table, each value
# keyed by the row's ordinal, so a seed gives the same rows whatever the plan.


def cumulative(table: Sequence[tuple[Any, float]]) -> list[float]:
    """The running shares of a (value, weight) table, the last one 1.0."""
    total = float(sum(w for _v, w in table))
    running, cum = 0.0, []
    for _v, w in table:
        running += w
        cum.append(running / total)
    return cum


def sql_quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class PgGen:
    """SQL expressions for pseudo-random values keyed by an ordinal and a salt."""

    MASK = (1 << 48) - 1

    def __init__(self, seed: int):
        self.seed = seed

    def u(self, key: str, salt: int) -> str:
        """A uniform float in [0, 1)."""
        return (
            f"((hashint8extended(({key})::int8, {self.seed * 1000 + salt}) & {self.MASK})"
            f"::float8 / {float(1 << 48)})"
        )

    def index(self, table: Sequence[tuple[Any, float]], key: str, salt: int) -> str:
        """1-based index into `table`, drawn by weight."""
        bounds = ", ".join(repr(c) for c in cumulative(table)[:-1])
        return f"(width_bucket({self.u(key, salt)}, ARRAY[{bounds}]::float8[]) + 1)"

    def pick(self, table: Sequence[tuple[str, float]], key: str, salt: int) -> str:
        """A value of `table`, drawn by weight."""
        values = ", ".join(sql_quote(v) for v, _w in table)
        return f"((ARRAY[{values}]::text[])[{self.index(table, key, salt)}])"


# --------------------------------------------------------------------------------------------
# Timing and output


def elapsed_ms(function: Callable[[], object]) -> float:
    """Wall-clock milliseconds of one call."""
    started = time.perf_counter()
    function()
    return (time.perf_counter() - started) * 1000


def timings_ms(function: Callable[[], object], runs: int, *, warm_up: bool) -> list[float]:
    """Milliseconds of `runs` calls; with `warm_up`, after one untimed call."""
    if warm_up:
        function()
    return [elapsed_ms(function) for _ in range(runs)]


def say(out: TextIO | None, text: str) -> None:
    if out is None:
        return
    out.write(text)
    # Progress shows while a long step runs, also when the output goes to a file.
    flush = getattr(out, "flush", None)
    if flush:
        flush()
