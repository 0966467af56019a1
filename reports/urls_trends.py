"""Report pages: trends (consumption, CYP, distribution, MOBIYA) and the field worker's page."""

from django.urls import path

from reports import views_field, views_trends

urlpatterns = [
    path("consumption/", views_trends.consumption_report, name="report-consumption"),
    path("cyp/", views_trends.cyp_report, name="report-cyp"),
    path("distribution/", views_trends.distribution_report, name="report-distribution"),
    path("mobiya/", views_trends.mobiya_report_page, name="report-mobiya"),
    path("field/", views_field.field_page, name="report-field"),
]
