import csv
import datetime as dt
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import content_disposition_header
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import importing, roles, selectors
from .filters import LeadFilter, LeadOrderingFilter, owner_choices, value_choices
from .forms import (
    ImportMappingForm,
    ImportUploadForm,
    PreferencesForm,
    mapping_choices,
    mapping_get,
)
from .models import SOURCE_LABELS, ImportJob, Lead, Profile, Stage, source_label


@functools.cache
def _lead_panels() -> tuple[Callable[[HttpRequest, Lead], dict[str, Any]], ...]:
    return tuple(import_string(path) for path in settings.LEAD_PAGE_PANELS)


def _get_lead_for_user(request: HttpRequest, lead_id: int) -> Lead:
    lead = selectors.lead_get_for_user(user=request.user, lead_id=lead_id)
    if lead is None:
        raise Http404(_("No such lead, or it is not yours to see."))
    return lead


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Where logging in lands: the page of the person's role (settings.HOME_BY_ROLE)."""
    roles = set(request.user.groups.values_list("name", flat=True))
    for role, target in settings.HOME_BY_ROLE:
        if role in roles:
            name, _sep, query = target.partition("?")
            return redirect(reverse(name) + (f"?{query}" if query else ""))
    return redirect("leads:list")


LIST_PAGE_SIZE = 50
# The page's columns: (sort parameter or "", heading). The API takes the same parameters.
LIST_COLUMNS = [
    ("name", gettext_lazy("Name")),
    ("company", gettext_lazy("Company")),
    ("stage", gettext_lazy("Stage")),
    ("score", gettext_lazy("Score")),
    ("source", gettext_lazy("Source")),
    ("owner", gettext_lazy("Owner")),
    ("created", gettext_lazy("Created")),
]
PAGE_DEFAULT_ORDERING = "-score"
# The filters always in view; the others fold away under "Score and dates".
MAIN_FILTERS = ("q", "stage", "owner", "source", "industry")
MORE_FILTERS = ("min_score", "max_score", "created_from", "created_to", "mql_from", "mql_to")


def _filtered_leads(request: HttpRequest) -> tuple[LeadFilter, QuerySet[Lead]]:
    filterset = selectors.lead_list(user=request.user, params=request.GET)
    if not filterset.is_valid():
        return filterset, Lead.objects.none()
    leads = filterset.qs
    if not filterset.form.cleaned_data.get("ordering"):
        leads = LeadOrderingFilter().filter(leads, [PAGE_DEFAULT_ORDERING])
    return filterset, leads


def _source_words(code: str) -> str:
    # Labels are keyed by the usual lower-case codes; "Webinar" is the same source.
    return source_label(code.lower() if code.lower() in SOURCE_LABELS else code)


def _sort_headers(request: HttpRequest, current: str) -> list[dict[str, Any]]:
    headers = []
    for param, label in LIST_COLUMNS:
        query = request.GET.copy()
        query.pop("page", None)
        active = current.lstrip("-") == param
        descending = current.startswith("-")
        # A first click sorts text A→Z and numbers and dates highest first.
        first = f"-{param}" if param in ("score", "created") else param
        if active:
            query["ordering"] = param if descending else f"-{param}"
        else:
            query["ordering"] = first
        headers.append(
            {
                "label": label,
                "param": param,
                "url": "?" + query.urlencode(),
                "sort": ("descending" if descending else "ascending") if active else "",
                "numeric": param == "score",
            }
        )
    return headers


@login_required
def lead_list(request: HttpRequest) -> HttpResponse:
    filterset, leads = _filtered_leads(request)
    form = filterset.form
    visible = selectors.leads_visible(user=request.user)
    # Choices from the values present, so nobody guesses how a source is spelled.
    form.fields["source"].widget = forms.Select(
        choices=value_choices(
            leads=visible, field="source", empty=_("All sources"), label=_source_words
        )
    )
    form.fields["industry"].widget = forms.Select(
        choices=value_choices(leads=visible, field="company__industry", empty=_("All industries"))
    )
    form.fields["owner"].widget = forms.Select(choices=owner_choices(leads=visible))
    page = Paginator(leads, LIST_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    ordering = (form.cleaned_data.get("ordering") or [""])[0] if filterset.is_valid() else ""
    user = request.user
    bulk = {"reassign": roles.may_bulk_reassign(user), "recycle": roles.may_bulk_recycle(user)}
    return render(
        request,
        "leads/lead_list.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            # Kept across a new filter: the sort, and what the API-style URL may carry.
            "kept_params": [
                (k, request.GET[k]) for k in ("ordering", "updated_since") if request.GET.get(k)
            ],
            "headers": _sort_headers(request, ordering or PAGE_DEFAULT_ORDERING),
            "main_filters": MAIN_FILTERS,
            "more_filters": MORE_FILTERS,
            "more_filters_used": any(request.GET.get(name) for name in MORE_FILTERS)
            or any(name in form.errors for name in MORE_FILTERS),
            "filtered": any(v for k, v in request.GET.items() if k not in ("page", "ordering")),
            "bulk": bulk if any(bulk.values()) else None,
            "reps": roles.team_reps(user) if bulk["reassign"] else [],
        },
    )


