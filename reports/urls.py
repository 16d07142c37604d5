import datetime as dt

from django.urls import path, register_converter

from . import views


class MonthConverter:
    """yyyy-mm in the URL, the month's first day in the view."""

    regex = r"[0-9]{4}-[0-9]{2}"

    def to_python(self, value: str) -> dt.date:
        year, month = value.split("-")
        return dt.date(int(year), int(month), 1)  # ValueError (month 13) is a 404

    def to_url(self, value: dt.date | str) -> str:
        return value if isinstance(value, str) else f"{value:%Y-%m}"


register_converter(MonthConverter, "month")

app_name = "reports"
urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/export.csv", views.dashboard_export, name="dashboard_export"),
    path("review/", views.review_latest, name="review_latest"),
    path("review/<month:month>/", views.review, name="review"),
    path("review/<month:month>/export.csv", views.review_export, name="review_export"),
    path("review/<month:month>/export.xlsx", views.review_export_xlsx, name="review_export_xlsx"),
    path("review/<month:month>/notes/", views.note_save, name="note_add"),
    path(
        "review/<month:month>/suggestions/",
        views.suggestion_decide,
        name="suggestion_decide",
    ),
    path("review/<month:month>/notes/<int:note_id>/", views.note_save, name="note_edit"),
    path("review/<month:month>/actions/", views.action_save, name="action_add"),
    path("review/<month:month>/actions/<int:action_id>/", views.action_save, name="action_edit"),
    path(
        "review/<month:month>/actions/<int:action_id>/done/",
        views.action_done,
        name="action_done",
    ),
]
