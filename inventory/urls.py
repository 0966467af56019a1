"""Page URLs. Codes, never database ids, appear in paths; URL names are used by other apps."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from inventory.views import home, stock, stock_card

urlpatterns = [
    # Before the include so that a logged-in user who opens the login page goes home.
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", home.home, name="home"),
    path("locations/<str:code>/stock/", stock.location_stock, name="location-stock"),
    path("locations/<str:code>/stock-card/<str:product_code>/", stock_card.stock_card, name="stock-card"),
]
