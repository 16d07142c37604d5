"""The SLA draft is edited in the admin: the agreement with its closed days inline.

Like scoring's rule sets: published versions are read-only, a draft starts from the SLA
page, and any saved edit withdraws the draft's approvals (sla.services.sla_draft_edited).
Hand-offs and what happened to them are records, shown read-only.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from signoff.admin import DraftOnlyInline, SignedVersionAdmin

from .forms import SlaVersionForm
from .models import (
    Assignment,
    Breach,
    ClosedDay,
    ContactLog,
    Handoff,
    RoutingRule,
    SlaVersion,
)


class ClosedDayInline(DraftOnlyInline):
    model = ClosedDay
    extra = 1
    fields = ["date", "name"]


@admin.register(SlaVersion)
class SlaVersionAdmin(SignedVersionAdmin):
    overview_url_name = "sla:overview"
    form = SlaVersionForm
    list_display = [
        "number",
        "status",
        "time_zone",
        "accept_within_hours",
        "first_contact_hot_minutes",
        "published_at",
        "overview",
    ]
    list_filter = ["status"]
    inlines = [ClosedDayInline]
    fieldsets = [
        (_("Business calendar"), {"fields": SlaVersion.CALENDAR_TERMS}),
        (_("Sales promises"), {"fields": SlaVersion.SALES_TERMS}),
        (_("Marketing promises"), {"fields": SlaVersion.MARKETING_TERMS}),
    ]


@admin.register(RoutingRule)
class RoutingRuleAdmin(SimpleHistoryAdmin):
    list_display = ["position", "name", "field", "values", "min_employees", "max_employees", "team"]
    list_display_links = ["name"]
    list_filter = ["field", "team"]
    ordering = ["position", "id"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records of what happened: written by the services, never edited by hand."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Handoff)
class HandoffAdmin(ReadOnlyAdmin):
    list_display = [
        "lead",
        "rep",
        "team",
        "status",
        "hot",
        "mql_at",
        "accept_due_at",
        "first_contact_due_at",
        "first_contact_at",
        "sla_version",
    ]
    list_filter = ["status", "hot", "team", "sla_version"]
    search_fields = ["lead__email", "lead__last_name"]
    raw_id_fields = ["lead", "mql_event", "rep"]
    date_hierarchy = "mql_at"


@admin.register(Breach)
class BreachAdmin(ReadOnlyAdmin):
    list_display = ["handoff", "kind", "due_at", "detected_at", "notified_at", "escalated_at"]
    list_filter = ["kind"]
    raw_id_fields = ["handoff"]


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyAdmin):
    list_display = ["lead", "user", "team", "assigned_by", "reason", "at"]
    list_filter = ["team"]
    raw_id_fields = ["lead", "handoff", "user", "assigned_by"]


@admin.register(ContactLog)
class ContactLogAdmin(ReadOnlyAdmin):
    list_display = ["lead", "user", "channel", "at", "created_at"]
    list_filter = ["channel"]
    raw_id_fields = ["lead", "handoff", "user"]
