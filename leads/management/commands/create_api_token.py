"""Give an integration (Mautic, a CRM, a script) its own API user and a fresh token.

    python manage.py create_api_token mautic

prints only the token key, so it can be piped into a secret store. Running it again for the
same name rotates the token: the old key stops working at once.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models, transaction
from rest_framework.authtoken.models import Token

from leads import roles


class Command(BaseCommand):
    help = (
        "Create (or reuse) an API user in the Integration role, give it a new token (any old "
        "one stops working) and print only the token key."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="User name of the integration, e.g. mautic.")
        parser.add_argument(
            "--role",
            choices=["integration", "reporting"],
            default="integration",
            help="integration (default): leads and activities; reporting: read-only access to "
            "the metrics API (/api/v1/metrics/) and nothing else.",
        )

    def handle(self, *args: Any, name: str, role: str = "integration", **options: Any) -> None:
        User = get_user_model()
        username_field = cast(models.Field, User._meta.get_field(User.USERNAME_FIELD))
        if not name.strip():
            raise CommandError("NAME must not be empty.")
        try:
            username_field.run_validators(name)
        except ValidationError as exc:
            raise CommandError(f"Bad NAME: {' '.join(exc.messages)}") from exc

        with transaction.atomic():
            user, created = User.objects.select_for_update().get_or_create(
                **{User.USERNAME_FIELD: name}, defaults={"is_active": True}
            )
            if created:
                # Integrations sign in with the token only, never with a password.
                user.set_unusable_password()
                user.save(update_fields=["password"])
            elif not user.is_active:
                # Someone deactivated this account on purpose; a token must not revive it.
                raise CommandError(
                    f"User {name!r} is inactive; reactivate it in the admin or pick another name."
                )
            else:
                self.stderr.write(f"Reusing the existing user {name!r}.")
            group = self._group(roles.REPORTING if role == "reporting" else roles.INTEGRATION)
            user.groups.add(group)
            Token.objects.filter(user=user).delete()
            token = Token.objects.create(user=user)
        self.stdout.write(token.key)

    def _group(self, name: str) -> Group:
        group = Group.objects.filter(name=name).first()
        if group is None:
            # Normally created by migrate; a database restored without it gets it now.
            roles.ensure_roles()
            group = Group.objects.get(name=name)
        return group
