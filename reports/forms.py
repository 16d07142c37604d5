"""The filter parameters shared by the dashboard, the metrics API and the CSV export, and the
review's forms."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from leads.models import Team

from . import selectors
from .models import SIZE_BAND_CODES, ActionItem, ReviewNote

User = get_user_model()
EARLIEST = dt.date(2000, 1, 1)


class MetricFilterForm(forms.Form):
    """Query parameters: from, to (YYYY-MM-DD, inclusive), source, industry, size, team, rep.

    Missing dates default to the last twelve calendar months (on the dashboard: from the first
    month with data, if later); anything else missing means
    "all". Errors name the parameter, so the API answers {"errors": {"from": [...]}}.
    """

    source = forms.CharField(label=_("Source"), required=False, max_length=100)
    industry = forms.CharField(label=_("Industry"), required=False, max_length=100)
    size = forms.ChoiceField(
        label=_("Company size"),
        required=False,
        choices=[("", _("All sizes"))] + [(c, c) for c in SIZE_BAND_CODES],
    )
    team = forms.IntegerField(label=_("Team"), required=False, min_value=1)
    rep = forms.IntegerField(label=_("Rep"), required=False, min_value=1)

    def __init__(
        self,
        *args: Any,
        now: dt.datetime | None = None,
        from_first_data: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.defaults = selectors.default_filters(now, from_first_data=from_first_data)
        # "from" is a Python keyword: declared here rather than as a class attribute.
        self.fields = {
            "from": forms.DateField(label=_("From"), required=False, input_formats=["%Y-%m-%d"]),
            "to": forms.DateField(label=_("To"), required=False, input_formats=["%Y-%m-%d"]),
            **self.fields,
        }

    def clean_team(self) -> int | None:
        team = self.cleaned_data.get("team")
        if team is not None and not Team.objects.filter(pk=team).exists():
            raise forms.ValidationError(_("No team has this id."))
        return team

    def clean_rep(self) -> int | None:
        rep = self.cleaned_data.get("rep")
        if rep is not None and not User.objects.filter(pk=rep).exists():
            raise forms.ValidationError(_("No user has this id."))
        return rep

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        start = data.get("from") or self.defaults.start
        end = data.get("to") or self.defaults.end
        if "from" in self.errors or "to" in self.errors:
            return data
        if start < EARLIEST:
            self.add_error("from", _("Choose a date from 2000 on."))
        elif end < start:
            self.add_error("to", _("The end of the range comes before its start."))
        elif (end - start).days > selectors.MAX_RANGE_DAYS:
            self.add_error("to", _("Choose a range of at most five years."))
        data["from"], data["to"] = start, end
        return data

    def filters(self) -> selectors.Filters:
        """The validated filters; call after is_valid()."""
        data = self.cleaned_data
        return selectors.Filters(
            start=data["from"],
            end=data["to"],
            source=data.get("source") or "",
            industry=data.get("industry") or "",
            size=data.get("size") or "",
            team=data.get("team"),
            rep=data.get("rep"),
        )


class ReviewNoteForm(forms.ModelForm):
    class Meta:
        model = ReviewNote
        fields = ["kind", "text"]
        widgets = {"text": forms.Textarea(attrs={"rows": 2})}


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.get_full_name() or obj.username


class ActionItemForm(forms.ModelForm):
    class Meta:
        model = ActionItem
        fields = ["what", "owner", "due_on"]
        field_classes = {"owner": PersonChoiceField}
        widgets = {"due_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        owner = cast(PersonChoiceField, self.fields["owner"])
        owner.queryset = User.objects.filter(is_active=True).order_by("first_name", "username")
