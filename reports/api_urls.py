"""API v1 URLs of alerts (included by inventory.api.urls before its catch-all 404)."""

from django.urls import path

from reports import api

urlpatterns = [
    path("alerts/", api.AlertList.as_view(), name="api-alerts"),
    path("alerts/<int:id>/", api.AlertDetail.as_view(), name="api-alert"),
    path("alerts/<int:id>/acknowledge/", api.AlertAcknowledge.as_view(), name="api-alert-acknowledge"),
]
