"""API v1 URLs of dispensing, service figures, month close and disposal (included by inventory.api.urls).

The month in a path is ``YYYY-MM``; a path of that shape with an impossible month
(``2025-13``) reaches the view and is a 400 there, anything else is the API's 404.
"""

from django.urls import path, register_converter

from inventory.api import dispensing


class MonthConverter:
    """``YYYY-MM``, kept as text: the view turns it into the month's first day (or a 400)."""

    regex = r"[0-9]{4}-[0-9]{2}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value) -> str:
        return value if isinstance(value, str) else f"{value:%Y-%m}"


# Converter names are global: registered once, here; the page URLs import this module.
register_converter(MonthConverter, "alokon_month")

urlpatterns = [
    path("dispensing/", dispensing.DispensingList.as_view(), name="api-dispensing"),
    path(
        "service-figures/<api_location_code:code>/<alokon_month:month>/",
        dispensing.ServiceFigures.as_view(),
        name="api-service-figures",
    ),
    path(
        "service-figures/<api_location_code:code>/<alokon_month:month>/close/",
        dispensing.MonthCloseView.as_view(),
        name="api-month-close",
    ),
    path("disposals/", dispensing.Disposals.as_view(), name="api-disposals"),
]
