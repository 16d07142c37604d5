from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from signoff.views import Agreement

from . import charts, selectors, services, tuning
from .forms import CommentForm, RuleForm, SettingsForm, TuningPeriodForm
from .models import Approval, DraftComment, RescoreRun, Rule, RuleSetVersion

view_rules = permission_required("scoring.view_rulesetversion", raise_exception=True)
edit_rules = permission_required("scoring.edit_draft", raise_exception=True)


def can_see_drafts(user: Any) -> bool:
    """Managers (who edit or sign drafts) see them; reps read what is live."""
    return user.has_perm("scoring.edit_draft") or bool(services.approval_sides(user))


def _draft() -> RuleSetVersion | None:
    return RuleSetVersion.objects.filter(status=RuleSetVersion.Status.DRAFT).first()


@login_required
@view_rules
def overview(request: HttpRequest) -> HttpResponse:
    live = services.ruleset_live()
    draft = _draft()
    context: dict[str, Any] = {
        "live": live,
        "draft": draft,
        "run": selectors.latest_run(),
        "versions": [
            v for v in selectors.versions() if not v.is_draft or can_see_drafts(request.user)
        ],
        "comment_form": CommentForm(),
        "can_edit": request.user.has_perm("scoring.edit_draft"),
        "my_sides": services.approval_sides(request.user),
        "sees_drafts": can_see_drafts(request.user),
    }
    if draft is not None and context["sees_drafts"]:
        approvals = list(draft.approvals.select_related("user"))
        context.update(
            approvals=approvals,
            approved_sides={a.side for a in approvals},
            missing=[Approval.Side(s).label for s in services.missing_approvals(draft)],
            can_approve=bool(
                set(context["my_sides"])
                - {a.side for a in approvals if a.user_id == request.user.pk}
            ),
            diff=selectors.version_diff(old=live, new=draft),
            history=selectors.rule_change_history(version=draft, limit=30),
            comments=draft.comments.select_related("author"),
        )
    return render(request, "scoring/overview.html", context)


@login_required
@view_rules
def version_detail(request: HttpRequest, number: int) -> HttpResponse:
    version = get_object_or_404(RuleSetVersion, number=number)
    if version.is_draft and not can_see_drafts(request.user):
        raise PermissionDenied
    return render(request, "scoring/version.html", {"version": version})


@login_required
@view_rules
def compare(request: HttpRequest) -> HttpResponse:
    try:
        old_number, new_number = int(request.GET.get("old", "")), int(request.GET.get("new", ""))
    except ValueError:
        messages.error(request, _("Choose two versions to compare."))
        return redirect("scoring:overview")
    old = get_object_or_404(RuleSetVersion, number=old_number)
    new = get_object_or_404(RuleSetVersion, number=new_number)
    if (old.is_draft or new.is_draft) and not can_see_drafts(request.user):
        raise PermissionDenied
    return render(
        request, "scoring/compare.html", {"diff": selectors.version_diff(old=old, new=new)}
    )


@login_required
@view_rules
def preview(request: HttpRequest) -> HttpResponse:
    if not can_see_drafts(request.user):
        raise PermissionDenied
    draft = _draft()
    if draft is None:
        messages.info(request, _("There is no draft to preview."))
        return redirect("scoring:overview")
    live = services.ruleset_live()
    impact = selectors.draft_impact(draft=draft, live=live)
    draft_backtest = selectors.backtest(version=draft)
    live_backtest = selectors.backtest(version=live) if live else []
    actual = selectors.actual_mqls_by_month()
    return render(
        request,
        "scoring/preview.html",
        {
            "draft": draft,
            "live": live,
            "impact": impact,
            "rows": charts.backtest_rows(draft_backtest, live_backtest, actual),
            "distribution_figure": charts.distribution_figure(impact),
            "backtest_figure": charts.backtest_figure(draft_backtest, live_backtest, actual),
        },
    )


AGREEMENT = Agreement(
    model=RuleSetVersion,
    overview_url="scoring:overview",
    view_perm="scoring.view_rulesetversion",
    edit_perm="scoring.edit_draft",
    start=services.draft_get_or_create,
    approve=services.ruleset_approve,
    publish=services.ruleset_publish,
    started=gettext_lazy("Draft v%(n)d is open for editing."),
    approved=gettext_lazy("You approved draft v%(n)d."),
    published=gettext_lazy("Version %(n)d is live. Every lead is being rescored."),
    no_draft_to_approve=gettext_lazy("There is no draft to approve."),
    no_draft_to_publish=gettext_lazy("There is no draft to publish."),
    after_publish=lambda run: redirect("scoring:run", run_id=run.pk),
    request=services.ruleset_request_approval,
)


