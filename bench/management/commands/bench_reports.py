from django.core.management.base import BaseCommand, CommandError, CommandParser

from bench.common import BenchError
from bench.reports import bench_reports


class Command(BaseCommand):
    help = (
        "Time each chart's data at scale: seed N leads with about three stage events each "
        "(set-based on PostgreSQL) and a hand-off per MQL, build the reports' facts, and time "
        "every chart's selector with the dashboard's default filters (twelve months) and over "
        "two years, against the 300 ms target. Refuses a database that holds leads: give it "
        "one of its own, e.g. createdb handoff_bench_reports; DATABASE_URL=postgres://...:5432/"
        "handoff_bench_reports manage.py migrate; then the same DATABASE_URL for this command. "
        "Empties what it wrote at the end unless --keep."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--leads", type=int, default=1_000_000, help="Leads (1000000).")
        parser.add_argument("--seed", type=int, default=42, help="Random seed (42).")
        parser.add_argument("--runs", type=int, default=5, help="Timed runs per chart (5).")
        parser.add_argument("--keep", action="store_true", help="Leave the data in place.")
        parser.add_argument(
            "--reuse",
            action="store_true",
            help="Time the bench data a previous --keep run left, without seeding again.",
        )

    def handle(self, *args, **options):
        if options["leads"] < 1 or options["runs"] < 1:
            raise CommandError("--leads and --runs must be at least 1.")
        try:
            result = bench_reports(
                leads=options["leads"],
                seed=options["seed"],
                runs=options["runs"],
                keep=options["keep"] or options["reuse"],
                reuse=options["reuse"],
                out=self.stdout,
            )
        except BenchError as exc:
            raise CommandError(str(exc)) from exc
        if not result.within_target:
            raise CommandError(f"A chart took {result.slowest_ms:.0f} ms (target 300 ms).")
