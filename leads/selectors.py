"""Reads: which leads a user may see, and the data behind the lead pages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Q, QuerySet

from .filters import LeadFilter
from .models import Lead, Stage, StageEvent


def lead_visible_q(user) -> Q:
    """The leads a user may see: all (marketing, admin), their team's, or their own."""
    if not user.is_authenticated or not user.is_active:
        return Q(pk__in=[])
    if user.is_superuser or user.has_perm("leads.view_all_leads"):
        return Q()
    visible = Q(owner=user)
    if user.has_perm("leads.view_team_leads"):
        team_id = getattr(getattr(user, "profile", None), "team_id", None)
        if team_id is not None:
            visible |= Q(owner__profile__team_id=team_id)
    return visible


def leads_visible(*, user) -> QuerySet[Lead]:
    return Lead.objects.filter(lead_visible_q(user), deleted_at__isnull=True).select_related(
        "company", "owner"
    )


def lead_list(*, user, params: Mapping[str, Any] | None = None) -> LeadFilter:
    """The leads a user may see, filtered and sorted by `params` (the page's query string or
    the API's). Check `is_valid()` before reading `.qs`; `.errors` name the parameters."""
    return LeadFilter(
        params or {}, queryset=leads_visible(user=user).order_by("-created_at", "-id")
    )


def lead_get_for_user(*, user, lead_id: int) -> Lead | None:
    return (
        Lead.objects.filter(lead_visible_q(user), pk=lead_id, deleted_at__isnull=True)
        .select_related("company", "owner")
        .first()
    )


def lead_timeline(*, lead: Lead, limit: int = 200):
    return lead.activities.all()[:limit]


def lead_qualification(*, lead: Lead) -> StageEvent | None:
    """The latest qualification to SQL that recorded BANT answers: who, when, what."""
    for event in (
        lead.stage_events.filter(to_stage=Stage.SQL).select_related("actor").order_by("-at", "-id")
    ):
        if event.bant:
            return event
    return None


def lead_history(*, lead: Lead):
    return lead.stage_events.select_related("actor").order_by("at", "id")