@login_required
@require_POST
def draft_comment(request: HttpRequest) -> HttpResponse:
    draft = _draft()
    form = CommentForm(request.POST)
    user = request.user
    if draft is None or not user.is_authenticated or not can_see_drafts(user):
        raise PermissionDenied
    if form.is_valid():
        DraftComment.objects.create(version=draft, author=user, text=form.cleaned_data["text"])
        messages.success(request, _("Comment added."))
    else:
        messages.error(request, _("Write a comment first."))
    return redirect(reverse("scoring:overview") + "#comments")


@login_required
@view_rules
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(RescoreRun.objects.select_related("version"), pk=run_id)
    return render(
        request, "scoring/run.html", {"run": run, "progress": selectors.run_progress(run)}
    )


@login_required
@view_rules
def run_progress(request: HttpRequest, run_id: int) -> JsonResponse:
    run = get_object_or_404(RescoreRun.objects.select_related("version"), pk=run_id)
    return JsonResponse(selectors.run_progress(run))


# --------------------------------------------------------------------------------------------
# The draft's editor: settings and rules, grouped by kind


def _draft_or_redirect(request: HttpRequest) -> RuleSetVersion | HttpResponse:
    draft = _draft()
    if draft is None:
        messages.info(request, _("There is no open draft. Start one first."))
        return redirect("scoring:overview")
    return draft


def _rule_groups(draft: RuleSetVersion) -> list[dict[str, Any]]:
    rules = list(draft.rules.order_by("position", "id"))
    add = {
        "fit": _("New fit rule"),
        "behaviour": _("New behaviour rule"),
        "exclusion": _("New exclusion rule"),
        "fast_track": _("New fast-track rule"),
    }
    return [
        {
            "kind": kind,
            "label": label,
            "add": add.get(kind, label),
            "rules": [r for r in rules if r.kind == kind],
        }
        for kind, label in Rule.Kind.choices
    ]


def _say_withdrawn(request: HttpRequest, had_approvals: bool, draft: RuleSetVersion) -> None:
    if had_approvals and not draft.approvals.exists():
        messages.warning(request, _("The draft changed, so its approvals were withdrawn."))


@login_required
@edit_rules
def draft_edit(request: HttpRequest) -> HttpResponse:
    draft = _draft_or_redirect(request)
    if isinstance(draft, HttpResponse):
        return draft
    form = SettingsForm(request.POST or None, instance=draft)
    if request.method == "POST":
        if form.is_valid():
            if form.has_changed():
                had = draft.approvals.exists()
                data = {name: form.cleaned_data[name] for name in form.changed_data}
                services.draft_settings_update(version=draft, data=data, user=request.user)
                messages.success(request, _("Settings saved."))
                _say_withdrawn(request, had, draft)
            return redirect("scoring:draft_edit")
        draft.refresh_from_db()
    return render(
        request,
        "scoring/draft_edit.html",
        {
            "draft": draft,
            "form": form,
            "groups": _rule_groups(draft),
            # The counts' words, translated here so the script stays language-free.
            "count_words": {
                "leads_one": _("%(n)s lead"),
                "leads_many": _("%(n)s leads"),
                "activities_one": _("%(n)s activity in window"),
                "activities_many": _("%(n)s activities in window"),
                "failed": _("Counts are not available right now."),
            },
        },
    )


@login_required
@edit_rules
def draft_counts(request: HttpRequest) -> JsonResponse:
    """How many leads (and activities) each rule of the draft matches now. Fetched by the
    editor after it shows, so the page never waits for the counting."""
    draft = _draft()
    if draft is None:
        raise Http404(_("There is no open draft."))
    counts = selectors.rule_match_counts(version=draft)
    return JsonResponse({"rules": {str(k): v for k, v in counts.items()}})


