from django.contrib import admin

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


_STAGE_EVENT_FIELDS = ("at", "from_stage", "to_stage", "actor", "origin", "reason", "note")


class StageEventInline(admin.TabularInline):
    model = StageEvent
    extra = 0
    can_delete = False
    fields = _STAGE_EVENT_FIELDS
    readonly_fields = _STAGE_EVENT_FIELDS

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
