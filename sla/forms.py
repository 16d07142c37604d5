"""Forms of the SLA pages: the rep's actions on a lead, the rejections filter, the admin."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any, cast

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core.validation import MAX_ID
from leads import roles
from leads.models import DisqualifyReason, RecycleReason, Stage, rejection_reasons

from . import services
from .models import ContactLog, SlaVersion, Weekday

User = get_user_model()

DATETIME_LOCAL_FORMATS = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]


class ActionForm(forms.Form):
    """Every action form carries the stage the user saw, to refuse a stale click."""

    expected_stage = forms.ChoiceField(choices=Stage.choices, widget=forms.HiddenInput)
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The note comes last, after the fields the action is about.
        if "note" in self.fields:
            self.order_fields([name for name in self.fields if name != "note"] + ["note"])


class NoteMixin(forms.Form):
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 30}),
    )


class AcceptForm(ActionForm):
    pass


class RejectForm(ActionForm, NoteMixin):
    reason = forms.ChoiceField(label=_("Reason"), choices=())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        reason = cast(forms.ChoiceField, self.fields["reason"])
        reason.choices = [("", _("Choose a reason…"))] + [
            (code, label) for code, label in rejection_reasons()
        ]


class ContactForm(ActionForm, NoteMixin):
    channel = forms.ChoiceField(label=_("Channel"), choices=ContactLog.Channel.choices)
    # Read in the user's time zone: the middleware has activated it.
    at = forms.DateTimeField(
        label=_("When"),
        input_formats=DATETIME_LOCAL_FORMATS,
        widget=forms.DateTimeInput(
            attrs={"type": "datetime-local", "step": "1"}, format="%Y-%m-%dT%H:%M:%S"
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            # Seconds matter: a call logged within the MQL's own minute must not look earlier.
            self.fields["at"].initial = timezone.localtime().replace(microsecond=0)


class QualifyForm(ActionForm, NoteMixin):
    budget = forms.CharField(label=_("Budget"), max_length=1000)
    authority = forms.CharField(label=_("Authority"), max_length=1000)
    need = forms.CharField(label=_("Need"), max_length=1000)
    timeline = forms.CharField(label=_("Timeline"), max_length=1000)


class RecycleForm(ActionForm, NoteMixin):
    reason = forms.ChoiceField(label=_("Reason"), choices=[("", "—"), *RecycleReason.choices])


class DisqualifyForm(ActionForm, NoteMixin):
    reason = forms.ChoiceField(
        label=_("Reason"), choices=[("", _("Choose a reason…")), *DisqualifyReason.choices]
    )


def team_reps(user: Any):
    """The reps a manager can hand leads to: their team's, or every rep without a team."""
    return roles.team_reps(user)


class RepChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.get_full_name() or obj.get_username()