EXPORT_HEADER = [
    gettext_lazy("ID"),
    gettext_lazy("E-mail"),
    gettext_lazy("First name"),
    gettext_lazy("Last name"),
    gettext_lazy("Company"),
    gettext_lazy("Industry"),
    gettext_lazy("Stage"),
    gettext_lazy("Score"),
    gettext_lazy("Fit score"),
    gettext_lazy("Engagement score"),
    gettext_lazy("Source"),
    gettext_lazy("Owner"),
    gettext_lazy("Created"),
    gettext_lazy("Updated"),
]


class _Echo:
    def write(self, value: str) -> str:
        return value


@login_required
def lead_export(request: HttpRequest) -> HttpResponseBase:
    """The list as filtered and sorted on the page, every page of it, as CSV that Excel
    opens (UTF-8 with a byte-order mark); times in the user's zone."""
    filterset, leads = _filtered_leads(request)
    if not filterset.is_valid():
        return HttpResponse(
            "\n".join(f"{k}: {' '.join(v)}" for k, v in filterset.errors.items()),
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    stages = dict(Stage.choices)
    writer = csv.writer(_Echo())

    def when(value: dt.datetime | None) -> str:
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""

    def rows() -> Iterator[str]:
        yield "\ufeff" + writer.writerow([str(h) for h in EXPORT_HEADER])
        for lead in leads.iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    lead.pk,
                    lead.email,
                    lead.first_name,
                    lead.last_name,
                    lead.company.name if lead.company else "",
                    lead.company.industry if lead.company else "",
                    str(stages.get(lead.stage, lead.stage)),
                    round(lead.total_score),
                    lead.fit_score,
                    round(lead.engagement_score, 1),
                    lead.source,
                    (lead.owner.get_full_name() or lead.owner.get_username()) if lead.owner else "",
                    when(lead.created_at),
                    when(lead.updated_at),
                ]
            )

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="leads-{stamp}.csv"'
    return response


@login_required
def lead_detail(request: HttpRequest, lead_id: int) -> HttpResponse:
    lead = _get_lead_for_user(request, lead_id)
    return render(
        request,
        "leads/lead_detail.html",
        {
            "lead": lead,
            "activities": selectors.lead_timeline(lead=lead),
            "history": selectors.lead_history(lead=lead),
            "qualification": selectors.lead_qualification(lead=lead),
            # What higher apps add (settings.LEAD_PAGE_PANELS): the SLA's actions, hand-off,
            # assignments and contacts, and the score explanation.
            **{k: v for panel in _lead_panels() for k, v in panel(request, lead).items()},
        },
    )


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    profile, _created = Profile.objects.get_or_create(user=request.user)
    form = PreferencesForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        form.save()
        if profile.language:
            translation.activate(profile.language)
        messages.success(request, _("Your preferences are saved."))
        response = redirect("preferences")
        if profile.language:
            response.set_cookie("django_language", profile.language)
        return response
    return render(request, "leads/preferences.html", {"form": form})


@login_required
@permission_required("leads.import_leads", raise_exception=True)
def import_start(request: HttpRequest) -> HttpResponse:
    """Step 1 of the wizard: upload. The file is kept as a draft job until it is mapped."""
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        job = importing.import_upload(file=form.cleaned_data["file"], user=request.user)
        url = reverse("leads:import_map", args=[job.pk])
        if form.cleaned_data.get("saved"):
            url += "?" + urlencode({"saved": form.cleaned_data["saved"]})
        return redirect(url)
    jobs = ImportJob.objects.select_related("created_by").order_by("-created_at", "-id")[:10]
    return render(request, "leads/import_start.html", {"form": form, "jobs": jobs})


