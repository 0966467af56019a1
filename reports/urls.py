"""Report pages (mounted at /reports/)."""

from django.urls import path

from reports import views

urlpatterns = [
    path("reconciliation/", views.reconciliation_report, name="reconciliation-report"),
]
