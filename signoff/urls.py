from django.urls import URLPattern, path

from . import views


def signoff_urls(agreement: views.Agreement) -> list[URLPattern]:
    """The draft's start / approve / publish addresses, mounted inside an agreement's urls."""
    kwargs = {"agreement": agreement}
    return [
        path("draft/start/", views.draft_start, kwargs, name="draft_start"),
        path("draft/approve/", views.draft_approve, kwargs, name="draft_approve"),
        path("draft/publish/", views.draft_publish, kwargs, name="draft_publish"),
        path("draft/request/", views.draft_request, kwargs, name="draft_request"),
    ]
