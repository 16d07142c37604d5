from django.core.management.base import BaseCommand

from reports.services import reports_rebuild


class Command(BaseCommand):
    help = (
        "Recompute the reports' facts and new-lead counts from the lifecycle history. Needed "
        "after changing REPORTS_TIME_ZONE; otherwise the stage-change hooks keep them current. "
        "Readers keep seeing the old figures until it commits."
    )

    def handle(self, *args, **options):
        result = reports_rebuild(out=self.stdout)
        self.stdout.write(
            self.style.SUCCESS(f"{result['facts']:,} MQL facts, {result['leads']:,} leads counted.")
        )
