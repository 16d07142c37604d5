import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from . import importing, selectors
from .forms import ImportForm, LeadFilterForm, PreferencesForm
from .models import ImportJob, Lead, Profile


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
    return redirect("leads:list")


@login_required
def lead_list(request: HttpRequest) -> HttpResponse:
    form = LeadFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    leads = selectors.lead_list(user=request.user, filters=filters).order_by("-total_score", "-id")
    page = Paginator(leads, 50).get_page(request.GET.get("page"))
    return render(request, "leads/lead_list.html", {"form": form, "page": page})


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
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        job = importing.import_job_create(
            file=form.cleaned_data["file"],
            mapping=form.cleaned_data["mapping_data"],
            user=request.user,
        )
        messages.success(request, _("The file is uploaded; the import runs in the background."))
        return redirect("leads:import_detail", job_id=job.pk)
    jobs = ImportJob.objects.select_related("created_by").order_by("-created_at", "-id")[:10]
    return render(request, "leads/import_start.html", {"form": form, "jobs": jobs})


def _import_status(job: ImportJob) -> dict:
    percent = 0
    if job.status == ImportJob.Status.DONE:
        percent = 100
    elif job.total_rows:
        percent = min(100, job.processed_rows * 100 // job.total_rows)
    return {
        "status": job.status,
        "status_label": job.get_status_display(),
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
    return render(
        request,
        "leads/import_detail.html",
        {"job": job, "status": _import_status(job), "shown_errors": len(job.errors)},
    )


@login_required
@permission_required("leads.import_leads", raise_exception=True)
def import_status(request: HttpRequest, job_id: int) -> JsonResponse:
    job = get_object_or_404(ImportJob, pk=job_id)
    return JsonResponse(_import_status(job))
