"""Page URLs of dispensing, service figures, month close and expired-stock disposal (included by inventory.urls)."""

from django.urls import path

import inventory.api.urls_dispensing  # noqa: F401 - registers the "alokon_month" converter (names are global)
from inventory.views import dispensing, service_figures

urlpatterns = [
    path("locations/<str:code>/dispensing/", dispensing.dispensing, name="dispensing"),
    path(
        "locations/<str:code>/service-figures/<alokon_month:month>/",
        service_figures.service_figures,
        name="service-figures",
    ),
    path("locations/<str:code>/months/", service_figures.month_close_view, name="month-close"),
    path("locations/<str:code>/expired/", dispensing.expired_disposal, name="expired-disposal"),
]
