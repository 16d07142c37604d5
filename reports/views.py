from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from scoring import services as scoring_services
from scoring import tuning

from . import charts, exports, selectors, services
from .forms import ActionItemForm, MetricFilterForm, ReviewNoteForm
from .models import SIZE_BAND_CODES, ActionItem, ReviewNote

view_dashboard = permission_required("reports.view_dashboard", raise_exception=True)


def _filtered(request: HttpRequest) -> tuple[MetricFilterForm, selectors.Filters | None]:
    form = MetricFilterForm(request.GET, from_first_data=True)
    return form, (form.filters() if form.is_valid() else None)


@login_required
@view_dashboard
def dashboard(request: HttpRequest) -> HttpResponse:
    form, filters = _filtered(request)
    context: dict[str, Any] = {
        "form": form,
        "choices": selectors.filter_choices(filters),
        "sizes": SIZE_BAND_CODES,
        "time_zone": selectors.report_time_zone().key,
        "zone": selectors.reporting_zone(),
    }
    if filters is None:
        return render(request, "reports/dashboard.html", context, status=400)
    data = selectors.all_metrics(filters)
    query = urlencode(filters.as_params())
    context.update(
        filters=filters,
        data=data,
        summary=selectors.period_summary(data),
        figures=charts.dashboard_figures(data),
        query=query,
        share_url=request.build_absolute_uri(f"{reverse('reports:dashboard')}?{query}"),
        api_url=f"{reverse('api-metric-mql-volume')}?{query}",
        review_month=selectors.month_start(filters.end),
        conversion_rows=list(
            zip(data["conversion"]["months"], data["marketing-targets"]["months"], strict=True)
        ),
        maturity_days=selectors.COHORT_MATURITY_DAYS,
    )
    return render(request, "reports/dashboard.html", context)


