"""Forms of the scoring pages: the draft's settings, one rule, a comment.

A rule's value is never typed as JSON: the form has one input per shape of value (a text, a
list of tags, a number, a range, yes/no) and builds the value the operator needs.
"""

from __future__ import annotations

import re
from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from leads.models import ActivityKind

from . import engine
from .models import Rule, RuleSetVersion

# Property conditions a behaviour or fast-track rule can have.
MAX_CONDITIONS = 4

ATTRIBUTE_KINDS = ("fit", "exclusion")
ACTIVITY_KINDS = ("behaviour", "fast_track")
LIST_OPERATORS = ("in", "email_domain_in")
TEXT_VALUE_OPERATORS = ("equals", "not_equals", "contains", "starts_with", "ends_with")
NUMBER_VALUE_OPERATORS = ("gt", "gte", "lt", "lte")
PROPERTY_OPERATORS = [
    (op, label) for op, label in Rule.Operator.choices if op in engine.PROPERTY_OPERATORS
]


class CommentForm(forms.Form):
    text = forms.CharField(
        label=_("Comment"), max_length=4000, widget=forms.Textarea(attrs={"rows": 2})
    )


class SettingsForm(forms.ModelForm):
    class Meta:
        model = RuleSetVersion
        fields = ["name", *RuleSetVersion.SETTINGS_FIELDS]
        labels = {
            "mql_threshold": _("MQL threshold"),
            "min_fit_score": _("Minimum fit"),
            "decay_half_life_days": _("Half-life (days)"),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # 60 rather than 60.0 in the inputs.
        for name in ("mql_threshold", "decay_half_life_days"):
            value = self.initial.get(name)
            if isinstance(value, float) and value.is_integer():
                self.initial[name] = int(value)
        half_life = cast(forms.FloatField, self.fields["decay_half_life_days"])
        half_life.widget.attrs.update(min="0.1", step="any")
        self.fields["mql_threshold"].widget.attrs.update(step="any")

    def clean_decay_half_life_days(self) -> float | None:
        value = self.cleaned_data.get("decay_half_life_days")
        if value is not None and value <= 0:
            raise forms.ValidationError(_("Give a number of days above zero, or leave empty."))
        return value


def split_tags(text: str) -> list[str]:
    """Tags as typed: one per line or separated by commas."""
    return [part.strip() for part in re.split(r"[,\n、]", text or "") if part.strip()]


def _number(value: float | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


class RuleForm(forms.Form):
    """One rule of the draft. Only the inputs that the kind and operator use are read."""

    kind = forms.ChoiceField(label=_("Kind"), choices=Rule.Kind.choices)
    name = forms.CharField(label=_("Rule name"), max_length=200)
    field = forms.ChoiceField(label=_("Field"), required=False)
    operator = forms.ChoiceField(
        label=_("Operator"), required=False, choices=[("", "—"), *Rule.Operator.choices]
    )
    text = forms.CharField(label=_("Value"), required=False, max_length=500)
    tags = forms.CharField(
        label=_("Values"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("One per line, or separated by commas."),
    )
    number = forms.FloatField(label=_("Number"), required=False)
    low = forms.FloatField(label=_("From"), required=False)
    high = forms.FloatField(label=_("To"), required=False)
    flag = forms.ChoiceField(
        label=_("Value"), required=False, choices=[("true", _("Yes")), ("false", _("No"))]
    )
    activity_kind = forms.ChoiceField(
        label=_("Activity"), required=False, choices=[("", "—"), *ActivityKind.choices]
    )
    points = forms.IntegerField(label=_("Points"), required=False, initial=0)
    cap = forms.IntegerField(label=_("Cap per lead"), required=False, min_value=1)
    window_days = forms.IntegerField(label=_("Only the last N days"), required=False, min_value=1)
    min_count = forms.IntegerField(label=_("At least K times"), required=False, min_value=1)

    def __init__(
        self,
        *args: Any,
        field_groups: list[tuple[str, list[Any]]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.field_groups = field_groups or []
        field = cast(forms.ChoiceField, self.fields["field"])
        field.choices = [("", "—")] + [
            (group, [(c.value, c.label) for c in choices]) for group, choices in self.field_groups
        ]
        self.field_types = {c.value: c.type for _g, cs in self.field_groups for c in cs}
        self.fields["tags"].widget.attrs.update(
            {
                "data-tags": "",
                "data-add-label": _("Type and press Enter"),
                "data-remove-label": _("Remove"),
            }
        )
        for i in range(MAX_CONDITIONS):
            self.fields[f"c{i}_property"] = forms.CharField(
                label=_("Property"), required=False, max_length=100
            )
            self.fields[f"c{i}_operator"] = forms.ChoiceField(
                label=_("Condition"), required=False, choices=PROPERTY_OPERATORS
            )
            self.fields[f"c{i}_value"] = forms.CharField(
                label=_("Value"), required=False, max_length=500
            )

    def conditions(self) -> list[dict[str, Any]]:
        """The condition rows as bound fields, for the template."""
        return [
            {
                "property": self[f"c{i}_property"],
                "operator": self[f"c{i}_operator"],
                "value": self[f"c{i}_value"],
            }
            for i in range(MAX_CONDITIONS)
        ]

    @classmethod
    def initial_for(cls, rule: Rule) -> dict[str, Any]:
        initial: dict[str, Any] = {
            name: getattr(rule, name)
            for name in ("kind", "name", "activity_kind", "points", "cap", "window_days")
        }
        initial["min_count"] = rule.min_count
        initial["field"] = rule.field or ("email" if rule.operator in ("email_domain_in",) else "")
        initial["operator"] = rule.operator
        value = rule.value
        if rule.operator in LIST_OPERATORS and isinstance(value, list):
            initial["tags"] = "\n".join(str(v) for v in value)
        elif rule.operator == "between" and isinstance(value, list) and len(value) == 2:
            initial["low"], initial["high"] = value
        elif rule.operator in NUMBER_VALUE_OPERATORS:
            initial["number"] = value
        elif engine.field_type(rule.field) == "bool" and rule.operator in TEXT_VALUE_OPERATORS:
            initial["flag"] = str(value).lower()
        elif value is not None:
            initial["text"] = str(value)
        for i, cond in enumerate((rule.property_conditions or [])[:MAX_CONDITIONS]):
            initial[f"c{i}_property"] = cond.get("property", "")
            initial[f"c{i}_operator"] = cond.get("operator", "")
            cond_value = cond.get("value")
            if isinstance(cond_value, list):
                initial[f"c{i}_value"] = ", ".join(str(v) for v in cond_value)
            elif cond_value is not None:
                initial[f"c{i}_value"] = str(cond_value)
        return initial

    def _value(self, data: dict[str, Any]) -> tuple[Any, str]:
        """The rule's value for its operator, and the input it came from."""
        operator = data.get("operator") or ""
        if operator in LIST_OPERATORS:
            return split_tags(data.get("tags") or ""), "tags"
        if operator == "between":
            return [_number(data.get("low")), _number(data.get("high"))], "low"
        if operator in NUMBER_VALUE_OPERATORS:
            return _number(data.get("number")), "number"
        if operator in TEXT_VALUE_OPERATORS:
            if self.field_types.get(data.get("field") or "") == "bool":
                return data.get("flag") or "", "flag"
            return (data.get("text") or "").strip(), "text"
        return None, "text"

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        if kind in ACTIVITY_KINDS:
            if not data.get("activity_kind"):
                self.add_error("activity_kind", _("Choose an activity."))
            conditions = []
            for i in range(MAX_CONDITIONS):
                prop = (data.get(f"c{i}_property") or "").strip()
                operator = data.get(f"c{i}_operator") or ""
                text = (data.get(f"c{i}_value") or "").strip()
                if not prop:
                    if text:
                        self.add_error(f"c{i}_property", _("Name the property this value is for."))
                    continue
                if not engine.KEY.match(prop):
                    self.add_error(
                        f"c{i}_property", _("Use letters, digits, spaces, dots, - and _.")
                    )
                    continue
                value: Any = None
                if operator == "in":
                    value = split_tags(text)
                elif operator in TEXT_VALUE_OPERATORS:
                    value = text
                if operator not in ("is_empty", "not_empty") and not value:
                    self.add_error(
                        f"c{i}_value", _("Give a value for %(property)s.") % {"property": prop}
                    )
                    continue
                condition = {"property": prop, "operator": operator}
                if value is not None:
                    condition["value"] = value
                conditions.append(condition)
            data["property_conditions"] = conditions
        elif kind in ATTRIBUTE_KINDS:
            if not data.get("field") and data.get("operator") not in engine.EMAIL_OPERATORS:
                self.add_error("field", _("Choose a field."))
            if not data.get("operator"):
                self.add_error("operator", _("Choose an operator."))
            if data.get("operator") == "between":
                for name in ("low", "high"):
                    if data.get(name) is None and name not in self.errors:
                        self.add_error(name, _("Give a number."))
        return data

    def rule_data(self) -> dict[str, Any]:
        """The Rule fields for scoring.services, from valid input."""
        data = self.cleaned_data
        kind = data["kind"]
        out: dict[str, Any] = {"kind": kind, "name": data["name"].strip()}
        if kind in ATTRIBUTE_KINDS:
            value, _source = self._value(data)
            operator = data["operator"]
            field = "email" if operator in engine.EMAIL_OPERATORS else data["field"]
            out.update(
                field=field,
                operator=operator,
                value=value,
                activity_kind="",
                property_conditions=[],
                cap=None,
                window_days=None,
                min_count=None,
            )
        else:
            out.update(
                field="",
                operator="",
                value=None,
                activity_kind=data["activity_kind"],
                property_conditions=data.get("property_conditions", []),
                window_days=data.get("window_days"),
            )
        if kind in ("fit", "behaviour"):
            out["points"] = data.get("points") or 0
        else:
            out["points"] = 0
        if kind == "behaviour":
            out.update(cap=data.get("cap"), min_count=data.get("min_count"))
        elif kind == "fast_track":
            out.update(cap=None, min_count=None)
        if kind == "fit":
            out.update(cap=None, window_days=None, min_count=None)
        return out

    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        """Put the service's errors (by Rule field) on the inputs they are about."""
        data = self.cleaned_data
        for name, messages in errors.items():
            target: str | None = name
            if name == "value":
                target = self._value(data)[1]
            elif name == "property_conditions":
                target = "c0_property"
                match = re.search(r"(\d+)", messages[0] if messages else "")
                if match and 0 < int(match.group(1)) <= MAX_CONDITIONS:
                    target = f"c{int(match.group(1)) - 1}_value"
            elif name not in self.fields:
                target = None
            for message in messages:
                self.add_error(target, message)

    def labelled_errors(self) -> list[str]:
        """Every error with the label of its input, for the summary above the form."""
        out = []
        for name, errors in self.errors.items():
            label = str(self.fields[name].label) if name in self.fields else ""
            if name.startswith("c") and name[1:2].isdigit():
                label = _("Condition %(n)s · %(field)s") % {
                    "n": int(name[1]) + 1,
                    "field": label,
                }
            for message in errors:
                out.append(f"{label}: {message}" if label else str(message))
        return out


# The longest period the tuning pages look at: beyond it the model and the market have moved.
TUNING_MAX_DAYS = 3 * 366


class TuningPeriodForm(forms.Form):
    """The period of MQLs the evidence is taken from (both days included)."""

    start = forms.DateField(
        label=_("MQLs from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("to"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    commitment = forms.IntegerField(
        label=_("MQLs per month, at least"), required=False, min_value=1, max_value=10_000_000
    )

    def clean(self) -> dict:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end:
            if start > end:
                self.add_error("end", _("The end must not be before the start."))
            elif (end - start).days > TUNING_MAX_DAYS:
                self.add_error("start", _("Choose at most three years."))
        elif start or end:
            self.add_error("start" if not start else "end", _("Give both days, or neither."))
        return data
