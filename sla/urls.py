from django.urls import path

from signoff.urls import signoff_urls

from . import views

app_name = "sla"
urlpatterns = [
    path("", views.overview, name="overview"),
    *signoff_urls(views.AGREEMENT),
    path("draft/", views.draft_edit, name="draft_edit"),
    path("draft/closed-days/", views.closed_day_add, name="closed_day_add"),
    path(
        "draft/closed-days/<int:day_id>/delete/", views.closed_day_delete, name="closed_day_delete"
    ),
    path("queue/", views.queue, name="queue"),
    path("queue/live/", views.queue_live, name="queue_live"),
    path("queue/reassign/", views.bulk_reassign, name="bulk_reassign"),
    path("rejections/", views.rejections, name="rejections"),
    path("rejections/export.csv", views.rejections_export, name="rejections_export"),
    path("rejections/<int:event_id>/recycle/", views.rejection_recycle, name="rejection_recycle"),
    path("rejections/<int:event_id>/fix/", views.rejection_fix, name="rejection_fix"),
    path("leads/<int:lead_id>/accept/", views.lead_accept, name="lead_accept"),
    path("leads/<int:lead_id>/reject/", views.lead_reject, name="lead_reject"),
    path("leads/<int:lead_id>/contact/", views.lead_contact, name="lead_contact"),
    path("leads/<int:lead_id>/qualify/", views.lead_qualify, name="lead_qualify"),
    path("leads/<int:lead_id>/recycle/", views.lead_recycle, name="lead_recycle"),
    path("leads/<int:lead_id>/disqualify/", views.lead_disqualify, name="lead_disqualify"),
    path("leads/<int:lead_id>/reassign/", views.lead_reassign, name="lead_reassign"),
    path("leads/bulk/", views.leads_bulk, name="leads_bulk"),
]
