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
    *signoff_urls(views.AGREEMENT),
    path("draft/comment/", views.draft_comment, name="draft_comment"),
    path("runs/<int:run_id>/", views.run_detail, name="run"),
    path("runs/<int:run_id>/progress/", views.run_progress, name="run_progress"),
]
