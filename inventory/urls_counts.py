"""Page URLs of counts (included by inventory.urls)."""

from django.urls import path

from inventory.views import counts

urlpatterns = [
    path("locations/<str:code>/counts/", counts.count_list, name="count-list"),
    path("locations/<str:code>/counts/new/", counts.count_new, name="count-create"),
    path("counts/<int:pk>/", counts.count_detail, name="count-detail"),
    path("counts/<int:pk>/print/", counts.count_print, name="count-print"),
]
