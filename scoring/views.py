from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from signoff.views import Agreement

from . import charts, selectors, services, tuning
from .forms import CommentForm, TuningPeriodForm
from .models import Approval, DraftComment, RescoreRun, RuleSetVersion

view_rules = permission_required("scoring.view_rulesetversion", raise_exception=True)


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
        "versions": selectors.versions(),
        "comment_form": CommentForm(),
        "can_edit": request.user.has_perm("scoring.edit_draft"),
        "my_sides": services.approval_sides(request.user),
    }
    if draft is not None:
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
    return render(
        request, "scoring/compare.html", {"diff": selectors.version_diff(old=old, new=new)}
    )


@login_required
@view_rules
def preview(request: HttpRequest) -> HttpResponse:
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
)


@login_required
@require_POST
def draft_comment(request: HttpRequest) -> HttpResponse:
    draft = _draft()
    form = CommentForm(request.POST)
    user = request.user
    if (
        draft is None
        or not user.is_authenticated
        or not user.has_perm("scoring.view_rulesetversion")
    ):
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


def tuning_period(form: TuningPeriodForm) -> tuning.Period:
    """The form's period when it is valid and given, else the default (last six months)."""
    if form.is_valid() and form.cleaned_data.get("start"):
        return tuning.period_from_dates(form.cleaned_data["start"], form.cleaned_data["end"])
    return tuning.default_period()


@login_required
@view_rules
def tuning_page(request: HttpRequest) -> HttpResponse:
    live = services.ruleset_live()
    form = TuningPeriodForm(request.GET or None)
    context: dict[str, Any] = {"live": live, "form": form}
    if form.is_bound and not form.is_valid():
        return render(request, "scoring/tuning.html", context, status=400)
    period = tuning_period(form)
    context["period"] = period
    context["last_day"] = timezone.localtime(period.end - dt.timedelta(microseconds=1)).date()
    if live is not None:
        context["evidence"] = tuning.evidence(version=live, period=period)
    return render(request, "scoring/tuning.html", context)
