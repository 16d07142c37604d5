from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core.auth import docs_login_required
from leads import views as lead_views

# Error pages in the app's layout (core.errors; with DEBUG on, its middleware shows them to
# everyone but staff).
handler400 = "core.errors.bad_request"
handler403 = "core.errors.permission_denied"
handler404 = "core.errors.page_not_found"
handler500 = "core.errors.server_error"

urlpatterns = [
    # Pages outside our base template (the admin, API docs) still get the icon.
    path("favicon.ico", lambda request: redirect(static("favicon.svg"), permanent=True)),
    path("", lead_views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("preferences/", lead_views.preferences, name="preferences"),
    path("leads/", include("leads.urls")),
    path("scoring/", include("scoring.urls")),
    path("", include("reports.urls")),
    path("sla/", include("sla.urls")),
    path("notifications/", include("notifications.urls")),
    # The short address reps bookmark.
    path(
        "queue/",
        RedirectView.as_view(pattern_name="sla:queue", query_string=True),
        name="queue",
    ),
    path("api/v1/", include("leads.api_urls")),
    path("api/v1/", include("scoring.api")),
    path("api/v1/", include("reports.api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its script as a file, as the Content-Security-Policy requires.
    path(
        "api/docs/",
        docs_login_required(SpectacularSwaggerSplitView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
]
