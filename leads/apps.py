from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _ensure_roles(sender, using="default", **kwargs) -> None:
    # Permissions of every app must exist before groups can hold them; Django would
    # create them later in the same post_migrate pass, so create them first.
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.contenttypes.management import create_contenttypes

    for app_config in apps.get_app_configs():
        create_contenttypes(app_config, verbosity=0, using=using)
        create_permissions(app_config, verbosity=0, using=using)
    from .roles import ensure_roles

    ensure_roles()


class LeadsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "leads"
    verbose_name = _("Leads")

    def ready(self) -> None:
        post_migrate.connect(_ensure_roles, sender=self, dispatch_uid="leads.ensure_roles")
