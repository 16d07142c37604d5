from django.contrib import admin, messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from . import signoff
from .models import Activity, Company, ImportJob, Lead, Profile, StageEvent, Team


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "language", "time_zone"]
    list_filter = ["team"]


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ["name", "domain", "industry", "employees", "listed"]
    search_fields = ["name", "domain"]


class StageEventInline(admin.TabularInline):
    model = StageEvent
    extra = 0
    can_delete = False
    fields = ["at", "from_stage", "to_stage", "actor", "origin", "reason", "note"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = ["email", "first_name", "last_name", "stage", "total_score", "owner", "source"]
    list_filter = ["stage", "source"]
    search_fields = ["email", "first_name", "last_name"]
    raw_id_fields = ["company", "owner"]
    # Stages change only through the lifecycle service, never by editing the row.
    readonly_fields = ["stage", "stage_changed_at", "fit_score", "engagement_score", "total_score"]
    inlines = [StageEventInline]


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ["lead", "kind", "occurred_at", "source_system", "external_id"]
    list_filter = ["kind", "source_system"]
    raw_id_fields = ["lead"]


@admin.register(StageEvent)
class StageEventAdmin(admin.ModelAdmin):
    """Read-only: the history is append-only."""

    list_display = ["lead", "from_stage", "to_stage", "at", "actor", "origin", "reason"]
    list_filter = ["to_stage", "origin"]
    raw_id_fields = ["lead", "actor"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["original_name", "status", "processed_rows", "created_count", "rejected_count"]


class SignedVersionAdmin(SimpleHistoryAdmin):
    """Admin of a signed, versioned agreement (rule set, SLA): only the draft is editable,
    drafts start from the app's page, and any saved edit withdraws the draft's approvals."""

    overview_url_name = ""

    @admin.display(description=_("Overview"))
    def overview(self, obj) -> str:
        return format_html('<a href="{}">{}</a>', reverse(self.overview_url_name), _("Open"))

    def withdraw_approvals(self, version, user) -> int:
        return signoff.withdraw_on_edit(version)

    def has_add_permission(self, request) -> bool:
        # Drafts start from the app's page, as a copy of the version in force.
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and not obj.is_draft:
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        self._changed = form.has_changed()

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        changed = getattr(self, "_changed", False) or any(fs.has_changed() for fs in formsets)
        if changed and self.withdraw_approvals(form.instance, request.user):
            messages.warning(request, _("The draft changed, so its approvals were withdrawn."))

    def response_change(self, request, obj):
        if "_continue" not in request.POST and "_addanother" not in request.POST:
            return redirect(self.overview_url_name)
        return super().response_change(request, obj)
