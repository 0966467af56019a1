"""REST API v1 for scanner apps and scripts: codes, not database ids, in URLs and payloads.

Location codes hold dots and dashes (``72.71-001``), so detail URLs use a converter
that accepts the whole code alphabet. Anything else under ``/api/v1/`` is a JSON
404, so a client never has to parse the site's HTML error page.
"""

from django.urls import include, path, re_path, register_converter
from drf_spectacular.views import SpectacularAPIView
from rest_framework.authtoken.views import obtain_auth_token

from inventory.api import shipments, views


class LocationCodeConverter:
    """A location code: letters, digits, '.', '-' and '_' (see ``inventory.models.locations.CODE_RE``)."""

    regex = r"[0-9A-Za-z][0-9A-Za-z._-]*"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class ShipmentNumberConverter(LocationCodeConverter):
    """A shipment number, ``SBBK-<location code>-<year>-<sequence>``: the same alphabet as a location code."""


# A name of its own: converter names are global, and another app may register "code".
register_converter(LocationCodeConverter, "api_location_code")
register_converter(ShipmentNumberConverter, "api_shipment_number")

urlpatterns = [
    path("auth/token/", obtain_auth_token, name="api-token"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("locations/", views.LocationList.as_view(), name="api-locations"),
    path("locations/<api_location_code:code>/", views.LocationDetail.as_view(), name="api-location"),
    path("stock/", views.StockList.as_view(), name="api-stock"),
    path("stock-card/", views.StockCard.as_view(), name="api-stock-card"),
    path("shipments/", shipments.ShipmentList.as_view(), name="api-shipments"),
    path("shipments/<api_shipment_number:number>/", shipments.ShipmentDetail.as_view(), name="api-shipment"),
    path(
        "shipments/<api_shipment_number:number>/dispatch/",
        shipments.ShipmentDispatch.as_view(),
        name="api-shipment-dispatch",
    ),
    path(
        "shipments/<api_shipment_number:number>/receipts/",
        shipments.ShipmentReceipts.as_view(),
        name="api-shipment-receipts",
    ),
    path("shipments/<api_shipment_number:number>/qr.svg", shipments.ShipmentQrSvg.as_view(), name="api-shipment-qr"),
    path("scan/", shipments.Scan.as_view(), name="api-scan"),
    path("", include("reports.api_urls")),
    path("", include("inventory.api.urls_discrepancies")),
    path("", include("inventory.api.urls_counts")),
    path("", include("inventory.api.urls_dispensing")),
    # Last: only paths ending in "/" so that APPEND_SLASH still redirects "/api/v1/stock".
    re_path(r"^.*/$", views.NotFoundView.as_view(), name="api-not-found"),
]
