"""The SLA pages: the rep's queue and the team view, the rep's actions on a lead, the
rejections marketing reads, and the agreement with its sign-off."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterator
from typing import Any

from django import forms as django_forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext
from django.views.decorators.http import require_POST

from leads import roles
from leads import selectors as lead_selectors
from leads.models import Lead, RecycleReason, Stage, StageEvent, reason_label, rejection_reasons
from leads.services import TransitionError
from leads.templatetags.handoff import person
from notifications.selectors import unread_count
from signoff.services import approval_sides
from signoff.views import Agreement

from . import forms, selectors, services
from .models import SlaApproval, SlaVersion


def _stale(lead: Lead, user: Any) -> str:
    """What changed the lead while this person looked at an older page, and who did it."""
    event = lead.stage_events.select_related("actor").order_by("-at", "-id").first()
    stage = lead.get_stage_display()
    if event is None:
        # The same words as leads.services.lead_transition's, so one translation serves both.
        return _("This lead is now %(stage)s: someone else changed it first.") % {"stage": stage}
    at = formats.date_format(timezone.localtime(event.at), "SHORT_DATETIME_FORMAT")
    if event.actor_id is not None and event.actor_id == getattr(user, "pk", None):
        return _("This lead is now %(stage)s: you changed it in your other tab (%(at)s).") % {
            "stage": stage,
            "at": at,
        }
    if event.actor is not None:
        return _("This lead is now %(stage)s: %(person)s changed it first (%(at)s).") % {
            "stage": stage,
            "person": event.actor.get_full_name() or event.actor.get_username(),
            "at": at,
        }
    return _("This lead is now %(stage)s: changed by %(origin)s (%(at)s).") % {
        "stage": stage,
        "origin": event.get_origin_display(),
        "at": at,
    }


def _team_id(user: Any) -> int | None:
    return getattr(getattr(user, "profile", None), "team_id", None)


def _countdown_strings() -> dict[str, str]:
    """The live countdown's words, translated here so the script stays language-free."""
    return {
        "left": _("%(time)s left"),
        "overdue": _("overdue %(time)s"),
        "d": _("%(n)sd"),
        "h": _("%(n)sh"),
        "m": _("%(n)sm"),
        "s": _("%(n)ss"),
    }


# --------------------------------------------------------------------------------------------
# Queues


