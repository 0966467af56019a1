"""Alert pages, at short top-level paths (included at "" by alokon.urls, before inventory's pages)."""

from django.urls import path

from reports import views_alerts

urlpatterns = [
    path("alerts/", views_alerts.alert_list, name="alert-list"),
    path("alerts/<int:pk>/", views_alerts.alert_detail, name="alert-detail"),
    path("account/alerts/", views_alerts.alert_preferences, name="alert-preferences"),
]
