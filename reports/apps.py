from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "reports"
    verbose_name = _("Reports")

    def ready(self) -> None:
        from leads import services as lead_services
        from sla import services as sla_services

        from .services import on_handoff_changed, on_stage_change

        # After the SLA's hook (sla comes first in INSTALLED_APPS): the facts read the
        # hand-off that hook has just opened or updated.
        if on_stage_change not in lead_services.stage_change_hooks:
            lead_services.stage_change_hooks.append(on_stage_change)
        if on_handoff_changed not in sla_services.handoff_changed_hooks:
            sla_services.handoff_changed_hooks.append(on_handoff_changed)
