"""Page URLs of discrepancies (included by inventory.urls)."""

from django.urls import path

from inventory.views import discrepancies

urlpatterns = [
    path("discrepancies/", discrepancies.discrepancy_list, name="discrepancy-list"),
    path("discrepancies/<int:pk>/", discrepancies.discrepancy_detail, name="discrepancy-detail"),
]
