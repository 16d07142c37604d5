from django.urls import path

from signoff.urls import signoff_urls

from . import views

app_name = "scoring"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("versions/<int:number>/", views.version_detail, name="version"),
    path("compare/", views.compare, name="compare"),
    path("draft/preview/", views.preview, name="preview"),
    path("tuning/", views.tuning_page, name="tuning"),
    path("tuning/apply/", views.tuning_apply, name="tuning_apply"),
    *signoff_urls(views.AGREEMENT),
    path("draft/comment/", views.draft_comment, name="draft_comment"),
    path("draft/", views.draft_edit, name="draft_edit"),
    path("draft/counts/", views.draft_counts, name="draft_counts"),
    path("draft/test/", views.draft_test, name="draft_test"),
    path("draft/rules/new/", views.rule_add, name="rule_add"),
    path("draft/rules/<int:rule_id>/", views.rule_edit, name="rule_edit"),
    path("draft/rules/<int:rule_id>/delete/", views.rule_delete, name="rule_delete"),
    path("draft/rules/<int:rule_id>/duplicate/", views.rule_duplicate, name="rule_duplicate"),
    path("draft/rules/<int:rule_id>/move/", views.rule_move, name="rule_move"),
    path("runs/<int:run_id>/", views.run_detail, name="run"),
    path("runs/<int:run_id>/progress/", views.run_progress, name="run_progress"),
]
