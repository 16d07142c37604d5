"""Reads: which leads a user may see, and the data behind the lead pages."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from .models import Lead


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


def lead_list(*, user, filters: dict | None = None) -> QuerySet[Lead]:
    filters = filters or {}
    qs = Lead.objects.filter(lead_visible_q(user), deleted_at__isnull=True).select_related(
        "company", "owner"
    )
    if filters.get("stage"):
        qs = qs.filter(stage=filters["stage"])
    if filters.get("source"):
        qs = qs.filter(source=filters["source"])
    if filters.get("owner"):
        qs = qs.filter(owner_id=filters["owner"])
    if filters.get("q"):
        term = filters["q"].strip()
        qs = qs.filter(
            Q(email__icontains=term)
            | Q(first_name__icontains=term)
            | Q(last_name__icontains=term)
            | Q(company__name__icontains=term)
        )
    if filters.get("min_score") is not None:
        qs = qs.filter(total_score__gte=filters["min_score"])
    if filters.get("updated_since"):
        qs = qs.filter(updated_at__gte=filters["updated_since"])
    return qs


def lead_get_for_user(*, user, lead_id: int) -> Lead | None:
    return (
        Lead.objects.filter(lead_visible_q(user), pk=lead_id, deleted_at__isnull=True)
        .select_related("company", "owner")
        .first()
    )


def lead_timeline(*, lead: Lead, limit: int = 200):
    return lead.activities.all()[:limit]


def lead_history(*, lead: Lead):
    return lead.stage_events.select_related("actor").order_by("at", "id")
