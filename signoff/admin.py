"""Admin shared by both agreements: only the draft is editable, drafts start from the app's
page, and any saved edit withdraws the draft's approvals."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from . import services


class DraftOnlyInline(admin.TabularInline):
    """Rows of a version (rules, closed days) that change only while it is a draft."""

    def _editable(self, obj: Any) -> bool:
        return obj is None or obj.is_draft

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return self._editable(obj) and super().has_delete_permission(request, obj)


class SignedVersionAdmin(SimpleHistoryAdmin):
    """Admin of a signed, versioned agreement (rule set, SLA): only the draft is editable,
    drafts start from the app's page, and any saved edit withdraws the draft's approvals."""

    overview_url_name = ""

    @admin.display(description=_("Overview"))
    def overview(self, obj) -> str:
        return format_html('<a href="{}">{}</a>', reverse(self.overview_url_name), _("Open"))

    def withdraw_approvals(self, version, user) -> int:
        return services.withdraw_on_edit(version)

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
        # On the object, not on this admin: one admin instance serves every request.
        obj._signoff_approved_before = obj.pk is not None and obj.approvals.exists()
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        version = form.instance
        if form.has_changed() or any(fs.has_changed() for fs in formsets):
            self.withdraw_approvals(version, request.user)
        if getattr(version, "_signoff_approved_before", False) and not version.approvals.exists():
            messages.warning(request, _("The draft changed, so its approvals were withdrawn."))

    def response_change(self, request, obj):
        if "_continue" not in request.POST and "_addanother" not in request.POST:
            return redirect(self.overview_url_name)
        return super().response_change(request, obj)
