"""Report pages (mounted at /reports/): each group of pages has its own URL module."""

from django.urls import include, path

from reports import views

urlpatterns = [
    path("reconciliation/", views.reconciliation_report, name="reconciliation-report"),
    path("", include("reports.urls_map")),
    path("", include("reports.urls_dashboard")),
    path("", include("reports.urls_trends")),
]
