"""Report pages: the dashboard, the stock status and expiry reports, and exports."""

from django.urls import path

from reports import views_dashboard, views_exports, views_reports

urlpatterns = [
    path("", views_dashboard.dashboard, name="report-dashboard"),
    path("stock-status/", views_reports.stock_status_report, name="report-stock-status"),
    path("expiry/", views_reports.expiry_report, name="report-expiry"),
    path("exports/", views_exports.export_list, name="report-exports"),
    path("exports/new/<slug:key>/", views_exports.export_new, name="report-export"),
    path("exports/<int:pk>/download/", views_exports.export_download, name="report-export-download"),
]
