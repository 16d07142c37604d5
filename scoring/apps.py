from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def enqueue_rescore(lead_ids: list[int]) -> None:
    from .tasks import rescore_leads_task

    # Already inside transaction.on_commit (leads.services.notify_lead_changed).
    rescore_leads_task.delay(lead_ids)


class ScoringConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "scoring"
    verbose_name = _("Scoring")

    def ready(self) -> None:
        from leads import services

        if enqueue_rescore not in services.lead_changed_hooks:
            services.lead_changed_hooks.append(enqueue_rescore)
