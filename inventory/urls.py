"""Page URLs. Codes, never database ids, appear in paths; URL names are used by other apps.

``/scan`` and ``/s/<token>`` are short on purpose: the second is what every
shipment's QR code holds, and a shorter URL is a smaller, easier-to-read QR.
"""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from inventory.views import home, receive, scan, shipments, stock, stock_card

urlpatterns = [
    # Before the include so that a logged-in user who opens the login page goes home.
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", home.home, name="home"),
    path("locations/<str:code>/stock/", stock.location_stock, name="location-stock"),
    path("locations/<str:code>/stock-card/<str:product_code>/", stock_card.stock_card, name="stock-card"),
    path("shipments/", shipments.shipment_list, name="shipment-list"),
    path("shipments/new/", shipments.shipment_new, name="shipment-create"),
    path("shipments/<str:number>/", shipments.shipment_detail, name="shipment-detail"),
    path("shipments/<str:number>/dispatch/", shipments.shipment_dispatch_view, name="shipment-dispatch"),
    path("shipments/<str:number>/waybill/", shipments.shipment_waybill, name="shipment-waybill"),
    path("shipments/<str:number>/qr.svg", shipments.shipment_qr_svg, name="shipment-qr-svg"),
    path("shipments/<str:number>/qr.png", shipments.shipment_qr_png, name="shipment-qr-png"),
    path("scan", scan.scan, name="scan"),
    path("s/<str:token>", receive.receive, name="receive"),
    path("s/<str:token>/receipts/<uuid:client_uuid>", receive.receipt_detail, name="receipt-detail"),
    path("", include("inventory.urls_discrepancies")),
    path("", include("inventory.urls_counts")),
    path("", include("inventory.urls_dispensing")),
    path("", include("inventory.urls_activity")),
]
