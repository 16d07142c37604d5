"""The draft is edited in the admin: the rule-set settings with its rules inline.

Published versions are read-only, and any saved edit of the draft withdraws its approvals
(scoring.services.draft_edited). simple_history records who changed which rule.
"""

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from . import services
from .models import Rule, RuleSetVersion

small = forms.Textarea(attrs={"rows": 1, "cols": 22})


class RuleForm(forms.ModelForm):
    class Meta:
        model = Rule
        fields = [
            "position",
            "kind",
            "name",
            "field",
            "operator",
            "value",
            "activity_kind",
            "property_conditions",
            "points",
            "cap",
            "window_days",
            "min_count",
        ]
        widgets = {
            "value": small,
            "property_conditions": small,
            "name": forms.TextInput(attrs={"size": 18}),
            "field": forms.TextInput(attrs={"size": 16}),
            "position": forms.NumberInput(attrs={"style": "width:4em"}),
            "points": forms.NumberInput(attrs={"style": "width:5em"}),
            "cap": forms.NumberInput(attrs={"style": "width:5em"}),
            "window_days": forms.NumberInput(attrs={"style": "width:5em"}),
            "min_count": forms.NumberInput(attrs={"style": "width:4em"}),
        }


class RuleInline(admin.TabularInline):
    model = Rule
    form = RuleForm
    extra = 1

    def _editable(self, obj) -> bool:
        return obj is None or obj.is_draft

    def has_add_permission(self, request, obj=None) -> bool:
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._editable(obj) and super().has_delete_permission(request, obj)


@admin.register(RuleSetVersion)
class RuleSetVersionAdmin(SimpleHistoryAdmin):
    list_display = ["number", "name", "status", "mql_threshold", "published_at", "overview"]
    list_filter = ["status"]
    fields = ["name", "mql_threshold", "min_fit_score", "decay_half_life_days"]
    inlines = [RuleInline]

    @admin.display(description=_("Overview"))
    def overview(self, obj) -> str:
        return format_html('<a href="{}">{}</a>', reverse("scoring:overview"), _("Open"))

    def has_add_permission(self, request) -> bool:
        # Drafts start from the scoring page, as a copy of the live version.
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
        if changed and services.draft_edited(version=form.instance, user=request.user):
            messages.warning(request, _("The draft changed, so its approvals were withdrawn."))

    def response_change(self, request, obj):
        if "_continue" not in request.POST and "_addanother" not in request.POST:
            return self._redirect_overview()
        return super().response_change(request, obj)

    def _redirect_overview(self):
        from django.shortcuts import redirect

        return redirect("scoring:overview")
