import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bench.common import BenchError, bench_database_prepare
from bench.scoring import bench_run


class Command(BaseCommand):
    help = (
        "Benchmark rescoring on the configured database: seed N synthetic leads with skewed "
        "activities and a 30-rule published rule set, run full rescores through the service "
        "(timed, with rows changed, new MQLs and memory), time single-lead rescores, and print "
        "the figures against the targets. It refuses a database that holds leads, companies or "
        "rule sets, and empties what it wrote at the end (unless --keep). `make bench` runs it "
        "in a database of its own: `bench --prepare-database URL` drops and recreates that "
        "PostgreSQL database (its name must end in _bench) or, if the server is not reachable, "
        "answers a fresh SQLite file; make then migrates it and runs the bench there."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--leads", type=int, default=100_000, help="Leads to seed (100000).")
        parser.add_argument(
            "--activities-per-lead",
            type=float,
            default=10,
            help="Average activities per lead (10); most leads have 0-5, a tail has hundreds.",
        )
        parser.add_argument("--rules", type=int, default=30, help="Rules in the rule set (30).")
        parser.add_argument(
            "--samples", type=int, default=200, help="Single-lead rescores to time (200)."
        )
        parser.add_argument("--seed", type=int, default=42, help="Random seed (42).")
        parser.add_argument(
            "--keep", action="store_true", help="Leave the bench data in the database."
        )
        parser.add_argument(
            "--explain",
            action="store_true",
            help="Print EXPLAIN (ANALYZE, BUFFERS) of one chunk's statement (PostgreSQL).",
        )
        parser.add_argument(
            "--prepare-database",
            metavar="URL",
            help="Recreate this *_bench PostgreSQL database (or a SQLite file when the server "
            "is unreachable), print the DATABASE_URL to bench on, and exit.",
        )

    def handle(self, *args, **options):
        try:
            if options["prepare_database"]:
                sys.stdout.write(bench_database_prepare(options["prepare_database"]) + "\n")
                return
            if options["leads"] < 1 or options["rules"] < 1 or options["samples"] < 1:
                raise CommandError("--leads, --rules and --samples must be at least 1.")
            bench_run(
                leads=options["leads"],
                activities_per_lead=options["activities_per_lead"],
                rules=options["rules"],
                samples=options["samples"],
                seed=options["seed"],
                keep=options["keep"],
                explain=options["explain"],
                out=self.stdout,
            )
        except BenchError as exc:
            raise CommandError(str(exc)) from exc