def _rule_form_page(
    request: HttpRequest, draft: RuleSetVersion, rule: Rule | None, initial: dict[str, Any]
) -> HttpResponse:
    groups = selectors.field_choices()
    form = RuleForm(request.POST or None, initial=initial, field_groups=groups)
    if request.method == "POST" and form.is_valid():
        data = form.rule_data()
        had = draft.approvals.exists()
        try:
            if rule is None:
                last = draft.rules.filter(kind=data["kind"]).order_by("-position").first()
                data["position"] = (last.position + 1) if last else 1
                rule = services.rule_create(version=draft, data=data, user=request.user)
                messages.success(request, _("Rule “%(name)s” added.") % {"name": rule.name})
            else:
                rule = services.rule_update(rule=rule, data=data, user=request.user)
                messages.success(request, _("Rule “%(name)s” saved.") % {"name": rule.name})
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                form.add_service_errors(exc.message_dict)
            else:
                for message in exc.messages:
                    form.add_error(None, message)
        else:
            _say_withdrawn(request, had, draft)
            return redirect(reverse("scoring:draft_edit") + f"#kind-{rule.kind}")
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "scoring/rule_form.html",
        {
            "draft": draft,
            "rule": rule,
            "form": form,
            "field_groups": groups,
            "property_keys": selectors.activity_property_keys(),
            "activity_kinds": Rule._meta.get_field("activity_kind").choices,
        },
        status=status,
    )


@login_required
@edit_rules
def rule_add(request: HttpRequest) -> HttpResponse:
    draft = _draft_or_redirect(request)
    if isinstance(draft, HttpResponse):
        return draft
    kind = request.GET.get("kind", "fit")
    initial: dict[str, Any] = {"kind": kind if kind in Rule.Kind.values else "fit", "points": 0}
    return _rule_form_page(request, draft, None, initial)


def _draft_rule(request: HttpRequest, rule_id: int) -> tuple[RuleSetVersion, Rule]:
    draft = _draft()
    if draft is None:
        raise Http404(_("There is no open draft."))
    return draft, get_object_or_404(Rule, pk=rule_id, version=draft)


@login_required
@edit_rules
def rule_edit(request: HttpRequest, rule_id: int) -> HttpResponse:
    draft, rule = _draft_rule(request, rule_id)
    return _rule_form_page(request, draft, rule, RuleForm.initial_for(rule))


@login_required
@edit_rules
@require_POST
def rule_delete(request: HttpRequest, rule_id: int) -> HttpResponse:
    draft, rule = _draft_rule(request, rule_id)
    had = draft.approvals.exists()
    kind, name = rule.kind, rule.name
    services.rule_delete(rule=rule, user=request.user)
    messages.success(request, _("Rule “%(name)s” deleted.") % {"name": name})
    _say_withdrawn(request, had, draft)
    return redirect(reverse("scoring:draft_edit") + f"#kind-{kind}")


@login_required
@edit_rules
@require_POST
def rule_duplicate(request: HttpRequest, rule_id: int) -> HttpResponse:
    draft, rule = _draft_rule(request, rule_id)
    had = draft.approvals.exists()
    data = {name: getattr(rule, name) for name in Rule.EDITABLE_FIELDS}
    data["name"] = _("%(name)s (copy)") % {"name": rule.name}
    last = draft.rules.filter(kind=rule.kind).order_by("-position").first()
    data["position"] = (last.position if last else 0) + 1
    copy = services.rule_create(version=draft, data=data, user=request.user)
    messages.success(request, _("Rule “%(name)s” added.") % {"name": copy.name})
    _say_withdrawn(request, had, draft)
    return redirect("scoring:rule_edit", rule_id=copy.pk)


@login_required
@edit_rules
@require_POST
def rule_move(request: HttpRequest, rule_id: int) -> HttpResponse:
    """Up or down within its kind; the order decides which exclusion names the reason."""
    draft, rule = _draft_rule(request, rule_id)
    siblings = list(draft.rules.filter(kind=rule.kind).order_by("position", "id"))
    index = next(i for i, r in enumerate(siblings) if r.pk == rule.pk)
    step = -1 if request.POST.get("direction") == "up" else 1
    other = index + step
    if 0 <= other < len(siblings):
        siblings[index], siblings[other] = siblings[other], siblings[index]
        had = draft.approvals.exists()
        for position, sibling in enumerate(siblings, start=1):
            if sibling.position != position:
                services.rule_update(rule=sibling, data={"position": position}, user=request.user)
        _say_withdrawn(request, had, draft)
    return redirect(reverse("scoring:draft_edit") + f"#rule-{rule.pk}")


