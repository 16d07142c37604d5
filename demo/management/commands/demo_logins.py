from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from demo.seed import DEMO_PASSWORD, DEMO_USERS


class Command(BaseCommand):
    help = "Print the demo URL, usernames, roles and password."

    def handle(self, *args, **options):
        present = set(
            get_user_model()
            .objects.filter(username__in=[u.username for u in DEMO_USERS])
            .values_list("username", flat=True)
        )
        rows = [("Username", "Role", "Name", "Password")] + [
            (u.username, u.role, u.full_name, DEMO_PASSWORD if u.username in present else "-")
            for u in DEMO_USERS
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        self.stdout.write(f"\nHandoff demo logins: {settings.SITE_URL}\n")
        for n, row in enumerate(rows):
            self.stdout.write(
                "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            )
            if n == 0:
                self.stdout.write("  " + "  ".join("-" * w for w in widths))
        if len(present) < len(DEMO_USERS):
            self.stdout.write(
                "\nSome demo users are missing: run `manage.py seed_demo --if-empty`."
            )
        self.stdout.write("")
