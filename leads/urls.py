from django.urls import path

from . import views

app_name = "leads"
urlpatterns = [
    path("", views.lead_list, name="list"),
    path("<int:lead_id>/", views.lead_detail, name="detail"),
]