def tuning_period(form: TuningPeriodForm) -> tuning.Period:
    """The form's period when it is valid and given, else the default (last six months)."""
    if form.is_valid() and form.cleaned_data.get("start"):
        return tuning.period_from_dates(form.cleaned_data["start"], form.cleaned_data["end"])
    return tuning.default_period()


@login_required
@view_rules
def tuning_page(request: HttpRequest) -> HttpResponse:
    live = services.ruleset_live()
    form = TuningPeriodForm(
        request.GET or None, initial={"commitment": tuning.commitment_default()}
    )
    context: dict[str, Any] = {"live": live, "form": form}
    if form.is_bound and not form.is_valid():
        return render(request, "scoring/tuning.html", context, status=400)
    period = tuning_period(form)
    context["period"] = period
    context["last_day"] = timezone.localtime(period.end - dt.timedelta(microseconds=1)).date()
    if live is not None:
        cohort = tuning.cohort_cached(version=live, period=period)
        context["evidence"] = tuning.evidence(version=live, period=period, cohort=cohort)
        context["suggestions"] = tuning.suggestions(
            version=live,
            period=period,
            commitment=form.cleaned_data.get("commitment") if form.is_bound else None,
            cohort=cohort,
        )
        context["can_edit"] = request.user.has_perm("scoring.edit_draft")
    return render(request, "scoring/tuning.html", context)


def period_label(period: tuning.Period) -> str:
    last = timezone.localtime(period.end - dt.timedelta(microseconds=1)).date()
    return f"{timezone.localtime(period.start).date().isoformat()}–{last.isoformat()}"


@login_required
@view_rules
@edit_rules
@require_POST
def tuning_apply(request: HttpRequest) -> HttpResponse:
    """The chosen suggestions go into the draft (never live: both sides still sign)."""
    form = TuningPeriodForm(request.POST)
    live = services.ruleset_live()
    if live is None or not form.is_valid():
        messages.error(request, _("The period of the suggestions is not valid; open them again."))
        return redirect("scoring:tuning")
    period = tuning_period(form)
    found = tuning.suggestions(
        version=live, period=period, commitment=form.cleaned_data.get("commitment")
    )
    by_key = {item["key"]: item for item in found["items"]}
    keys = request.POST.getlist("key")
    unknown = [k for k in keys if k not in by_key]
    if unknown:
        messages.error(
            request,
            _("These suggestions are no longer offered (the history moved): %(keys)s")
            % {"keys": ", ".join(unknown)},
        )
        return redirect(reverse("scoring:tuning") + "?" + request.POST.urlencode())
    try:
        draft = services.suggestions_apply(
            items=[by_key[k] for k in keys], period_label=period_label(period), user=request.user
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("scoring:tuning")
    messages.success(
        request,
        _("%(n)d suggestions are in draft v%(v)d. It needs both sign-offs to go live.")
        % {"n": len(keys), "v": draft.number},
    )
    return redirect(reverse("scoring:overview") + "#draft")


@login_required
@edit_rules
def draft_test(request: HttpRequest) -> HttpResponse:
    """Test a lead: find it by name or e-mail, see its score under the live version and the
    draft side by side, rule by rule, with the MQL verdict of each."""
    draft = _draft_or_redirect(request)
    if isinstance(draft, HttpResponse):
        return draft
    query = (request.GET.get("q") or "").strip()[:200]
    context: dict[str, Any] = {"draft": draft, "query": query, "results": [], "test": None}
    if query:
        context["results"] = selectors.lead_search(user=request.user, query=query)
    lead_id = request.GET.get("lead", "")
    if lead_id:
        from leads.selectors import lead_get_for_user

        lead = (
            lead_get_for_user(user=request.user, lead_id=int(lead_id))
            if lead_id.isdigit() and len(lead_id) <= 15
            else None
        )
        if lead is None:
            messages.error(request, _("No such lead, or it is not yours to see."))
        else:
            context["test"] = selectors.lead_test(
                lead=lead, live=services.ruleset_live(), draft=draft
            )
    return render(request, "scoring/draft_test.html", context)
