from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _

from . import selectors
from .forms import LeadFilterForm, PreferencesForm
from .models import Lead, Profile


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
