"""Rules in words: no JSON, Python lists or `null` on a page."""

from __future__ import annotations

from typing import Any, cast

from django import template
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Field
from django.utils.translation import gettext as _

from leads.models import ActivityKind, Company, Lead
from scoring.models import Rule

register = template.Library()


def _operator_label(operator: str) -> str:
    try:
        return str(Rule.Operator(operator).label)
    except ValueError:
        return operator


def field_label(field: str) -> str:
    """A rule's field as people read it: "job title", "company · employees", "custom · plan"."""
    if not field:
        return str(Lead._meta.get_field("email").verbose_name)
    if field.startswith("company."):
        name = field.removeprefix("company.")
        try:
            inner = cast(Field, Company._meta.get_field(name)).verbose_name
        except FieldDoesNotExist:
            inner = name
        return f"{_('company')} · {inner}"
    if field.startswith("custom."):
        return f"{_('custom')} · {field.removeprefix('custom.')}"
    try:
        return str(cast(Field, Lead._meta.get_field(field)).verbose_name)
    except FieldDoesNotExist:
        return field


@register.filter
def readable(value: Any) -> str:
    """A stored value in words: lists joined, conditions spelled out, empty as a dash."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return str(_("Yes") if value else _("No"))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):
            return "; ".join(condition_text(v) for v in value)
        if not value:
            return "—"
        return ", ".join(readable(v) for v in value)
    if isinstance(value, dict):
        return condition_text(value)
    if value in ActivityKind.values:
        return str(ActivityKind(value).label)
    if value in Rule.Operator.values:
        return _operator_label(value)
    if value in Rule.Kind.values:
        return str(Rule.Kind(value).label)
    return str(value)


def condition_text(condition: dict[str, Any]) -> str:
    parts = [str(condition.get("property", "")), _operator_label(condition.get("operator", ""))]
    if condition.get("value") not in (None, "", []):
        parts.append(readable(condition["value"]))
    return " ".join(parts)


def _choice_labels(field: str, value: Any) -> Any:
    """Codes of a field with choices (seniority) as their labels; yes/no for true/false."""
    if field == "company.listed" and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if "." in field:
        return value
    try:
        choices = dict(cast(Field, Lead._meta.get_field(field)).flatchoices)
    except FieldDoesNotExist:
        return value
    if not choices:
        return value
    if isinstance(value, list):
        return [str(choices.get(v, v)) for v in value]
    return str(choices.get(value, value))


@register.filter
def rule_condition(rule: Rule) -> str:
    """What a rule tests, in words."""
    if rule.kind in ("fit", "exclusion"):
        if rule.operator == "free_mail":
            return _operator_label(rule.operator)
        parts = [_operator_label(rule.operator)]
        if rule.operator not in ("email_domain_in",):
            parts.insert(0, field_label(rule.field))
        if rule.operator == "between" and isinstance(rule.value, list) and len(rule.value) == 2:
            parts.append(
                _("%(low)s to %(high)s")
                % {
                    "low": readable(rule.value[0]),
                    "high": readable(rule.value[1]),
                }
            )
        elif rule.value not in (None, "", []):
            parts.append(readable(_choice_labels(rule.field, rule.value)))
        return " ".join(parts)
    text = str(rule.get_activity_kind_display() or "—")
    if rule.property_conditions:
        text += " · " + readable(rule.property_conditions)
    return text


@register.filter
def label_of(field: str) -> str:
    return field_label(field)


def value_text(field: str, value: Any, *, rule_field: str = "") -> str:
    """One stored field of a rule or rule set in words, for diffs and history."""
    if value is None or value == "" or value == []:
        return "—"
    if field == "field":
        return field_label(value)
    if field == "operator":
        return _operator_label(value)
    if field == "kind":
        return readable(value) if value in Rule.Kind.values else str(value)
    if field == "activity_kind":
        return str(ActivityKind(value).label) if value in ActivityKind.values else str(value)
    if field == "value":
        return readable(_choice_labels(rule_field, value))
    return readable(value)
