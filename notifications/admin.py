from django.contrib import admin

from .models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """What Handoff told whom: written by the services, never edited by hand."""

    list_display = ["created_at", "kind", "channel", "user", "team", "subject", "delivered_at"]
    list_filter = ["kind", "channel"]
    raw_id_fields = ["user", "team", "lead"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
