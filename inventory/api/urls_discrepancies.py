"""API v1 URLs of discrepancies (included by inventory.api.urls before its catch-all 404)."""

from django.urls import path

from inventory.api import discrepancies

urlpatterns = [
    path("discrepancies/", discrepancies.DiscrepancyList.as_view(), name="api-discrepancies"),
    path("discrepancies/<int:id>/", discrepancies.DiscrepancyDetail.as_view(), name="api-discrepancy"),
    path("discrepancies/<int:id>/resolve/", discrepancies.DiscrepancyResolve.as_view(), name="api-discrepancy-resolve"),
]
