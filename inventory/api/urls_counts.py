"""API v1 URLs of counts (included by inventory.api.urls before its catch-all 404)."""

from django.urls import path

from inventory.api import counts

urlpatterns = [
    path("counts/", counts.CountList.as_view(), name="api-counts"),
    path("counts/<int:pk>/", counts.CountDetail.as_view(), name="api-count"),
    path("counts/<int:pk>/approve/", counts.CountApprove.as_view(), name="api-count-approve"),
    path("counts/<int:pk>/reject/", counts.CountReject.as_view(), name="api-count-reject"),
]
