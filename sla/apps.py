from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SlaConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "sla"
    verbose_name = _("SLA and hand-off")

    def ready(self) -> None:
        from leads import services as lead_services

        from .services import on_stage_change

        if on_stage_change not in lead_services.stage_change_hooks:
            lead_services.stage_change_hooks.append(on_stage_change)