class ReassignForm(ActionForm, NoteMixin):
    to_user = RepChoiceField(label=_("Reassign to"), queryset=User.objects.none())

    def __init__(self, *args: Any, manager: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        to_user = cast(RepChoiceField, self.fields["to_user"])
        to_user.queryset = team_reps(manager) if manager else User.objects.none()


class RejectionFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[
            ("", _("All")),
            ("open", pgettext_lazy("rejection status", "Open")),
            ("recycled", _("Recycled")),
            ("fixed", _("Data fixed")),
        ],
    )
    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    reason = forms.ChoiceField(label=_("Reason"), required=False, choices=())
    month = forms.CharField(
        label=_("Month"), required=False, widget=forms.TextInput(attrs={"type": "month"})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        reason = cast(forms.ChoiceField, self.fields["reason"])
        reason.choices = [("", _("All reasons"))] + [
            (code, label) for code, label in rejection_reasons()
        ]

    def clean_month(self) -> tuple[dt.datetime, dt.datetime] | None:
        value = (self.cleaned_data.get("month") or "").strip()
        if not value:
            return None
        # A month of the user's own calendar (the active time zone).
        zone = timezone.get_current_timezone()
        try:
            year, month = (int(part) for part in value.split("-"))
            start = dt.datetime(year, month, 1, tzinfo=zone)
            end = (start + dt.timedelta(days=32)).replace(day=1)
        except (TypeError, ValueError, OverflowError) as exc:
            raise forms.ValidationError(_("Use a month such as 2026-04.")) from exc
        return start, end


class SlaVersionForm(forms.ModelForm):
    """The admin form of a draft; checks the calendar like approval does, field by field."""

    working_days = forms.TypedMultipleChoiceField(
        label=_("working days"),
        choices=Weekday.choices,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = SlaVersion
        fields = SlaVersion.TERMS

    def clean_holiday_country(self) -> str:
        return (self.cleaned_data.get("holiday_country") or "").strip().upper()

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        candidate = copy.copy(self.instance)
        for name in self.Meta.fields:
            if name not in cleaned:
                # That field already has its own error; the others are still worth checking.
                return cleaned
            setattr(candidate, name, cleaned[name])
        for field, message in services.sla_validate(candidate).items():
            message = str(message).removeprefix(f"{field}: ")
            self.add_error(field if field in self.fields else None, message)
        return cleaned


# The time zones most teams use, offered first; every other IANA zone follows.
COMMON_TIME_ZONES = (
    "Asia/Tokyo",
    "UTC",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "Asia/Seoul",
    "Asia/Shanghai",
    "Asia/Singapore",
    "Asia/Kolkata",
    "Australia/Sydney",
)


def time_zone_choices() -> list[tuple[str, Any]]:
    import zoneinfo

    others = sorted(
        z for z in zoneinfo.available_timezones() if z not in COMMON_TIME_ZONES and "/" in z
    )
    return [
        (str(_("Common")), [(z, z) for z in COMMON_TIME_ZONES]),
        (str(_("All time zones")), [(z, z) for z in others]),
    ]


def holiday_countries() -> dict[str, dict[str, Any]]:
    """Countries the holidays package knows: code → English name and region codes."""
    import re

    import holidays
    from holidays import registry

    names = {}
    for entry in registry.COUNTRIES.values():
        class_name, code = entry[0], entry[1]
        names[code] = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", class_name)
    supported = holidays.list_supported_countries()
    return {
        code: {"name": names.get(code, code), "regions": list(supported.get(code, []))}
        for code in sorted(supported, key=lambda c: names.get(c, c))
        if len(code) == 2 and code.isupper()
    }


class SlaDraftForm(SlaVersionForm):
    """The draft's terms on the SLA page: pickers instead of codes."""

    time_zone = forms.ChoiceField(label=_("time zone"), choices=time_zone_choices)
    holiday_country = forms.ChoiceField(label=_("public holidays of"), required=False)

    class Meta(SlaVersionForm.Meta):
        widgets = {
            "day_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "day_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        countries = holiday_countries()
        country = cast(forms.ChoiceField, self.fields["holiday_country"])
        country.choices = [("", _("None"))] + [
            (code, f"{info['name']} ({code})") for code, info in countries.items()
        ]
        self.fields["holiday_country"].help_text = ""
        for name in (
            "accept_within_hours",
            "first_contact_hours",
            "hot_score",
            "min_acceptance_rate",
        ):
            self.fields[name].widget.attrs.update(step="any")
            value = self.initial.get(name)
            if isinstance(value, float) and value.is_integer():
                self.initial[name] = int(value)
        self.fields["min_acceptance_rate"].widget.attrs.update(step="any", min="0", max="100")


class ClosedDayForm(forms.Form):
    date = forms.DateField(label=_("date"), widget=forms.DateInput(attrs={"type": "date"}))
    name = forms.CharField(label=_("name"), max_length=100, required=False)


class LeadIdsField(forms.Field):
    widget = forms.MultipleHiddenInput
    default_error_messages = {
        "required": _("Tick at least one lead."),
        "invalid": _("A lead id must be a whole number."),
    }

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        try:
            ids = [int(v) for v in value]
        except (TypeError, ValueError):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
        if any(not 1 <= i <= MAX_ID for i in ids):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return list(dict.fromkeys(ids))


class BulkActionForm(forms.Form):
    """Several leads of the lead list at once: reassign them or recycle them to nurture."""

    MAX_LEADS = 200

    action = forms.ChoiceField(
        label=_("Action"),
        choices=[("reassign", _("Reassign to…")), ("recycle", _("Recycle to nurture"))],
    )
    leads = LeadIdsField(label=_("Leads"))
    to_user = RepChoiceField(label=_("Reassign to"), queryset=User.objects.none(), required=False)
    reason = forms.ChoiceField(
        label=_("Reason"), choices=[("", "—"), *RecycleReason.choices], required=False
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=4000)
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, manager: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        to_user = cast(RepChoiceField, self.fields["to_user"])
        to_user.queryset = team_reps(manager) if manager else User.objects.none()

    def clean_leads(self) -> list[int]:
        ids = self.cleaned_data["leads"]
        if len(ids) > self.MAX_LEADS:
            raise forms.ValidationError(
                _("Choose at most %(max)d leads at a time.") % {"max": self.MAX_LEADS}
            )
        return ids

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("action") == "reassign" and not cleaned.get("to_user"):
            self.add_error("to_user", _("Choose the rep to hand the leads to."))
        return cleaned


class RejectionRecycleForm(forms.Form):
    reason = forms.ChoiceField(
        label=_("Reason"), choices=RecycleReason.choices, initial=RecycleReason.NURTURE
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=4000)
    next = forms.CharField(required=False, widget=forms.HiddenInput)


class RejectionFixForm(forms.Form):
    note = forms.CharField(label=_("Note"), required=False, max_length=4000)
    next = forms.CharField(required=False, widget=forms.HiddenInput)
