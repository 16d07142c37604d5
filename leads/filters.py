"""The lead list's one filter definition, shared by the page, its CSV export and the API.

Every parameter is validated by a form field, so a bad value is refused by name (400 in the
API, an error beside the field on the page) instead of being ignored or raising.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Concat
from django.utils.translation import gettext_lazy as _

from core.validation import MAX_ID

from .models import Lead, Stage, StageEvent

# Public parameter name -> the model fields it orders by (the last field breaks ties).
ORDERINGS: dict[str, tuple[str, ...]] = {
    "name": ("last_name", "first_name"),
    "company": ("company__name",),
    "stage": ("stage",),
    "score": ("total_score",),
    "source": ("source",),
    "owner": ("owner__last_name", "owner__first_name"),
    "created": ("created_at",),
    "updated": ("updated_at",),
}
UNASSIGNED = "none"
SEARCH_MAX = 200


class OwnerField(forms.Field):
    """A user id, or "none" for leads nobody owns."""

    default_error_messages = {
        "invalid": _("Give a user id or “none”."),
    }

    def to_python(self, value: Any) -> int | str | None:
        value = (str(value) if value is not None else "").strip()
        if not value:
            return None
        if value.lower() == UNASSIGNED:
            return UNASSIGNED
        try:
            number = int(value)
        except ValueError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
        if not 1 <= number <= MAX_ID:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return number


class OwnerFilter(django_filters.Filter):
    field_class = OwnerField

    def filter(self, qs: QuerySet, value: int | str | None) -> QuerySet:
        if value is None:
            return qs
        if value == UNASSIGNED:
            return qs.filter(owner__isnull=True)
        return qs.filter(owner_id=value)


class LeadOrderingFilter(django_filters.OrderingFilter):
    """Sort by one column, ascending or descending ("-score"); the id breaks ties so pages
    never repeat or skip a lead."""

    def __init__(self, **kwargs: Any) -> None:
        choices = []
        for name in ORDERINGS:
            choices += [(name, name), (f"-{name}", f"-{name}")]
        super().__init__(choices=choices, **kwargs)

    def filter(self, qs: QuerySet, value: list[str] | None) -> QuerySet:
        if not value:
            return qs
        fields: list[str] = []
        for param in value:
            descending = param.startswith("-")
            for field in ORDERINGS[param.lstrip("-")]:
                fields.append(f"-{field}" if descending else field)
        descending = value[-1].startswith("-")
        return qs.order_by(*fields, "-id" if descending else "id")


class LeadFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Search"),
        method="filter_search",
        max_length=SEARCH_MAX,
        help_text=_("Words in the name, e-mail or company; every word must match."),
    )
    stage = django_filters.ChoiceFilter(
        label=_("Stage"), choices=Stage.choices, empty_label=_("All stages")
    )
    owner = OwnerFilter(label=_("Owner"), help_text=_("A user id, or “none” for unassigned."))
    source = django_filters.CharFilter(
        label=_("Source"), lookup_expr="iexact", max_length=100, help_text=_("Ignoring case.")
    )
    industry = django_filters.CharFilter(
        label=_("Industry"),
        field_name="company__industry",
        lookup_expr="iexact",
        max_length=100,
        help_text=_("Ignoring case."),
    )
    min_score = django_filters.NumberFilter(
        label=_("Score from"), field_name="total_score", lookup_expr="gte"
    )
    max_score = django_filters.NumberFilter(
        label=_("Score to"), field_name="total_score", lookup_expr="lte"
    )
    created_from = django_filters.DateFilter(
        label=_("Created from"), field_name="created_at", lookup_expr="date__gte"
    )
    created_to = django_filters.DateFilter(
        label=_("Created to"), field_name="created_at", lookup_expr="date__lte"
    )
    mql_from = django_filters.DateFilter(
        label=_("MQL from"), method="filter_mql", help_text=_("Became an MQL on or after.")
    )
    mql_to = django_filters.DateFilter(
        label=_("MQL to"), method="filter_mql", help_text=_("Became an MQL on or before.")
    )
    updated_since = django_filters.IsoDateTimeFilter(
        label=_("Updated since"), field_name="updated_at", method="filter_updated_since"
    )
    ordering = LeadOrderingFilter(label=_("Sort by"))

    class Meta:
        model = Lead
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Dates in the user's zone, as the page shows them; the field widgets suit a browser.
        for name in ("created_from", "created_to", "mql_from", "mql_to"):
            self.filters[name].extra["widget"] = forms.DateInput(attrs={"type": "date"})
        for name in ("min_score", "max_score"):
            self.filters[name].extra["widget"] = forms.NumberInput(
                attrs={"step": "any", "class": "short"}
            )

    def filter_search(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        words = value.split()
        if not words:
            return qs
        condition = Q()
        for word in words:
            condition &= (
                Q(first_name__icontains=word)
                | Q(last_name__icontains=word)
                | Q(email__icontains=word)
                | Q(company__name__icontains=word)
            )
        # Japanese names are often written family name first without a space (青木弘樹).
        qs = qs.annotate(_family_given=Concat("last_name", Value(""), "first_name"))
        return qs.filter(condition | Q(_family_given__icontains="".join(words)))

    def filter_updated_since(self, qs: QuerySet, name: str, value: Any) -> QuerySet:
        if value is None:
            return qs
        # In UTC: Python takes offsets up to ±24 h, PostgreSQL only to ±15:59 (a 500 before).
        try:
            since = value.astimezone(dt.UTC)
        except OverflowError:  # before 0001-01-01 UTC: every lead was updated since
            return qs
        return qs.filter(updated_at__gte=since)

    def filter_mql(self, qs: QuerySet, name: str, value: Any) -> QuerySet:
        return qs  # both ends together in filter_queryset: one MQL event inside the range

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        qs = super().filter_queryset(queryset)
        at = {}
        if self.form.cleaned_data.get("mql_from"):
            at["at__date__gte"] = self.form.cleaned_data["mql_from"]
        if self.form.cleaned_data.get("mql_to"):
            at["at__date__lte"] = self.form.cleaned_data["mql_to"]
        if at:
            events = StageEvent.objects.filter(lead=OuterRef("pk"), to_stage=Stage.MQL, **at)
            qs = qs.filter(Exists(events))
        return qs


def owner_choices(*, leads: QuerySet[Lead]) -> list[tuple[str, str]]:
    """The people who own any of these leads, by name, and "unassigned"."""
    owner_ids = leads.order_by().exclude(owner=None).values_list("owner_id", flat=True).distinct()
    users = get_user_model().objects.filter(pk__in=owner_ids).order_by("last_name", "first_name")
    return [("", str(_("Anyone"))), (UNASSIGNED, str(_("Unassigned")))] + [
        (str(u.pk), u.get_full_name() or u.get_username()) for u in users
    ]


def value_choices(
    *,
    leads: QuerySet[Lead],
    field: str,
    empty: str,
    label: Callable[[str], str] = str,
) -> list[tuple[str, str]]:
    """The values present in `field`, one per spelling ignoring case, each shown as `label`
    says (a source's words)."""
    rows = (
        leads.order_by()
        .exclude(**{field: ""})
        .exclude(**{f"{field}__isnull": True})
        .values_list(field, flat=True)
        .distinct()
    )
    seen: dict[str, str] = {}
    for value in rows:
        seen.setdefault(value.casefold(), value)
    return [("", empty)] + sorted(
        ((v, label(v)) for v in seen.values()), key=lambda c: c[1].casefold()
    )
