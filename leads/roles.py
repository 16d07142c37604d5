"""Roles are groups with permissions. `ensure_roles` keeps them in step after migrate."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.utils.translation import gettext_lazy as _

MARKETING_MANAGER = "Marketing manager"
SALES_REP = "Sales rep"
SALES_MANAGER = "Sales manager"
ADMIN = "Admin"
INTEGRATION = "Integration"
# A BI tool's token: reads the metrics API and nothing else.
REPORTING = "Reporting"

ROLE_LABELS = {
    MARKETING_MANAGER: _("Marketing manager"),
    SALES_REP: _("Sales rep"),
    SALES_MANAGER: _("Sales manager"),
    ADMIN: _("Admin"),
    INTEGRATION: _("Integration"),
    REPORTING: _("Reporting"),
}

# "app_label.codename"; other apps add theirs to this table as they grow.
ROLE_PERMISSIONS: dict[str, set[str]] = {
    MARKETING_MANAGER: {
        "leads.view_lead",
        "leads.view_all_leads",
        "leads.add_lead",
        "leads.change_lead",
        "leads.import_leads",
        "leads.view_activity",
        "leads.view_stageevent",
        "leads.view_importjob",
        "scoring.view_rulesetversion",
        "scoring.change_rulesetversion",
        "scoring.view_rule",
        "scoring.add_rule",
        "scoring.change_rule",
        "scoring.delete_rule",
        "scoring.edit_draft",
        "signoff.approve_as_marketing",
        "signoff.publish_version",
        "sla.view_slaversion",
        "sla.change_slaversion",
        "sla.view_closedday",
        "sla.add_closedday",
        "sla.change_closedday",
        "sla.delete_closedday",
        "sla.view_handoff",
        "reports.view_dashboard",
        "reports.edit_review",
    },
    SALES_REP: {
        "leads.view_lead",
        # Reps read the live rule set (why a lead scored); drafts are the managers'.
        "scoring.view_rulesetversion",
        "scoring.view_rule",
        "leads.view_activity",
        "leads.view_stageevent",
        "leads.accept_lead",
        "leads.qualify_lead",
        "sla.view_handoff",
        "sla.add_contactlog",
        # Reps read the live SLA they are measured by (its draft is the managers' to edit).
        "sla.view_slaversion",
        "sla.view_closedday",
    },
    SALES_MANAGER: {
        "leads.view_lead",
        "leads.view_team_leads",
        "leads.view_activity",
        "leads.view_stageevent",
        "leads.accept_lead",
        "leads.qualify_lead",
        "leads.reassign_lead",
        "scoring.view_rulesetversion",
        "scoring.change_rulesetversion",
        "scoring.view_rule",
        "scoring.add_rule",
        "scoring.change_rule",
        "scoring.delete_rule",
        "scoring.edit_draft",
        "signoff.approve_as_sales",
        "signoff.publish_version",
        "sla.view_slaversion",
        "sla.change_slaversion",
        "sla.view_closedday",
        "sla.add_closedday",
        "sla.change_closedday",
        "sla.delete_closedday",
        "sla.view_handoff",
        "sla.view_routingrule",
        "sla.add_routingrule",
        "sla.change_routingrule",
        "sla.delete_routingrule",
        "leads.change_profile",
        "leads.view_profile",
        "reports.view_dashboard",
        "reports.edit_review",
    },
    INTEGRATION: {
        "leads.view_lead",
        "leads.view_all_leads",
        "leads.add_lead",
        "leads.change_lead",
        "leads.add_activity",
        "leads.view_activity",
        "leads.view_stageevent",
    },
    REPORTING: {"reports.view_dashboard"},
}


def ensure_roles() -> None:
    """Create the role groups and give each exactly its permissions (idempotent)."""
    for role, perm_names in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        perms = []
        for name in sorted(perm_names):
            app_label, codename = name.split(".")
            perms.append(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(perms)
    admin, _created = Group.objects.get_or_create(name=ADMIN)
    admin.permissions.set(Permission.objects.all())


def user_roles(user) -> list[str]:
    if not user.is_authenticated:
        return []
    return [g.name for g in user.groups.all()]


def team_reps(user: Any) -> Any:
    """The reps a manager can hand leads to: their team's, or every rep without a team."""
    reps = (
        get_user_model()
        .objects.filter(is_active=True, groups__name=SALES_REP)
        .select_related("profile")
    )
    team_id = getattr(getattr(user, "profile", None), "team_id", None)
    if team_id is not None:
        reps = reps.filter(profile__team_id=team_id)
    return reps.order_by("first_name", "last_name", "username")


def all_reps() -> Any:
    """Every active sales rep, for views across teams (marketing)."""
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name=SALES_REP)
        .order_by("first_name", "last_name", "username")
    )


def may_bulk_reassign(user: Any) -> bool:
    """Sales managers hand several leads to a rep at once from the lead list."""
    return bool(user.is_active and user.has_perm("leads.reassign_lead"))


def may_bulk_recycle(user: Any) -> bool:
    """Managers send several leads back to nurture at once: a sales manager their team's
    accepted or rejected leads, marketing the leads sales rejected."""
    return bool(
        user.is_active
        and (
            user.has_perm("leads.reassign_lead")
            or (user.has_perm("leads.view_all_leads") and user.has_perm("leads.change_lead"))
        )
    )
