from django.urls import path

from . import views

app_name = "notifications"
urlpatterns = [
    path("", views.notification_list, name="list"),
    path("read/", views.notifications_read_all, name="read_all"),
    path("status.json", views.notification_status, name="status"),
    path("<int:notification_id>/", views.notification_open, name="open"),
]
