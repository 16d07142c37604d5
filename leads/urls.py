from django.urls import path

from . import views

app_name = "leads"
urlpatterns = [
    path("", views.lead_list, name="list"),
    path("export.csv", views.lead_export, name="export"),
    path("<int:lead_id>/", views.lead_detail, name="detail"),
    path("import/", views.import_start, name="import"),
    path("import/<int:job_id>/", views.import_detail, name="import_detail"),
    path("import/<int:job_id>/map/", views.import_map, name="import_map"),
    path("import/<int:job_id>/status/", views.import_status, name="import_status"),
    path("import/<int:job_id>/rejected.csv", views.import_problems_csv, name="import_problems"),
]
