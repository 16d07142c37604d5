"""What reps and managers are told about hand-offs, in their language and time zone.

Each notice is a notifications.Notification written in the caller's transaction (shown in the
app at once, e-mailed after commit, retried by a sweep if the broker is away).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from leads import roles
from notifications.models import Notification
from notifications.services import notification_create, team_post, user_language, user_time

from .models import Breach, Handoff

User = get_user_model()


def _name(user: Any) -> str:
    return user.get_full_name() or user.get_username()


def _when(user: Any, at: Any, handoff: Handoff) -> str:
    return user_time(user, at, handoff.sla_version.time_zone)


def _lead_path(handoff: Handoff) -> str:
    return reverse("leads:detail", args=[handoff.lead_id])


def _about(handoff: Handoff) -> str:
    return f"handoff:{handoff.pk}"


def _reasons(handoff: Handoff) -> list[str]:
    context = handoff.mql_event.context or {}
    lines = []
    for item in context.get("explanation", [])[:5]:
        points = item.get("points", 0)
        if item.get("kind") == "fast_track":
            lines.append(_("fast-track: %(rule)s") % {"rule": item["rule"]})
        elif points:
            lines.append(f"{item['rule']} ({round(points, 1):+g})")
    return lines


def _tell(user: Any, kind: str, handoff: Handoff, subject: str, body: str) -> Notification:
    return notification_create(
        kind=kind,
        user=user,
        subject=subject,
        body=body,
        lead=handoff.lead,
        url=_lead_path(handoff),
        about=_about(handoff),
    )


def _post(handoff: Handoff, kind: str, text: str) -> None:
    team_post(
        kind=kind,
        team=handoff.team,
        text=text,
        lead=handoff.lead,
        url=_lead_path(handoff),
        about=_about(handoff),
    )


def handoff_assigned(*, handoff: Handoff, reassigned_by: Any = None) -> Notification | None:
    rep = handoff.rep
    if rep is None:
        return None
    lead = handoff.lead
    with translation.override(user_language(rep)):
        subject = (
            _("Hot MQL for you: %(lead)s (%(company)s)")
            if handoff.hot
            else _("New MQL for you: %(lead)s (%(company)s)")
        ) % {"lead": lead.display_name, "company": lead.company.name if lead.company else "—"}
        lines = [
            _("Accept or reject by %(at)s.") % {"at": _when(rep, handoff.accept_due_at, handoff)},
            _("First contact by %(at)s.")
            % {"at": _when(rep, handoff.first_contact_due_at, handoff)},
            _("Score: %(total)s (fit %(fit)s, engagement %(engagement)s).")
            % {
                "total": f"{round(lead.total_score, 1):g}",
                "fit": lead.fit_score,
                "engagement": f"{round(lead.engagement_score, 1):g}",
            },
        ]
        reasons = _reasons(handoff)
        if reasons:
            lines.append(_("Why: %(reasons)s") % {"reasons": "; ".join(reasons)})
        if reassigned_by is not None:
            lines.append(_("Reassigned to you by %(user)s.") % {"user": _name(reassigned_by)})
        body = "\n".join(lines)
    note = _tell(rep, Notification.Kind.ASSIGNED, handoff, subject, body)
    _post(handoff, note.kind, f"{subject} → {_name(rep)}\n{body}")
    return note


def became_hot(*, handoff: Handoff) -> Notification:
    """A fast-track on a lead already in the rep's queue: first contact is due sooner."""
    rep = handoff.rep
    with translation.override(user_language(rep)):
        subject = _("Now hot: %(lead)s (%(company)s)") % {
            "lead": handoff.lead.display_name,
            "company": handoff.lead.company.name if handoff.lead.company else "—",
        }
        body = _("A fast-track action: make first contact by %(at)s.") % {
            "at": _when(rep, handoff.first_contact_due_at, handoff)
        }
    return _tell(rep, Notification.Kind.HOT, handoff, subject, body)


def reassigned_away(*, handoff: Handoff, previous: Any, by: Any) -> Notification:
    """Tell the rep who had the lead that it is someone else's now (no more work on it)."""
    with translation.override(user_language(previous)):
        subject = _("%(lead)s was reassigned to %(rep)s") % {
            "lead": handoff.lead.display_name,
            "rep": _name(handoff.rep) if handoff.rep else _("nobody"),
        }
        body = _("Reassigned by %(user)s; it has left your queue.") % {"user": _name(by)}
    return _tell(previous, Notification.Kind.REASSIGNED_AWAY, handoff, subject, body)


def deadline_near(*, handoff: Handoff, kind: str, due_at: Any, about: str) -> Notification:
    """Warn the rep once per deadline, shortly before it passes."""
    rep = handoff.rep
    with translation.override(user_language(rep)):
        subject = _("Deadline near: %(step)s for %(lead)s") % {
            "step": Breach.Kind(kind).label,
            "lead": handoff.lead.display_name,
        }
        body = _("Due %(at)s.") % {"at": _when(rep, due_at, handoff)}
    return notification_create(
        kind=Notification.Kind.DEADLINE_NEAR,
        user=rep,
        subject=subject,
        body=body,
        lead=handoff.lead,
        url=_lead_path(handoff),
        about=about,
    )


def breach(*, breach: Breach) -> Notification:
    handoff = breach.handoff
    rep = handoff.rep
    with translation.override(user_language(rep)):
        subject = _("Deadline missed: %(step)s for %(lead)s") % {
            "step": breach.get_kind_display(),
            "lead": handoff.lead.display_name,
        }
        body = _("It was due %(at)s.") % {"at": _when(rep, breach.due_at, handoff)}
    return _tell(rep, Notification.Kind.BREACH, handoff, subject, body)


def escalation(*, breach: Breach) -> list[Notification]:
    handoff = breach.handoff
    managers = User.objects.filter(is_active=True, groups__name=roles.SALES_MANAGER)
    if handoff.team_id:
        managers = managers.filter(profile__team_id=handoff.team_id)
    sent = []
    for manager in managers:
        with translation.override(user_language(manager)):
            subject = _("Escalation: %(rep)s missed %(step)s for %(lead)s") % {
                "rep": _name(handoff.rep) if handoff.rep else _("nobody"),
                "step": breach.get_kind_display(),
                "lead": handoff.lead.display_name,
            }
            body = _("It was due %(at)s and is still open.") % {
                "at": _when(manager, breach.due_at, handoff)
            }
        sent.append(_tell(manager, Notification.Kind.ESCALATION, handoff, subject, body))
    _post(handoff, Notification.Kind.ESCALATION, sent[0].subject if sent else str(breach))
    return sent