@login_required
@permission_required("leads.import_leads", raise_exception=True)
def import_map(request: HttpRequest, job_id: int) -> HttpResponse:
    """Step 2: the encoding, a preview of the first rows, a target for each column, the
    empty values, a name to keep the mapping under; then the import is queued."""
    job = get_object_or_404(ImportJob, pk=job_id)
    if job.status != ImportJob.Status.DRAFT:
        return redirect("leads:import_detail", job_id=job.pk)
    encoding = request.POST.get("encoding") or request.GET.get("encoding") or job.encoding
    if encoding not in importing.ENCODINGS:
        encoding = job.encoding
    problem = ""
    header: list[str] = []
    samples: list[list[str]] = []
    with job.file.open("rb") as binary:
        try:
            header, samples = importing.csv_preview(binary, encoding)
        except importing.ImportFailed as exc:
            problem = exc.message
    saved_choice = request.GET.get("saved") or ""
    saved = mapping_get(saved_choice) if saved_choice else None
    initial = ImportMappingForm.initial_for(header, saved, timezone.get_current_timezone_name())
    initial["encoding"] = encoding
    if saved_choice and saved is not None and not saved_choice.startswith("shipped:"):
        initial["save_as"] = saved_choice
    form = ImportMappingForm(
        request.POST if request.method == "POST" and not problem else None,
        header=header,
        samples=samples,
        initial=initial,
    )
    if request.method == "POST" and not problem and form.is_valid():
        mapping = form.cleaned_data["mapping"]
        queued = False
        with job.file.open("rb") as binary:
            try:
                importing.upload_check(
                    binary,
                    mapping,
                    full=job.file.size <= ImportMappingForm.FULL_CHECK_BYTES,
                    encoding=encoding,
                )
            except importing.ImportFailed as exc:
                form.add_error(None, exc.message)
            else:
                queued = importing.import_job_queue(
                    job=job,
                    mapping=form.cleaned_data["mapping_data"],
                    encoding=encoding,
                    user=request.user,
                    save_as=form.cleaned_data.get("save_as") or "",
                )
        if not form.errors:
            if queued:
                messages.success(request, _("The import runs in the background."))
            return redirect("leads:import_detail", job_id=job.pk)
    return render(
        request,
        "leads/import_map.html",
        {
            "job": job,
            "form": form,
            "rows": form.bound_rows(),
            "header": header,
            "samples": samples,
            "problem": problem,
            "encoding": encoding,
            "encodings": list(importing.ENCODINGS.items()),
            "detected": importing.ENCODINGS.get(job.encoding, job.encoding),
            "saved_choices": mapping_choices(),
            "saved_choice": saved_choice,
        },
    )


def _import_status(job: ImportJob) -> dict:
    percent = 0
    if job.status == ImportJob.Status.DONE:
        percent = 100
    elif job.total_rows:
        percent = min(100, job.processed_rows * 100 // job.total_rows)
    return {
        "status": job.status,
        "status_label": job.status_text,
        "finished": job.status in (ImportJob.Status.DONE, ImportJob.Status.FAILED),
        "total_rows": job.total_rows,
        "processed_rows": job.processed_rows,
        "created": job.created_count,
        "updated": job.updated_count,
        "rejected": job.rejected_count,
        "percent": percent,
    }


@login_required
@permission_required("leads.import_leads", raise_exception=True)
def import_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(ImportJob.objects.select_related("created_by"), pk=job_id)
    problems = list(job.problems.all()[:PROBLEMS_SHOWN])
    return render(
        request,
        "leads/import_detail.html",
        {
            "job": job,
            "status": _import_status(job),
            # Jobs from before problems were stored keep their first rejections in `errors`.
            "problems": problems or job.errors[:PROBLEMS_SHOWN],
            "shown_errors": len(problems or job.errors[:PROBLEMS_SHOWN]),
            "can_download": job.problems.exists(),
        },
    )


PROBLEMS_SHOWN = 100


@login_required
@permission_required("leads.import_leads", raise_exception=True)
def import_problems_csv(request: HttpRequest, job_id: int) -> HttpResponseBase:
    """Every rejected row with its line, column and reason beside the row as the file had
    it, in the file's own columns: fix the rows in Excel and import this file again."""
    job = get_object_or_404(ImportJob, pk=job_id)
    writer = csv.writer(_Echo())
    width = len(job.header)

    def rows() -> Iterator[str]:
        yield "\ufeff" + writer.writerow(
            [_("Import line"), _("Import column"), _("Import reason"), *job.header]
        )
        for problem in job.problems.order_by("line", "id").iterator(chunk_size=2000):
            cells = list(problem.cells)[:width] if width else list(problem.cells)
            reason = problem.reason
            if problem.row_imported:
                reason = _("Lead imported without this step: %(reason)s") % {"reason": reason}
            yield writer.writerow([problem.line, problem.column, reason, *cells])

    stem = Path(job.original_name).stem or "import"
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        content_disposition_header(as_attachment=True, filename=f"{stem}-rejected.csv") or ""
    )
    return response


@login_required
@permission_required("leads.import_leads", raise_exception=True)
def import_status(request: HttpRequest, job_id: int) -> JsonResponse:
    job = get_object_or_404(ImportJob, pk=job_id)
    return JsonResponse(_import_status(job))