@login_required
@view_dashboard
def dashboard_export(request: HttpRequest) -> HttpResponse:
    form, filters = _filtered(request)
    if filters is None:
        return HttpResponse(
            "\n".join(f"{k}: {' '.join(str(m) for m in v)}" for k, v in form.errors.items()),
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    shape = request.GET.get("format") or "wide"
    if shape not in ("wide", "long"):
        return HttpResponse(
            "format: " + _("Choose wide (a row per month) or long (metric, row, field, value)."),
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    data = selectors.all_metrics(filters)
    if shape == "long":
        rows = exports.dashboard_rows(data)
        return exports.csv_response(rows, f"handoff-{filters.start}-{filters.end}-long.csv")
    rows = exports.dashboard_wide_rows(data)
    return exports.csv_response(rows, f"handoff-{filters.start}-{filters.end}.csv")


def _current_month() -> dt.date:
    return selectors.month_start(selectors.report_today())


def _check_month(month: dt.date) -> None:
    if month > _current_month():
        raise Http404(_("That month has not started yet."))


@login_required
@view_dashboard
def review_latest(request: HttpRequest) -> HttpResponse:
    """The meeting reviews the month that just ended, or the month picked (?month=YYYY-MM);
    a month that is not one, or has not started, falls back to the month that just ended."""
    month = selectors.add_months(_current_month(), -1)
    picked = request.GET.get("month", "")
    try:
        year, number = picked.split("-") if picked else ("", "")
        chosen = dt.date(int(year), int(number), 1) if picked else None
    except ValueError:
        chosen = None
    if chosen is not None and dt.date(2000, 1, 1) <= chosen <= _current_month():
        month = chosen
    return redirect("reports:review", month=month)


@login_required
@view_dashboard
def review(request: HttpRequest, month: dt.date) -> HttpResponse:
    _check_month(month)
    result = selectors.review(month)
    data = result["data"]
    figures = {
        "chart-volume": charts.mql_volume_figure(data["mql-volume"]),
        "chart-compliance": charts.compliance_figure(data["sla-compliance"]),
        "chart-conversion": charts.conversion_figure(data["conversion"], data["marketing-targets"]),
        "chart-rejections": charts.rejection_figure(data["rejection-reasons"]),
        "chart-compliance-rep": charts.compliance_by_rep_figure(data["sla-compliance-by-rep"]),
        "chart-calibration": charts.calibration_figure(data["score-calibration"]),
    }
    can_edit = request.user.has_perm("reports.edit_review")
    notes = ReviewNote.objects.filter(month=month).select_related("author")
    actions = ActionItem.objects.filter(month=month).select_related("owner", "author", "done_by")
    open_before = (
        ActionItem.objects.filter(month__lt=month, done_at__isnull=True)
        .select_related("owner")
        .order_by("month", "id")
    )
    edit_note = _int(request.GET.get("edit_note"))
    edit_action = _int(request.GET.get("edit_action"))
    context = {
        "month": month,
        "review": result,
        "figures": figures,
        "targets": data["marketing-targets"]["months"][-1],
        "previous_month": selectors.add_months(month, -1),
        "next_month": selectors.add_months(month, 1) if month < _current_month() else None,
        "time_zone": selectors.report_time_zone().key,
        "zone": selectors.reporting_zone(),
        "maturity_days": selectors.COHORT_MATURITY_DAYS,
        "notes": notes,
        "actions": actions,
        "open_before": open_before,
        "can_edit": can_edit,
        "note_form": ReviewNoteForm(),
        "action_form": ActionItemForm(),
        "edit_note": edit_note,
        "edit_action": edit_action,
        "edit_note_form": _edit_form(ReviewNoteForm, notes, edit_note) if can_edit else None,
        "edit_action_form": _edit_form(ActionItemForm, actions, edit_action) if can_edit else None,
        "today": timezone.localdate(),
        "suggestions": _review_suggestions(request.user, month),
        "can_apply": can_edit and request.user.has_perm("scoring.edit_draft"),
    }
    return render(request, "reports/review.html", context)


# How many of the tuning's suggestions the review shows.
REVIEW_SUGGESTIONS = 3


def _tuning_period(month: dt.date) -> tuning.Period:
    """The six months of MQLs up to the end of the reviewed month."""
    last = selectors.add_months(month, 1) - dt.timedelta(days=1)
    return tuning.period_from_dates(selectors.add_months(month, -5), last)


def _all_suggestions(user: Any, month: dt.date) -> dict[str, Any] | None:
    live = scoring_services.ruleset_live()
    if live is None or not user.has_perm("scoring.view_rulesetversion"):
        return None
    found = tuning.suggestions(version=live, period=_tuning_period(month))
    for item in found["items"]:
        item["title_text"] = tuning.suggestion_title(item)
        item["backtest_text"] = tuning.backtest_line(item)
    return found


def _review_suggestions(user: Any, month: dt.date) -> dict[str, Any] | None:
    found = _all_suggestions(user, month)
    if found is not None:
        found["top"] = found["items"][:REVIEW_SUGGESTIONS]
    return found


@login_required
@view_dashboard
@require_POST
def suggestion_decide(request: HttpRequest, month: dt.date) -> HttpResponse:
    """Record the decision "apply suggestion N"; for a scoring editor it also moves the
    suggestion into the draft (which still needs both sign-offs)."""
    _check_month(month)
    if not request.user.has_perm("reports.edit_review"):
        raise PermissionDenied
    found = _all_suggestions(request.user, month) or {"items": []}
    number = _int(request.POST.get("number"))
    item = next((i for i in found["items"] if i["number"] == number), None)
    if item is None:
        messages.error(request, _("Suggestion: no such suggestion (the history moved?)."))
        return _back(month, "suggestions")
    text = _("Apply suggestion %(n)d: %(title)s Backtest: %(backtest)s") % {
        "n": number,
        "title": item["title_text"] + ".",
        "backtest": item["backtest_text"],
    }
    try:
        services.review_note_add(
            month=month, user=request.user, text=text, kind=ReviewNote.Kind.DECISION
        )
        if request.user.has_perm("scoring.edit_draft"):
            period = _tuning_period(month)
            label = f"{period.start.date().isoformat()}–{(month.replace(day=1)).isoformat()[:7]}"
            scoring_services.suggestions_apply(items=[item], period_label=label, user=request.user)
            messages.success(request, _("Recorded, and the change is in the scoring draft."))
        else:
            messages.success(request, _("Recorded."))
    except (ValidationError, PermissionDenied) as exc:
        _errors(request, exc)
    return _back(month, "decisions")


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _edit_form(form_class: type, rows: Any, pk: int | None) -> Any:
    if pk is None:
        return None
    instance = next((r for r in rows if r.pk == pk), None)
    return form_class(instance=instance) if instance else None


def _review_records(month: dt.date) -> tuple[Any, Any]:
    notes = ReviewNote.objects.filter(month=month).select_related("author")
    actions = ActionItem.objects.filter(month=month).select_related("owner", "done_by")
    return notes, actions


@login_required
@view_dashboard
def review_export(request: HttpRequest, month: dt.date) -> HttpResponse:
    _check_month(month)
    notes, actions = _review_records(month)
    rows = exports.review_csv_rows(selectors.review(month), notes, actions)
    return exports.csv_response(rows, f"handoff-review-{selectors.month_key(month)}.csv")


@login_required
@view_dashboard
def review_export_xlsx(request: HttpRequest, month: dt.date) -> HttpResponse:
    _check_month(month)
    notes, actions = _review_records(month)
    sheets = {
        _("Figures"): exports.review_rows(selectors.review(month)),
        _("Decisions"): exports.decision_rows(notes),
        _("Action items"): exports.action_rows(actions),
    }
    return exports.xlsx_response(sheets, f"handoff-review-{selectors.month_key(month)}.xlsx")


def _back(month: dt.date, anchor: str) -> HttpResponse:
    return redirect(reverse("reports:review", kwargs={"month": month}) + f"#{anchor}")


def _errors(request: HttpRequest, exc: ValidationError | PermissionDenied) -> None:
    if isinstance(exc, ValidationError):
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.error(request, str(exc) or _("You are not allowed to do that."))


def _form_errors(request: HttpRequest, form: Any) -> None:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        for error in errors:
            messages.error(request, f"{label}: {error}" if label else error)


@login_required
@view_dashboard
@require_POST
def note_save(request: HttpRequest, month: dt.date, note_id: int | None = None) -> HttpResponse:
    _check_month(month)
    note = get_object_or_404(ReviewNote, pk=note_id, month=month) if note_id else None
    form = ReviewNoteForm(request.POST, instance=note)
    if not form.is_valid():
        _form_errors(request, form)
        return _back(month, "decisions")
    try:
        if note is None:
            services.review_note_add(
                month=month,
                user=request.user,
                text=form.cleaned_data["text"],
                kind=form.cleaned_data["kind"],
            )
            messages.success(request, _("Recorded."))
        else:
            services.review_note_edit(
                note=note,
                user=request.user,
                text=form.cleaned_data["text"],
                kind=form.cleaned_data["kind"],
            )
            messages.success(request, _("Saved."))
    except (ValidationError, PermissionDenied) as exc:
        _errors(request, exc)
    return _back(month, "decisions")


@login_required
@view_dashboard
@require_POST
def action_save(request: HttpRequest, month: dt.date, action_id: int | None = None) -> HttpResponse:
    _check_month(month)
    item = get_object_or_404(ActionItem, pk=action_id, month=month) if action_id else None
    form = ActionItemForm(request.POST, instance=item)
    if not form.is_valid():
        _form_errors(request, form)
        return _back(month, "actions")
    fields = {k: form.cleaned_data[k] for k in ("what", "owner", "due_on")}
    try:
        if item is None:
            services.action_item_add(month=month, user=request.user, **fields)
            messages.success(request, _("Action item recorded."))
        else:
            services.action_item_edit(item=item, user=request.user, **fields)
            messages.success(request, _("Saved."))
    except (ValidationError, PermissionDenied) as exc:
        _errors(request, exc)
    return _back(month, "actions")


@login_required
@view_dashboard
@require_POST
def action_done(request: HttpRequest, month: dt.date, action_id: int) -> HttpResponse:
    item = get_object_or_404(ActionItem, pk=action_id, month=month)
    try:
        services.action_item_set_done(
            item=item, user=request.user, done=request.POST.get("done") != "0"
        )
    except PermissionDenied as exc:
        _errors(request, exc)
    return _back(month, "actions")