def _queue_context(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    if not user.is_authenticated or not user.has_perm("leads.accept_lead"):
        raise PermissionDenied
    team_id = _team_id(user)
    can_see_team = user.has_perm("leads.view_team_leads") and team_id is not None
    scope = "team" if request.GET.get("scope") == "team" else "mine"
    rep_filter = ""
    if scope == "team":
        if not can_see_team or team_id is None:
            raise PermissionDenied
        rows = selectors.queue_for_team(team_id=team_id)
        reps = list(forms.team_reps(user))
        rep_filter = request.GET.get("rep", "")
        if rep_filter.isdigit():
            rows = [h for h in rows if h.rep_id == int(rep_filter)]
    else:
        rows = selectors.queue_for_rep(user=user)
        reps = []
    query = ""
    if scope == "team":
        query = "?scope=team" + (f"&rep={rep_filter}" if rep_filter.isdigit() else "")
    page = reverse("sla:queue") + query
    return {
        "rows": rows,
        "scope": scope,
        "team_id": team_id,
        "can_see_team": can_see_team,
        "team": getattr(user.profile, "team", None) if team_id else None,
        "reps": reps,
        "can_reassign": user.has_perm("leads.reassign_lead"),
        "reasons": rejection_reasons(),
        "countdown_strings": _countdown_strings(),
        "live_strings": {"updated": _("The queue changed: %(count)s open.")},
        "limit": selectors.QUEUE_LIMIT,
        # Where the rows' forms come back to, also when the rows were fetched live.
        "back": page,
        "live_url": reverse("sla:queue_live") + query,
        "rep_filter": int(rep_filter) if rep_filter.isdigit() else None,
    }


def _fingerprint(rows: list[Any]) -> str:
    """Changes when a row comes, goes or changes state; the page then swaps its rows."""
    parts = [
        f"{h.pk}:{h.status}:{h.rep_id}:{h.hot}:{h.first_contact_at}:{h.lead.stage}:{h.is_overdue}"
        for h in rows
    ]
    return hashlib.sha1("|".join(parts).encode(), usedforsecurity=False).hexdigest()


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    context = _queue_context(request)
    if context["scope"] == "team":
        context["qualified"] = selectors.recent_qualifications(team_id=context["team_id"])
        everyone = selectors.queue_for_team(team_id=context["team_id"])
        context["summary"] = selectors.team_summary(reps=context["reps"], rows=everyone)
    context["fingerprint"] = _fingerprint(context["rows"])
    return render(request, "sla/queue.html", context)


@login_required
def queue_live(request: HttpRequest) -> JsonResponse:
    """What the open queue page polls: the count, the rows and whether they changed."""
    context = _queue_context(request)
    template = "sla/_team_rows.html" if context["scope"] == "team" else "sla/_queue_rows.html"
    return JsonResponse(
        {
            "count": len(context["rows"]),
            "fingerprint": _fingerprint(context["rows"]),
            "unread": unread_count(user=request.user),
            "rows": render_to_string(template, context, request=request),
        }
    )


def _rejections_data(request: HttpRequest) -> tuple[Any, dict[str, Any]]:
    user = request.user
    if not (user.has_perm("leads.view_all_leads") or user.has_perm("leads.view_team_leads")):
        raise PermissionDenied
    form = forms.RejectionFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    data = selectors.rejections(
        user=user,
        reason=filters.get("reason") or "",
        month=filters.get("month"),
        status=filters.get("status") or "",
        q=filters.get("q") or "",
    )
    return form, data


@login_required
def rejections(request: HttpRequest) -> HttpResponse:
    form, data = _rejections_data(request)
    page = Paginator(data["events"], 50).get_page(request.GET.get("page"))
    for event in page:
        event.reason_label = reason_label(event.reason)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "sla/rejections.html",
        {
            "form": form,
            "counts": data["counts"],
            "total": data["total"],
            "page": page,
            "query": query.urlencode(),
            "can_follow_up": services.may_follow_up_rejections(request.user),
            "recycle_reasons": RecycleReason.choices,
        },
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


@login_required
def rejections_export(request: HttpRequest) -> HttpResponseBase:
    """The rejections as filtered on the page, as CSV Excel opens (UTF-8 with BOM)."""
    _form, data = _rejections_data(request)
    writer = csv.writer(_Echo())
    header = [
        _("Rejected at"),
        _("Lead"),
        _("E-mail"),
        _("Company"),
        _("Reason"),
        _("Note"),
        _("Rep"),
        _("Status"),
        _("Fixed by"),
        _("Fix note"),
    ]

    def when(value: Any) -> str:
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""

    def status(event: Any) -> str:
        fix = getattr(event, "fix", None)
        if event.recycled:
            return _("Recycled")
        return _("Data fixed") if fix is not None else pgettext("rejection status", "Open")

    def rows() -> Iterator[str]:
        yield "\ufeff" + writer.writerow(header)
        for event in data["events"].iterator(chunk_size=1000):
            fix = getattr(event, "fix", None)
            yield writer.writerow(
                [
                    when(event.at),
                    event.lead.display_name,
                    event.lead.email,
                    event.lead.company.name if event.lead.company else "",
                    reason_label(event.reason),
                    event.note,
                    person(event.actor) if event.actor else "",
                    status(event),
                    person(fix.actor) if fix else "",
                    fix.note if fix else "",
                ]
            )

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="rejections-{stamp}.csv"'
    return response


def _rejection_for(request: HttpRequest, event_id: int) -> StageEvent:
    event = (
        StageEvent.objects.filter(pk=event_id, to_stage=Stage.REJECTED)
        .select_related("lead")
        .first()
    )
    if (
        event is None
        or lead_selectors.lead_get_for_user(user=request.user, lead_id=event.lead_id) is None
    ):
        raise Http404(_("No such rejection, or it is not yours to see."))
    return event


def _back_to_rejections(request: HttpRequest) -> HttpResponse:
    back = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = ""
    return redirect(back or reverse("sla:rejections"))


@login_required
@require_POST
def rejection_recycle(request: HttpRequest, event_id: int) -> HttpResponse:
    event = _rejection_for(request, event_id)
    form = forms.RejectionRecycleForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            for error in errors:
                messages.error(request, f"{label}: {error}" if label else str(error))
        return _back_to_rejections(request)
    try:
        services.rejection_recycle(
            event=event,
            user=request.user,
            reason=form.cleaned_data["reason"],
            note=form.cleaned_data["note"],
        )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(
            request,
            _("%(lead)s went back to marketing for nurturing.") % {"lead": event.lead.display_name},
        )
    return _back_to_rejections(request)


@login_required
@require_POST
def rejection_fix(request: HttpRequest, event_id: int) -> HttpResponse:
    event = _rejection_for(request, event_id)
    form = forms.RejectionFixForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    if not form.is_valid():
        for error in form.errors.get("note", []):
            messages.error(request, f"{form.fields['note'].label}: {error}")
        return _back_to_rejections(request)
    try:
        services.rejection_fix(event=event, user=request.user, note=note)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(
            request,
            _("The rejection of %(lead)s is marked fixed.") % {"lead": event.lead.display_name},
        )
    return _back_to_rejections(request)


# --------------------------------------------------------------------------------------------
# The rep's actions on a lead


def _lead_for_action(request: HttpRequest, lead_id: int) -> Lead:
    """Loaded fresh: the stage compared with the form's is the one in the database now."""
    lead = lead_selectors.lead_get_for_user(user=request.user, lead_id=lead_id)
    if lead is None:
        raise Http404(_("No such lead, or it is not yours to see."))
    if not services.can_act(request.user, lead):
        raise PermissionDenied(_("This lead is not yours to act on."))
    return lead


def _back(request: HttpRequest, lead: Lead | None) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    if lead is None:
        return reverse("sla:queue")
    return reverse("leads:detail", args=[lead.pk])


def _moved_away(request: HttpRequest, lead_id: int) -> HttpResponse | None:
    """A click on a lead that was reassigned meanwhile: say to whom and by whom, not 404."""
    lead = lead_selectors.lead_get_for_user(user=request.user, lead_id=lead_id)
    if lead is not None and services.can_act(request.user, lead):
        return None
    moved = selectors.assignment_away_from(user=request.user, lead_id=lead_id)
    if moved is None:
        return None
    values = {
        "person": moved.user.get_full_name() or moved.user.get_username(),
        "at": formats.date_format(timezone.localtime(moved.at), "SHORT_DATETIME_FORMAT"),
    }
    if moved.assigned_by is not None:
        values["by"] = moved.assigned_by.get_full_name() or moved.assigned_by.get_username()
        text = _("This lead was reassigned to %(person)s by %(by)s (%(at)s).") % values
    else:
        text = _("This lead was reassigned to %(person)s (%(at)s).") % values
    messages.error(request, text)
    target = _back(request, None)
    # The lead page would now be a 404 for this person; the queue is where they were.
    if target.startswith(reverse("leads:detail", args=[lead_id])):
        target = reverse("sla:queue")
    return redirect(target)


def _field_label(form: django_forms.Form, field: str) -> str:
    if field in form.fields and form.fields[field].label:
        return str(form.fields[field].label)
    return field


def _report(request: HttpRequest, form: django_forms.Form, errors: dict[str, list[str]]) -> None:
    for field, field_errors in errors.items():
        for message in field_errors:
            if field in ("__all__", None):
                messages.error(request, message)
            else:
                messages.error(request, f"{_field_label(form, field)}: {message}")


def _act(
    request: HttpRequest,
    lead_id: int,
    form_class: type[django_forms.Form],
    perform: Callable[[Lead, dict[str, Any]], Any],
    success: str,
    *,
    stage_change: bool = True,
    form_kwargs: dict[str, Any] | None = None,
) -> HttpResponse:
    """The shape of every action: check, validate, call the service, say what happened."""
    moved = _moved_away(request, lead_id)
    if moved is not None:
        return moved
    lead = _lead_for_action(request, lead_id)
    back = _back(request, lead)
    # The services lock the row and re-check, but they expect the stage the lead is in now;
    # the stage this person saw is only in the form.
    if stage_change and not request.POST.get("expected_stage"):
        messages.error(request, _("This form is out of date: reload the page and try again."))
        return redirect(back)
    if stage_change and request.POST.get("expected_stage") != lead.stage:
        messages.error(request, _stale(lead, request.user))
        return redirect(back)
    form = form_class(request.POST, **(form_kwargs or {}))
    if not form.is_valid():
        errors = {k: [str(m) for m in v] for k, v in form.errors.items() if k != "expected_stage"}
        _report(request, form, errors)
        return redirect(back)
    try:
        perform(lead, form.cleaned_data)
    except TransitionError as exc:
        fresh = Lead.objects.filter(pk=lead.pk).first()
        if getattr(exc, "code", None) == "stale" and fresh is not None:
            messages.error(request, _stale(fresh, request.user))
        else:
            for message in exc.messages:
                messages.error(request, message)
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            _report(request, form, exc.message_dict)
        else:
            for message in exc.messages:
                messages.error(request, message)
    else:
        messages.success(request, success % {"lead": lead.display_name})
    return redirect(back)


@login_required
@require_POST
def lead_accept(request: HttpRequest, lead_id: int) -> HttpResponse:
    return _act(
        request,
        lead_id,
        forms.AcceptForm,
        lambda lead, data: services.lead_accept(lead=lead, user=request.user),
        _("You accepted %(lead)s."),
    )


@login_required
@require_POST
def lead_reject(request: HttpRequest, lead_id: int) -> HttpResponse:
    return _act(
        request,
        lead_id,
        forms.RejectForm,
        lambda lead, data: services.lead_reject(
            lead=lead, user=request.user, reason=data["reason"], note=data["note"]
        ),
        _("You rejected %(lead)s; marketing sees the reason."),
    )


@login_required
@require_POST
def lead_contact(request: HttpRequest, lead_id: int) -> HttpResponse:
    return _act(
        request,
        lead_id,
        forms.ContactForm,
        lambda lead, data: services.contact_log(
            lead=lead, user=request.user, channel=data["channel"], at=data["at"], note=data["note"]
        ),
        _("Contact with %(lead)s logged."),
        # Logging a call is right whatever the stage became meanwhile.
        stage_change=False,
    )


@login_required
@require_POST
def lead_qualify(request: HttpRequest, lead_id: int) -> HttpResponse:
    return _act(
        request,
        lead_id,
        forms.QualifyForm,
        lambda lead, data: services.lead_qualify(
            lead=lead,
            user=request.user,
            bant={f: data[f] for f in services.BANT_FIELDS},
            note=data["note"],
        ),
        _("%(lead)s is now an SQL."),
    )


@login_required
@require_POST
def lead_recycle(request: HttpRequest, lead_id: int) -> HttpResponse:
    return _act(
        request,
        lead_id,
        forms.RecycleForm,
        lambda lead, data: services.lead_recycle(
            lead=lead, user=request.user, reason=data["reason"], note=data["note"]
        ),
        _("%(lead)s went back to marketing for nurturing."),
    )


@login_required
@require_POST
def lead_disqualify(request: HttpRequest, lead_id: int) -> HttpResponse:
    return _act(
        request,
        lead_id,
        forms.DisqualifyForm,
        lambda lead, data: services.lead_disqualify(
            lead=lead, user=request.user, reason=data["reason"], note=data["note"]
        ),
        _("%(lead)s is disqualified."),
    )


@login_required
@require_POST
def bulk_reassign(request: HttpRequest) -> HttpResponse:
    """Reassign the ticked leads of the team view to one rep, who must be chosen."""
    user = request.user
    if not user.has_perm("leads.reassign_lead"):
        raise PermissionDenied
    back = _back(request, None)
    ids = [int(v) for v in request.POST.getlist("leads") if v.isdigit()]
    if not ids:
        messages.error(request, _("Tick the leads to reassign."))
        return redirect(back)
    try:
        field = forms.ReassignForm(manager=user).fields["to_user"]
        to_user = field.clean(request.POST.get("to_user", ""))
    except ValidationError:
        to_user = None
    if to_user is None:
        messages.error(request, _("Reassign to: choose the rep who takes the ticked leads."))
        return redirect(back)
    done, problems = 0, []
    for lead_id in ids:
        lead = lead_selectors.lead_get_for_user(user=user, lead_id=lead_id)
        if lead is None:
            continue
        try:
            services.lead_reassign(lead=lead, to_user=to_user, by=user)
        except (ValidationError, PermissionDenied) as exc:
            detail = "; ".join(getattr(exc, "messages", [str(exc)]))
            problems.append(f"{lead.display_name}: {detail}")
        else:
            done += 1
    if done:
        messages.success(
            request,
            ngettext(
                "%(count)d lead reassigned to %(rep)s.",
                "%(count)d leads reassigned to %(rep)s.",
                done,
            )
            % {"count": done, "rep": to_user.get_full_name() or to_user.get_username()},
        )
    for problem in problems:
        messages.error(request, problem)
    return redirect(back)


@login_required
@require_POST
def lead_reassign(request: HttpRequest, lead_id: int) -> HttpResponse:
    if not request.user.has_perm("leads.reassign_lead"):
        raise PermissionDenied
    return _act(
        request,
        lead_id,
        forms.ReassignForm,
        lambda lead, data: services.lead_reassign(
            lead=lead, to_user=data["to_user"], by=request.user, note=data["note"]
        ),
        _("%(lead)s is reassigned."),
        stage_change=False,
        form_kwargs={"manager": request.user},
    )


def lead_panels(request: HttpRequest, lead: Lead) -> dict[str, Any]:
    """What the lead page adds for the SLA: actions, hand-off, assignments, contacts, why."""
    user = request.user
    context: dict[str, Any] = {
        **selectors.lead_handoff_panels(lead=lead),
        **selectors.lead_score_explanation(lead=lead),
        "countdown_strings": _countdown_strings(),
    }
    can_act = services.can_act(user, lead)
    context["can_act"] = can_act
    if can_act:
        initial = {"expected_stage": lead.stage}
        stage = lead.stage
        context["actions"] = {
            "accept": stage == Stage.MQL and user.has_perm("leads.accept_lead"),
            "reject": stage == Stage.MQL and user.has_perm("leads.accept_lead"),
            "contact": stage in (Stage.MQL, Stage.SAL) and user.has_perm("leads.qualify_lead"),
            "qualify": stage == Stage.SAL and user.has_perm("leads.qualify_lead"),
            "recycle": stage in (Stage.SAL, Stage.REJECTED) and user.has_perm("leads.qualify_lead"),
            "disqualify": stage == Stage.SAL and user.has_perm("leads.qualify_lead"),
            "reassign": user.has_perm("leads.reassign_lead"),
        }
        context["any_action"] = any(context["actions"].values())
        context["action_forms"] = {
            "accept": forms.AcceptForm(initial=initial, auto_id="accept_%s"),
            "reject": forms.RejectForm(initial=initial, auto_id="reject_%s"),
            "contact": forms.ContactForm(initial=initial, auto_id="contact_%s"),
            "qualify": forms.QualifyForm(initial=initial, auto_id="qualify_%s"),
            "recycle": forms.RecycleForm(initial=initial, auto_id="recycle_%s"),
            "disqualify": forms.DisqualifyForm(initial=initial, auto_id="disqualify_%s"),
            "reassign": forms.ReassignForm(initial=initial, auto_id="reassign_%s", manager=user),
        }
    return context


# --------------------------------------------------------------------------------------------
# The agreement

view_sla = permission_required("sla.view_slaversion", raise_exception=True)


def _draft() -> SlaVersion | None:
    return SlaVersion.objects.filter(status=SlaVersion.Status.DRAFT).first()


def _summary(version: SlaVersion) -> dict[str, Any]:
    return {
        "version": version,
        "days": selectors.working_days_label(version.working_days),
        "closed_days": list(version.closed_days.all()),
    }


@login_required
@view_sla
def overview(request: HttpRequest) -> HttpResponse:
    live = services.sla_live()
    draft = _draft()
    my_sides = approval_sides(request.user)
    user = request.user
    if not (user.has_perm("sla.change_slaversion") or my_sides):
        # Reps read the agreement in force; drafts are for the people who sign them.
        draft = None
    if user.has_perm("leads.view_all_leads"):
        measured = list(roles.all_reps())
    elif user.has_perm("leads.view_team_leads"):
        measured = list(roles.team_reps(user))
    else:
        measured = [user] if user.has_perm("leads.accept_lead") else []
    context: dict[str, Any] = {
        "live": _summary(live),
        "draft": draft,
        "versions": selectors.sla_versions(),
        "history": selectors.sla_change_history(limit=50),
        "can_edit": request.user.has_perm("sla.change_slaversion"),
        "can_publish": request.user.has_perm("signoff.publish_version"),
        "compliance": selectors.compliance(reps=measured) if measured else [],
        "compliance_own": measured == [user],
    }
    if draft is not None:
        approvals = list(draft.approvals.select_related("user"))
        context.update(
            draft_summary=_summary(draft),
            approvals=approvals,
            missing=[SlaApproval.Side(s).label for s in services.sla_missing_approvals(draft)],
            can_approve=bool(
                set(my_sides) - {a.side for a in approvals if a.user_id == request.user.pk}
            ),
            diff=selectors.sla_diff(old=live, new=draft),
            problems=services.sla_validate(draft),
        )
    return render(request, "sla/overview.html", context)


AGREEMENT = Agreement(
    model=SlaVersion,
    overview_url="sla:overview",
    view_perm="sla.view_slaversion",
    edit_perm="sla.change_slaversion",
    start=services.sla_draft_get_or_create,
    approve=services.sla_approve,
    publish=services.sla_publish,
    started=gettext_lazy("SLA draft v%(n)d is open for editing."),
    approved=gettext_lazy("You approved SLA draft v%(n)d."),
    published=gettext_lazy(
        "SLA v%(n)d is in force. New MQLs get its deadlines; open hand-offs keep theirs."
    ),
    no_draft_to_approve=gettext_lazy("There is no draft to approve."),
    no_draft_to_publish=gettext_lazy("There is no draft to publish."),
    request=services.sla_request_approval,
)


# --------------------------------------------------------------------------------------------
# The draft's editor

edit_sla = permission_required("sla.change_slaversion", raise_exception=True)


def _sla_draft_or_redirect(request: HttpRequest) -> SlaVersion | HttpResponse:
    draft = _draft()
    if draft is None:
        messages.info(request, _("There is no open draft. Start one first."))
        return redirect("sla:overview")
    return draft


def _say_withdrawn(request: HttpRequest, had_approvals: bool, draft: SlaVersion) -> None:
    if had_approvals and not draft.approvals.exists():
        messages.warning(request, _("The draft changed, so its approvals were withdrawn."))


def _editor(
    request: HttpRequest,
    draft: SlaVersion,
    form: forms.SlaDraftForm,
    day_form: forms.ClosedDayForm,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "sla/draft_edit.html",
        {
            "draft": draft,
            "form": form,
            "day_form": day_form,
            "closed_days": list(draft.closed_days.all()),
            "example": selectors.worked_example(version=draft),
            "holidays": selectors.upcoming_holidays(
                country=draft.holiday_country,
                subdivision=draft.holiday_subdivision,
                language=(translation.get_language() or "en").split("-")[0],
            ),
            "countries": {
                code: info["regions"] for code, info in forms.holiday_countries().items()
            },
            "terms": {
                "calendar": SlaVersion.CALENDAR_TERMS,
                "sales": SlaVersion.SALES_TERMS,
                "marketing": SlaVersion.MARKETING_TERMS,
            },
        },
        status=status,
    )


@login_required
@edit_sla
def draft_edit(request: HttpRequest) -> HttpResponse:
    draft = _sla_draft_or_redirect(request)
    if isinstance(draft, HttpResponse):
        return draft
    form = forms.SlaDraftForm(request.POST or None, instance=draft)
    if request.method == "POST":
        if form.is_valid():
            data = {name: form.cleaned_data[name] for name in form.changed_data}
            if data:
                had = draft.approvals.exists()
                try:
                    services.sla_draft_update(version=draft, data=data, user=request.user)
                except ValidationError as exc:
                    for field, errors in exc.message_dict.items():
                        for message in errors:
                            form.add_error(field if field in form.fields else None, message)
                else:
                    messages.success(request, _("The draft is saved."))
                    _say_withdrawn(request, had, draft)
                    return redirect("sla:draft_edit")
            else:
                return redirect("sla:draft_edit")
        draft.refresh_from_db()
        return _editor(request, draft, form, forms.ClosedDayForm(), status=400)
    return _editor(request, draft, form, forms.ClosedDayForm())


@login_required
@edit_sla
@require_POST
def closed_day_add(request: HttpRequest) -> HttpResponse:
    draft = _sla_draft_or_redirect(request)
    if isinstance(draft, HttpResponse):
        return draft
    day_form = forms.ClosedDayForm(request.POST)
    if day_form.is_valid():
        had = draft.approvals.exists()
        try:
            services.closed_day_add(
                version=draft,
                date=day_form.cleaned_data["date"],
                name=day_form.cleaned_data["name"],
                user=request.user,
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for message in errors:
                    day_form.add_error(field if field in day_form.fields else None, message)
        else:
            messages.success(request, _("Closed day added."))
            _say_withdrawn(request, had, draft)
            return redirect(reverse("sla:draft_edit") + "#closed-days")
    return _editor(request, draft, forms.SlaDraftForm(instance=draft), day_form, status=400)


@login_required
@edit_sla
@require_POST
def closed_day_delete(request: HttpRequest, day_id: int) -> HttpResponse:
    draft = _draft()
    if draft is None:
        raise Http404(_("There is no open draft."))
    day = draft.closed_days.filter(pk=day_id).first()
    if day is None:
        raise Http404(_("No such closed day in the draft."))
    had = draft.approvals.exists()
    services.closed_day_delete(day=day, user=request.user)
    messages.success(request, _("Closed day removed."))
    _say_withdrawn(request, had, draft)
    return redirect(reverse("sla:draft_edit") + "#closed-days")


@login_required
@require_POST
def leads_bulk(request: HttpRequest) -> HttpResponse:
    """The lead list's bulk actions. Each lead is done on its own: one that cannot be
    reassigned or recycled is named with the reason, and the others still go through."""
    user = request.user
    form = forms.BulkActionForm(request.POST, manager=user)
    back = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = ""
    back = back or reverse("leads:list")
    if not form.is_valid():
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            for error in errors:
                messages.error(request, f"{label}: {error}" if label else str(error))
        return redirect(back)
    data = form.cleaned_data
    action = data["action"]
    if action == "reassign" and not roles.may_bulk_reassign(user):
        raise PermissionDenied(_("You cannot reassign leads."))
    if action == "recycle" and not roles.may_bulk_recycle(user):
        raise PermissionDenied(_("You cannot recycle leads."))
    leads = {
        lead.pk: lead
        for lead in lead_selectors.leads_visible(user=user).filter(pk__in=data["leads"])
    }
    done: list[Lead] = []
    problems: list[str] = []
    for lead_id in data["leads"]:
        lead = leads.get(lead_id)
        if lead is None:
            problems.append(
                _("Lead %(id)d: no such lead, or it is not yours to see.") % {"id": lead_id}
            )
            continue
        try:
            if action == "reassign":
                services.lead_reassign(
                    lead=lead, to_user=data["to_user"], by=user, note=data["note"]
                )
            else:
                services.lead_recycle(
                    lead=lead, user=user, reason=data["reason"], note=data["note"]
                )
        except ValidationError as exc:  # TransitionError too
            problems.append(f"{lead.display_name}: {' '.join(exc.messages)}")
        except PermissionDenied as exc:
            problems.append(f"{lead.display_name}: {exc}")
        else:
            done.append(lead)
    if done:
        if action == "reassign":
            rep = data["to_user"]
            messages.success(
                request,
                ngettext(
                    "%(count)d lead reassigned to %(rep)s.",
                    "%(count)d leads reassigned to %(rep)s.",
                    len(done),
                )
                % {"count": len(done), "rep": rep.get_full_name() or rep.get_username()},
            )
        else:
            messages.success(
                request,
                ngettext(
                    "%(count)d lead went back to marketing for nurturing.",
                    "%(count)d leads went back to marketing for nurturing.",
                    len(done),
                )
                % {"count": len(done)},
            )
    if problems:
        shown = problems[:10]
        more = len(problems) - len(shown)
        head = ngettext(
            "%(count)d lead was left as it was:",
            "%(count)d leads were left as they were:",
            len(problems),
        ) % {"count": len(problems)}
        tail = (_("and %(count)d more.") % {"count": more}) if more else ""
        messages.error(request, " ".join([head, "; ".join(shown), tail]).strip())
    return redirect(back)
