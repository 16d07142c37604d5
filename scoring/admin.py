"""The draft is edited in the admin: the rule-set settings with its rules inline.

Published versions are read-only, and any saved edit of the draft withdraws its approvals
(scoring.services.draft_edited). simple_history records who changed which rule.
"""

from django import forms
from django.contrib import admin

from signoff.admin import DraftOnlyInline, SignedVersionAdmin

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


class RuleInline(DraftOnlyInline):
    model = Rule
    form = RuleForm
    extra = 1


@admin.register(RuleSetVersion)
class RuleSetVersionAdmin(SignedVersionAdmin):
    overview_url_name = "scoring:overview"
    list_display = ["number", "name", "status", "mql_threshold", "published_at", "overview"]
    list_filter = ["status"]
    fields = ["name", "mql_threshold", "min_fit_score", "decay_half_life_days"]
    inlines = [RuleInline]

    def withdraw_approvals(self, version, user) -> int:
        # Scoring also notes the withdrawal on the draft's discussion.
        return services.draft_edited(version=version, user=user)
