"""URL map: pages (inventory.urls), the REST API (inventory.api.urls), admin, language switch, /healthz."""

from django.contrib import admin
from django.urls import include, path

from alokon.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("inventory.api.urls")),
    path("reports/", include("reports.urls")),
    path("", include("reports.urls_alerts")),
    path("", include("inventory.urls")),
]
