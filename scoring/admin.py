"""The rule sets in the admin (for superusers): the settings with the rules inline.

Published versions are read-only; edits of the draft go through scoring.services like the
pages' and the API's, so they withdraw approvals and are recorded with who made them.
"""

from django import forms
from django.contrib import admin

from signoff.admin import DraftOnlyInline, SignedVersionAdmin

from . import selectors, services
from .models import Rule, RuleSetVersion

small = forms.Textarea(attrs={"rows": 1, "cols": 22})


class RuleForm(forms.ModelForm):
    class Meta:
        model = Rule
        fields = Rule.EDITABLE_FIELDS
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


class RuleInline(DraftOnlyInline):
    model = Rule
    form = RuleForm
    extra = 1


@admin.register(RuleSetVersion)
class RuleSetVersionAdmin(SignedVersionAdmin):
    overview_url_name = "scoring:overview"
    list_display = ["number", "name", "status", "mql_threshold", "published_at", "overview"]
    list_filter = ["status"]
    fields = ["name", *RuleSetVersion.SETTINGS_FIELDS]
    inlines = [RuleInline]
    # The rules' changes live in their own history; the version's page shows both in words.
    object_history_template = "admin/scoring/rulesetversion/object_history.html"

    def history_view(self, request, object_id, extra_context=None):
        version = RuleSetVersion.objects.filter(pk=object_id).first()
        if version is not None:
            extra_context = {
                **(extra_context or {}),
                "rule_history": selectors.rule_change_history(version=version, limit=200),
            }
        return super().history_view(request, object_id, extra_context=extra_context)

    def withdraw_approvals(self, version, user) -> int:
        # Scoring also notes the withdrawal on the draft's discussion.
        return services.draft_edited(version=version, user=user)

    # Edits go through the same services as the pages and the API.
    def save_model(self, request, obj, form, change) -> None:
        obj._signoff_approved_before = obj.approvals.exists()
        if form.has_changed():
            data = {name: form.cleaned_data[name] for name in form.changed_data}
            services.draft_settings_update(version=obj, data=data, user=request.user)

    def save_formset(self, request, form, formset, change) -> None:
        instances = formset.save(commit=False)
        for rule in formset.deleted_objects:
            services.rule_delete(rule=rule, user=request.user)
        for rule in instances:
            data = {name: getattr(rule, name) for name in Rule.EDITABLE_FIELDS}
            if rule.pk is None:
                services.rule_create(version=form.instance, data=data, user=request.user)
            else:
                services.rule_update(rule=rule, data=data, user=request.user)
