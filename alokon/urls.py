"""URL map: pages (inventory.urls), the REST API (inventory.api.urls), admin, language switch."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("inventory.api.urls")),
    path("reports/", include("reports.urls")),
    path("", include("reports.urls_alerts")),
    path("", include("inventory.urls")),
]
