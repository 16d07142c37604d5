from django.core.management.base import BaseCommand

from reports.models import ReportState
from reports.selectors import report_time_zone
from reports.services import reports_rebuild


class Command(BaseCommand):
    help = (
        "Recompute the reports' facts and new-lead counts from the lifecycle history. Needed "
        "after changing REPORTS_TIME_ZONE; otherwise the stage-change hooks keep them current. "
        "Readers keep seeing the old figures until it commits."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-zone-changed",
            action="store_true",
            help="Only when the figures were last rebuilt in another zone than "
            "REPORTS_TIME_ZONE, or never (what `make run` does at start).",
        )

    def handle(self, *args, **options):
        zone = report_time_zone().key
        if options["if_zone_changed"]:
            built = ReportState.objects.order_by("pk").values_list("time_zone", flat=True).first()
            if built == zone:
                self.stdout.write(f"Reports already count months in {zone}.")
                return
        self.stdout.write(f"Counting months and weeks in {zone}.")
        result = reports_rebuild(out=self.stdout)
        self.stdout.write(
            self.style.SUCCESS(f"{result['facts']:,} MQL facts, {result['leads']:,} leads counted.")
        )
