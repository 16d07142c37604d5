from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo.seed import demo_seed, demo_users_ensure
from leads.models import Lead


class Command(BaseCommand):
    help = "Create the demo users and a deterministic history of demo leads, activities and stages."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--leads", type=int, default=400, help="How many leads (400).")
        parser.add_argument("--months", type=int, default=6, help="Months of history (6).")
        parser.add_argument("--seed", type=int, default=42, help="Random seed (42).")
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Only ensure the demo users when the database already holds leads.",
        )

    def handle(self, *args, leads: int, months: int, seed: int, if_empty: bool, **options):
        if leads < 1 or months < 1:
            raise CommandError("--leads and --months must be at least 1.")
        existing = Lead.objects.count()
        if existing:
            if if_empty:
                demo_users_ensure()
                self.stdout.write(
                    f"The database already holds {existing} leads: demo data not added "
                    "(demo users are in place)."
                )
                return
            # Demo e-mails would collide with what is there, and mixing is never wanted.
            raise CommandError(
                f"The database already holds {existing} leads; seed_demo fills an empty one "
                "(start over with `make clean`)."
            )
        demo_seed(leads=leads, months=months, seed=seed, stdout=self.stdout)
